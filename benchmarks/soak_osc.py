"""Soak the OSC bridge on loopback: 1,000 malformed packets, then a burst of 100 requests.

Prints the replies each request id got (every one must get exactly one final reply), whether
the bridge still answers, and the process's resident memory before and after.

    python benchmarks/soak_osc.py [--bundle B] [--malformed 1000] [--burst 100]

Without --bundle it uses a tiny untrained Griffin-Lim bundle (the transport is measured, not
the music); the bridge runs in this process, so RSS covers the engine too.
"""
from __future__ import annotations

import argparse
import collections
import random
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", help="bundle (default: a tiny Griffin-Lim debug bundle)")
    ap.add_argument("--malformed", type=int, default=1000)
    ap.add_argument("--burst", type=int, default=100)
    ap.add_argument("--queue-depth", type=int, default=8)
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
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    data, _ = sock.recvfrom(65536)
                except TimeoutError:
                    return
                msg = OscMessage(data)
                replies.append((msg.address, list(msg.params)))

        rng = random.Random(0)
        t0 = time.perf_counter()
        for i in range(args.malformed):
            sock.sendto(malformed(rng, str(painting)), bridge.address)
            if i % 50 == 49:
                drain(0.01)
        drain(1.0)
        malformed_s = time.perf_counter() - t0
        malformed_replies = len(replies)

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
        after = rss_mb()
        bridge.stop(timeout=30)
        sock.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    per_id = collections.Counter(finals[r] for r in ids)
    print(f"malformed packets      {args.malformed} in {malformed_s:.1f} s -> "
          f"{malformed_replies} replies (rate-limited; none to the bridge itself: "
          f"{bridge.sent[bridge.address]})")
    print(f"burst                  {args.burst} requests in {burst_s:.1f} s (queue depth "
          f"{args.queue_depth})")
    print("final replies per id   " + ", ".join(f"{n} reply: {c} ids"
                                             for n, c in sorted(per_id.items())))
    print(f"all exactly one        {'yes' if set(per_id) == {1} else 'NO'}")
    print(f"server alive after     {'yes' if alive else 'NO'}")
    print(f"RSS                    {before:.0f} MB before, {after:.0f} MB after "
          f"({after - before:+.0f} MB)")
    return 0 if set(per_id) == {1} and alive else 1


if __name__ == "__main__":
    sys.exit(main())
