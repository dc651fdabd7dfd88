"""Who may be answered and how often: the per-destination rate limit, and whether an
address is this machine's own (a reply there could loop back into the bridge)."""
from __future__ import annotations

import socket
import threading
import time

Address = tuple[str, int]


class RateLimit:
    """A token bucket per destination: a flood of bad packets (or a reply loop someone set
    up) costs at most ``rate`` replies a second to any one address."""

    def __init__(self, rate: float) -> None:
        self.rate, self.burst = rate, 2 * rate
        self._buckets: dict[Address, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self.dropped = 0

    def allow(self, dest: Address) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(dest, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if len(self._buckets) > 10_000:  # spoofed sources must not grow this forever
                self._buckets.clear()
            if tokens < 1.0:
                self._buckets[dest] = (tokens, now)
                self.dropped += 1
                return False
            self._buckets[dest] = (tokens - 1.0, now)
            return True


def local_hosts() -> frozenset[str]:
    """This machine's own addresses (loopback and its interfaces' names resolve to these)."""
    hosts = {"127.0.0.1", "::1", "localhost", "0.0.0.0", "::"}
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            hosts.add(info[4][0])
    except OSError:
        pass
    return frozenset(hosts)


def is_local(host: str, local: frozenset[str]) -> bool:
    if host in local or host.startswith("127."):
        return True
    try:
        return any(info[4][0] in local or info[4][0].startswith("127.")
                   for info in socket.getaddrinfo(host, None))
    except OSError:
        return False


def is_loopback(host: str) -> bool:
    try:
        return all(info[4][0].startswith("127.") or info[4][0] == "::1"
                   for info in socket.getaddrinfo(host, None))
    except socket.gaierror:
        return False
