"""Soak the OSC bridge on loopback: 1,000 malformed packets, a burst of 100 requests, then
the live soundscape with scenes and generates queued when SIGTERM arrives, then
``a2m-osc serve`` stopped by SIGTERM 0.5, 1 and 2 s after its launch.

Prints the replies each request id got (every one must get exactly one final reply), whether
the bridge still answers, how long the SIGTERM stop took, and the process's resident memory
before and after; the datagrams the kernel dropped during the flood (``RcvbufErrors`` of
``/proc/net/snmp``); for each early SIGTERM, the exit code, the seconds from the signal to
the exit and the final replies of a generate sent at the launch.

    python benchmarks/soak_osc.py [--bundle B] [--malformed 1000] [--burst 100] [--scenes 12]

The soundscape plays on a null device that takes audio at real time at 44.1 kHz (no sound
card needed; the clips are resampled to it as for JACK). SIGTERM is a real signal to this
process, whose handler does what ``a2m-osc serve``'s does: ``bridge.stop()``.

Without --bundle it uses a tiny untrained Griffin-Lim bundle (the transport is measured, not
the music); the bridge runs in this process, so RSS covers the engine too.
"""
from __future__ import annotations

import argparse
import collections
import os
import random
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from a2m_core import Art2Music  # noqa: E402
from a2m_core.debug import build_debug_bundle  # noqa: E402
from osc_bridge import Bridge, BridgeConfig  # noqa: E402

