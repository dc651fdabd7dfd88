"""Clip playback through sounddevice, testable without a sound card: one player for the
desktop app and ``a2m generate --play``, both of which start on the first streamed chunk.

The stream callback only copies samples (and applies the volume): it never allocates, logs,
touches Qt or stops its own stream. When a non-looping clip runs out it writes silence and
raises a flag; the GUI's timer sees the flag and stops the stream. Streams come from a
factory so tests can drive the callback with a fake stream.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from .live import close_stream, sounddevice_stream

log = logging.getLogger(__name__)


class Stream(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...


StreamFactory = Callable[..., Stream]


class Player:
    """Plays one mono clip at a time; position, loop and volume are read by the callback."""

    def __init__(self, stream_factory: StreamFactory | None = None) -> None:
        self._factory = stream_factory or sounddevice_stream
        self._audio = np.zeros(0, np.float32)
        self._pos = 0
        self._stream: Stream | None = None
        self.sample_rate = 22050
        self.loop = False
        self.volume = 1.0
        self.device: int | None = None
        self.reached_end = False
        # Samples ready to play; below len(self._audio) while a clip is still streaming in
        # (the callback plays silence at the edge rather than running past it).
        self._available = 0

    # -- control (GUI thread) --------------------------------------------------------
    def play(self, audio: np.ndarray, sample_rate: int) -> None:
        self._start(np.ascontiguousarray(audio, dtype=np.float32), len(audio), sample_rate)

    def play_stream(self, total: int, sample_rate: int) -> None:
        """Start playing a clip of ``total`` samples that arrives through :meth:`feed`."""
        self._start(np.zeros(total, np.float32), 0, sample_rate)

    def feed(self, start: int, chunk: np.ndarray) -> None:
        """Add streamed samples (in order); the callback may play them from now on."""
        end = min(len(self._audio), start + len(chunk))
        self._audio[start:end] = chunk[: end - start]
        self._available = max(self._available, end)

    @property
    def streaming(self) -> bool:
        return self._available < len(self._audio)

    def _start(self, audio: np.ndarray, available: int, sample_rate: int) -> None:
        self.stop()
        self._audio = audio
        self._available = available
        self._pos = 0
        self.reached_end = False
        self.sample_rate = sample_rate
        self._stream = self._factory(samplerate=sample_rate, channels=1, dtype="float32",
                                     device=self.device, callback=self._callback)
        self._stream.start()

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        close_stream(stream)

    @property
    def playing(self) -> bool:
        return self._stream is not None and not self.reached_end

    def wait(self, timeout: float | None = None, poll_s: float = 0.05) -> bool:
        """Block until a non-looping clip has played to its end (True) or ``timeout`` s
        passed (False). For scripts and the CLI; the GUI polls :attr:`playing` instead."""
        import time

        end = None if timeout is None else time.monotonic() + timeout
        while self._stream is not None and not self.reached_end:
            if end is not None and time.monotonic() >= end:
                return False
            time.sleep(poll_s)
        return True

    @property
    def position(self) -> float:
        """Fraction of the clip played, 0..1."""
        return self._pos / len(self._audio) if len(self._audio) else 0.0

    # -- audio thread ------------------------------------------------------------------
    def _callback(self, outdata: np.ndarray, frames: int, _time: Any, _status: Any) -> None:
        audio, pos, out = self._audio, self._pos, outdata[:, 0]
        limit = self._available
        written = 0
        while written < frames:
            if limit < len(audio) and pos >= limit:  # streaming: wait at the edge, silently
                out[written:] = 0.0
                break
            n = min(frames - written, limit - pos)
            if n > 0:
                np.multiply(audio[pos : pos + n], self.volume, out=out[written : written + n])
                written += n
                pos += n
            if pos >= len(audio):
                if self.loop and len(audio):
                    pos = 0
                    continue
                out[written:] = 0.0
                self.reached_end = True
                break
        self._pos = pos
