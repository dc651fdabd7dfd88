"""Live notes out: how far from its sound each /a2m/note arrives, on the audio clock.

    .venv/bin/python benchmarks/bench_notes_out.py [--clips 4]

Starter clips (example paintings, comments) play on a null output device that pulls blocks
in real time (``a2m_app.null_device``); each note goes out as OSC to a listener on
loopback. A note's sound time is when the null device took its first sample; its arrival is
when the listener read it. Target: every note within 20 ms; for scale, the line also
prints one audio block's length (256 frames), the step in which a device takes sound.
"""
from __future__ import annotations

import argparse
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PAINTINGS = sorted((REPO / "examples").glob("*.jpg"))
COMMENTS = ("the swirling sky feels alive", "a quiet grey morning by the water",
            "the dancers whirl and laugh", "a lonely road under a heavy sky")


def listen(sock: socket.socket, got: list, stop: threading.Event) -> None:
    from pythonosc.osc_message import OscMessage

    sock.settimeout(0.1)
    while not stop.is_set():
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        if OscMessage(data).address == "/a2m/note":
            got.append(time.monotonic())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=4)
    args = ap.parse_args()
    from a2m_app.notes_out import AudioClock, NoteTicker, OscNotes, timed_notes
    from a2m_app.null_device import NullStream
    from a2m_app.playback import Player
    from a2m_core import Art2Music

    engine = Art2Music.load()
    errors, clips = [], 0
    for k in range(args.clips):
        clip = engine.generate(PAINTINGS[k % len(PAINTINGS)], COMMENTS[k % len(COMMENTS)],
                               seed=k)
        notes = timed_notes(clip)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        got: list[float] = []
        stop = threading.Event()
        thread = threading.Thread(target=listen, args=(sock, got, stop), daemon=True)
        thread.start()
        streams: list[NullStream] = []

        def device(streams: list[NullStream] = streams, **kw) -> NullStream:
            streams.append(NullStream(**kw))
            return streams[-1]

        player = Player(stream_factory=device)
        player.ticker = NoteTicker(AudioClock(),
                                   [OscNotes("127.0.0.1", sock.getsockname()[1])])
        player.play(clip.audio, clip.sample_rate)
        player.follow_notes(notes, clip.duration_s)
        player.wait(timeout=clip.duration_s + 5)
        time.sleep(0.2)
        player.stop()
        player.ticker.close()
        stop.set()
        thread.join()
        sock.close()
        stream = streams[-1]
        if len(got) != len(notes):
            print(f"clip {k}: {len(got)} notes arrived of {len(notes)}", file=sys.stderr)
        for arrived, note in zip(got, notes):
            errors.append(arrived - stream.heard_at(round(note.start * stream.samplerate)))
        clips += 1
    ms = np.abs(np.array(errors)) * 1000
    print(f"{len(errors)} notes in {clips} starter clips: arrival minus sound time median "
          f"{statistics.median(ms):.1f} ms, 99th percentile {np.percentile(ms, 99):.1f} ms, "
          f"largest {ms.max():.1f} ms (target <= 20 ms); {int((ms <= 20).sum())} of "
          f"{len(ms)} within 20 ms; one device block is "
          f"{256 / clip.sample_rate * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