FINAL = ("/a2m/done", "/a2m/error")


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def packet(address: str, *args) -> bytes:
    b = OscMessageBuilder(address=address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def malformed(rng: random.Random, image: str) -> bytes:
    """One of the ways a packet goes wrong on a gallery network."""
    kind = rng.randrange(8)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    if kind == 1:
        return packet("/a2m/generate", "x", image, "c")[: rng.randrange(1, 30)]
    if kind == 2:
        return packet("/a2m/generate", "bad-utf8", image, "c").replace(b"c\x00\x00\x00",
                                                                      b"\xff\xfe\x00\x00")
    if kind == 3:
        return packet("/a2m/generate", 3.5, image)
    if kind == 4:
        return packet("/a2m/dance", 1, 2.0)
    if kind == 5:
        return packet("/a2m/generate", "long", "/" + "n" * 4000, "c")
    if kind == 6:
        return packet("/a2m/reply_to", "10.9.9.9", 9001)
    return packet("/a2m/error", "x", "a reply sent to the bridge", 1)


def receive(sock: socket.socket, replies: list[tuple[str, list]], seconds: float) -> None:
    """Collect the replies that arrive within ``seconds`` (address, arguments)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data, _ = sock.recvfrom(65536)
        except (TimeoutError, OSError):
            return
        msg = OscMessage(data)
        replies.append((msg.address, list(msg.params)))


class NullDevice:
    """An output stream with no card behind it: a thread takes blocks from the callback at
    real time, at 44.1 kHz, and counts the samples that were not finite."""

    RATE, BLOCK = 44100, 1024

    def __init__(self, samplerate, channels, dtype, device, callback) -> None:
        self.samplerate, self.callback = samplerate, callback
        self.stopped = threading.Event()
        self.blocks = self.bad_samples = 0

    @staticmethod
    def default_samplerate(device) -> float:
        return float(NullDevice.RATE)

    @staticmethod
    def device_name(device) -> str:
        return "null (44.1 kHz)"

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        out = np.zeros((self.BLOCK, 1), np.float32)
        period = self.BLOCK / self.samplerate
        while not self.stopped.wait(period):
            out[:] = np.nan
            self.callback(out, self.BLOCK, None, None)
            self.blocks += 1
            self.bad_samples += int((~np.isfinite(out)).sum())

    def stop(self) -> None:
        self.stopped.set()

    def close(self) -> None:
        self.stopped.set()


def stream_and_sigterm(engine: Art2Music, gallery: Path, painting: Path, work: Path,
                       scenes: int, requests: int) -> dict:
    """The soundscape with ``scenes`` scenes and ``requests`` generates sent at once, then a
    real SIGTERM 3 s later; every id must get exactly one final reply."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    devices: list[NullDevice] = []

    def device(**kwargs) -> NullDevice:
        devices.append(NullDevice(**kwargs))
        return devices[-1]

    device.default_samplerate = NullDevice.default_samplerate  # type: ignore[attr-defined]
    device.device_name = NullDevice.device_name  # type: ignore[attr-defined]
    bridge = Bridge(engine, BridgeConfig(port=0, reply_port=sock.getsockname()[1],
                                         allow=(gallery,), out_dir=work / "stream-clips"),
                    stream_factory=device).start()
    stopped: dict[str, float] = {}

    def on_sigterm(signum, frame) -> None:  # what a2m-osc serve's handler comes to
        t = time.perf_counter()
        bridge.stop()
        stopped["s"] = time.perf_counter() - t

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    replies: list[tuple[str, list]] = []

    def drain(seconds: float) -> None:
        receive(sock, replies, seconds)

    sock.sendto(packet("/a2m/stream/start"), bridge.address)
    drain(1.0)
    ids = []
    for i in range(max(scenes, requests)):
        if i < scenes:
            ids.append(f"scene-{i:02d}")
            sock.sendto(packet("/a2m/stream/next", ids[-1], str(painting),
                               f"scene {i}: the night sky turns", i), bridge.address)
        if i < requests:
            ids.append(f"gen-{i:02d}")
            sock.sendto(packet("/a2m/generate", ids[-1], str(painting), "a wide calm sea", i),
                        bridge.address)
    drain(3.0)
    os.kill(os.getpid(), signal.SIGTERM)
    drain(3.0)
    signal.signal(signal.SIGTERM, previous)
    sock.close()
    finals = collections.Counter(a[0] for addr, a in replies if addr in FINAL and a)
    outcome = collections.Counter(
        ("done" if addr == "/a2m/done" else f"error {a[2]}") for addr, a in replies
        if addr in FINAL and a and a[0] in ids)
    return {"ids": len(ids), "per_id": collections.Counter(finals[r] for r in ids),
            "outcome": dict(outcome), "stop_s": stopped.get("s", float("nan")),
            "played_s": sum(d.blocks for d in devices) * NullDevice.BLOCK / NullDevice.RATE,
            "bad_samples": sum(d.bad_samples for d in devices)}


def udp_receive_errors() -> int | None:
    """The kernel's count of UDP datagrams dropped for a full receive buffer (Linux)."""
    try:
        lines = [ln.split() for ln in Path("/proc/net/snmp").read_text().splitlines()
                 if ln.startswith("Udp:")]
        return int(dict(zip(lines[0][1:], lines[1][1:]))["RcvbufErrors"])
    except (OSError, KeyError, IndexError, ValueError):
        return None


def sigterm_at_launch(bundle: Path, gallery: Path, painting: Path, work: Path,
                      delay_s: float) -> dict:
    """``a2m-osc serve`` as a gallery PC starts it: a status and a generate sent at the
    launch, SIGTERM ``delay_s`` later. Exit code, seconds from the signal to the exit, the
    seconds to the first status reply, and the generate's final replies."""
    import subprocess

    port = _free_port()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    launched = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "osc_bridge.launch", "serve", "--port", str(port),
         "--reply-port", str(sock.getsockname()[1]), "--bundle", str(bundle), "--allow",
         str(gallery), "--out", str(work / f"clips-{delay_s}"), "--device", "cpu"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    replies: list[tuple[str, list]] = []
    first_status = None
    while time.monotonic() - launched < delay_s:
        if first_status is None:
            sock.sendto(packet("/a2m/status"), ("127.0.0.1", port))
        receive(sock, replies, 0.02)
        if first_status is None and any(a == "/a2m/status" for a, _ in replies):
            first_status = time.monotonic() - launched
            sock.sendto(packet("/a2m/generate", "launch-1", str(painting), "dawn"),
                        ("127.0.0.1", port))
    proc.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    try:
        code = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = None
    exit_s = time.monotonic() - signalled
    receive(sock, replies, 1.0)
    sock.close()
    finals = [a for addr, a in replies if addr in FINAL and a[:1] == ["launch-1"]]
    return {"delay_s": delay_s, "code": code, "exit_s": exit_s, "status_s": first_status,
            "finals": len(finals), "last_line": (proc.stderr.read().strip().splitlines()
                                                 or [""])[-1]}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", help="bundle (default: a tiny Griffin-Lim debug bundle)")
    ap.add_argument("--malformed", type=int, default=1000)
    ap.add_argument("--burst", type=int, default=100)
    ap.add_argument("--queue-depth", type=int, default=8)
    ap.add_argument("--scenes", type=int, default=12, help="stream scenes before SIGTERM")
    ap.add_argument("--requests", type=int, default=6, help="generates before SIGTERM")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="a2m-soak-"))
    try:
        bundle = args.bundle or build_debug_bundle(work / "tiny.safetensors", seed=0,
                                                   vocoder="griffin-lim")
        engine = Art2Music.load(bundle, device="cpu")
        gallery = work / "gallery"
        gallery.mkdir()
        painting = gallery / "starry.jpg"
        shutil.copy(REPO / "examples" / "vincent-van-gogh_the-starry-night-1889.jpg", painting)

        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        bridge = Bridge(engine, BridgeConfig(port=0, reply_port=sock.getsockname()[1],
                                             allow=(gallery,), out_dir=work / "clips",
                                             queue_depth=args.queue_depth, keep_clips=20)
                        ).start()
        engine.generate(painting, "warm-up", seed=0)  # first-call costs out of the figures
        before = rss_mb()
        replies: list[tuple[str, list]] = []

        def drain(seconds: float) -> None:
            receive(sock, replies, seconds)

        rng = random.Random(0)
        dropped_before = udp_receive_errors()
        t0 = time.perf_counter()
        for i in range(args.malformed):
            sock.sendto(malformed(rng, str(painting)), bridge.address)
            if i % 50 == 49:
                drain(0.01)
        drain(1.0)
        malformed_s = time.perf_counter() - t0
        malformed_replies = len(replies)
        dropped_after = udp_receive_errors()
        dropped = (None if dropped_before is None or dropped_after is None
                   else dropped_after - dropped_before)

        ids = [f"soak-{i:03d}" for i in range(args.burst)]
        t0 = time.perf_counter()
        for rid in ids:
            sock.sendto(packet("/a2m/generate", rid, str(painting), "a burst of joy", 1),
                        bridge.address)
        finals: collections.Counter[str] = collections.Counter()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and any(finals[r] == 0 for r in ids):
            drain(0.5)
            finals = collections.Counter(a[0] for addr, a in replies
                                         if addr in FINAL and a and a[0] in ids)
        drain(1.0)  # any duplicate would arrive by now
        finals = collections.Counter(a[0] for addr, a in replies
                                     if addr in FINAL and a and a[0] in ids)
        burst_s = time.perf_counter() - t0
        sock.sendto(packet("/a2m/status"), bridge.address)
        replies.clear()
        drain(5.0)
        alive = any(addr == "/a2m/status" for addr, _ in replies)
        bridge.stop(timeout=30)
        sock.close()
        stream = stream_and_sigterm(engine, gallery, painting, work, args.scenes,
                                    args.requests)
        after = rss_mb()
        launches = [sigterm_at_launch(Path(bundle), gallery, painting, work, d)
                    for d in (0.5, 1.0, 2.0)]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    per_id = collections.Counter(finals[r] for r in ids)
    print(f"malformed packets      {args.malformed} in {malformed_s:.1f} s -> "
          f"{malformed_replies} replies (rate-limited; none to the bridge itself: "
          f"{bridge.sent[bridge.address]}); the kernel dropped "
          f"{'?' if dropped is None else dropped} datagrams (receive buffer "
          f"{bridge.receive_buffer >> 10} KB)")
    print(f"burst                  {args.burst} requests in {burst_s:.1f} s (queue depth "
          f"{args.queue_depth})")
    print("final replies per id   " + ", ".join(f"{n} reply: {c} ids"
                                             for n, c in sorted(per_id.items())))
    print(f"server alive after     {'yes' if alive else 'NO'}")
    outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(stream["outcome"].items()))
    print(f"stream + SIGTERM       {args.scenes} scenes and {args.requests} generates "
          f"({stream['ids']} ids): {outcomes}")
    print("  final replies per id " + ", ".join(
        f"{n} reply: {c} ids" for n, c in sorted(stream["per_id"].items())))
    print(f"  stop after SIGTERM   {stream['stop_s']:.2f} s; the null device played "
          f"{stream['played_s']:.1f} s at 44.1 kHz, {stream['bad_samples']} non-finite "
          f"samples")
    print(f"all exactly one        "
          f"{'yes' if set(per_id) == {1} and set(stream['per_id']) == {1} else 'NO'}")
    print(f"RSS                    {before:.0f} MB before, {after:.0f} MB after "
          f"({after - before:+.0f} MB)")
    for r in launches:
        status = "none" if r["status_s"] is None else f"{r['status_s']:.2f} s"
        print(f"SIGTERM {r['delay_s']:.1f} s in       exit {r['code']} after {r['exit_s']:.2f} s; "
              f"first status {status}; the launch generate got {r['finals']} final "
              f"reply; {r['last_line'][:90]}")
    launches_ok = all(r["code"] == 0 and r["finals"] == 1 and r["exit_s"] < 1.0
                      for r in launches)
    return 0 if (set(per_id) == {1} and set(stream["per_id"]) == {1} and alive
                 and launches_ok) else 1


if __name__ == "__main__":
    sys.exit(main())
