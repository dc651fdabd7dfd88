"""An output device that plays nothing, in real time: the audio clock without a sound card.

``NullStream`` stands where ``sounddevice.OutputStream`` does (the same constructor and
``start`` / ``stop`` / ``close``): a thread calls the callback for a block of ``blocksize``
frames every ``blocksize / samplerate`` seconds, as a device's driver would, and keeps
``pulls``: when each block was taken and which sample of the stream it began at. Tests and
benchmarks measure against it what a listener would hear and when (live notes out).
"""
from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np


class NullStream:
    def __init__(self, samplerate: int, channels: int = 1, dtype: str = "float32",
                 device: Any = None, callback: Any = None, blocksize: int = 256) -> None:
        self.samplerate, self.channels, self.callback = int(samplerate), channels, callback
        self.blocksize = blocksize
        self.pulls: list[tuple[float, int]] = []  # (monotonic time, first frame of the block)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="null-device", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        out = np.zeros((self.blocksize, self.channels), np.float32)
        period = self.blocksize / self.samplerate
        started, frame = time.monotonic(), 0
        while not self._stop.is_set():
            due = started + frame / self.samplerate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self.pulls.append((time.monotonic(), frame))
            self.callback(out, self.blocksize, None, None)
            frame += self.blocksize
            if self._stop.wait(max(0.0, period / 4)):
                break

    def heard_at(self, frame: int) -> float | None:
        """When ``frame`` went to the (null) device: its block's time, plus its place in it."""
        for at, first in reversed(self.pulls):
            if first <= frame < first + self.blocksize:
                return at + (frame - first) / self.samplerate
        return None

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)

    def close(self) -> None:
        self.stop()
