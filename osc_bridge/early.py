"""The bridge's first seconds: it answers and obeys signals from the bind on.

``a2m-osc serve`` binds its socket before the heavy imports (``launch.py``), and importing
torch and the engine takes seconds. Meanwhile this stage, standard library only, keeps the
socket alive: ``/a2m/status`` is answered at once with the state ``starting``; everything
else is held, in order, and handed to the bridge, which serves it as if it had just
arrived. SIGTERM or SIGINT in those seconds ends the process cleanly: each held request
that expects a final reply gets ``/a2m/error`` (code 5, "server shutting down"), a line is
logged, and the process exits 0 without waiting for the imports.
"""
from __future__ import annotations

import os
import signal
import socket
import struct
import sys
import threading
import time
from typing import Any

STATUS = "/a2m/status"
ERROR = "/a2m/error"
CANCELLED = 5  # protocol.ErrorCode.CANCELLED (that module is not imported this early)
FINAL_EXPECTED = ("/a2m/generate", "/a2m/loop", "/a2m/stream/next")
MAX_HELD = 10_000  # datagrams kept for the bridge; beyond, the oldest way a flood is shed

Address = tuple[str, int]


def _pad(raw: bytes) -> bytes:
    raw += b"\0"
    return raw + b"\0" * (-len(raw) % 4)


def osc_message(address: str, *args: Any) -> bytes:
    """One OSC message of strings, ints and floats (what the early replies need)."""
    tags, body = ",", b""
    for a in args:
        if isinstance(a, str):
            tags, body = tags + "s", body + _pad(a.encode("utf-8"))
        elif isinstance(a, int):
            tags, body = tags + "i", body + struct.pack(">i", a)
        else:
            tags, body = tags + "f", body + struct.pack(">f", float(a))
    return _pad(address.encode("ascii")) + _pad(tags.encode("ascii")) + body


def _string_at(data: bytes, pos: int) -> tuple[str, int]:
    end = data.index(b"\0", pos)
    return data[pos:end].decode("utf-8"), (end + 4) & ~3


def read_head(data: bytes) -> tuple[str, str, str]:
    """(address, type tags, request id) of a datagram, read leniently; "" where unknown.
    A number sent as the id comes back as its string, as the bridge answers it."""
    try:
        address, pos = _string_at(data, 0)
        if pos >= len(data):
            return address, "", ""
        tags, pos = _string_at(data, pos)
        rid = ""
        if tags.startswith(",s"):
            rid, _ = _string_at(data, pos)
        elif tags.startswith(",i"):
            rid = str(struct.unpack(">i", data[pos:pos + 4])[0])
        return address, tags, rid[:128]
    except (ValueError, UnicodeDecodeError, struct.error):
        return "", "", ""


class EarlyStage:
    """Answers status and holds requests on ``sock`` until :meth:`handover`."""

    def __init__(self, sock: socket.socket, reply_port: int = 9001,
                 reply_to_source_port: bool = False) -> None:
        self.sock, self.reply_port = sock, reply_port
        self.reply_to_source_port = reply_to_source_port
        self.started = time.monotonic()
        self.held: list[tuple[bytes, Address]] = []
        self.stopping = threading.Event()  # a stop signal arrived (also after the handover)
        self._lock = threading.Lock()
        self._handed = False
        self._quit = threading.Event()
        self._thread = threading.Thread(target=self._run, name="a2m-osc-early", daemon=True)
        self._thread.start()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    def reply_address(self, client: Address) -> Address:
        return client[0], client[1] if self.reply_to_source_port else self.reply_port

    def _send(self, client: Address, message: bytes) -> None:
        try:
            self.sock.sendto(message, self.reply_address(client))
        except OSError:
            pass  # an unreachable host must not stop the others' replies

    def _run(self) -> None:
        self.sock.settimeout(0.05)
        while not self._quit.is_set():
            try:
                data, client = self.sock.recvfrom(65536)
            except (TimeoutError, BlockingIOError):
                continue
            except OSError:
                return
            address, tags, _ = read_head(data)
            if address == STATUS and tags in ("", ","):
                with self._lock:
                    queued = len(self.held)
                self._send(client[:2], osc_message(STATUS, "", "", queued, 0, "starting"))
                continue
            with self._lock:
                if len(self.held) >= MAX_HELD:
                    self.held.pop(0)
                self.held.append((data, client[:2]))

    def handover(self) -> list[tuple[bytes, Address]]:
        """Stop answering; the held datagrams, oldest first, for the bridge to serve."""
        self._quit.set()
        self._thread.join(timeout=2.0)
        with self._lock:
            self._handed = True
            held, self.held = self.held, []
        self.sock.settimeout(None)
        return held

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stopping.set()
        with self._lock:
            if self._handed:
                return  # the bridge owns the shutdown now; it watches ``stopping``
            self._handed = True
            held = list(self.held)
        self._quit.set()
        answered = 0
        for data, client in held:
            address, _, rid = read_head(data)
            if address in FINAL_EXPECTED:
                self._send(client, osc_message(ERROR, rid, "server shutting down",
                                               CANCELLED))
                answered += 1
        print(f"a2m-osc: {signal.Signals(signum).name} while starting "
              f"({time.monotonic() - self.started:.1f} s after the bind): {answered} "
              f"queued request(s) answered, stopping", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(0)  # the imports under way need not finish: nothing is left to do
