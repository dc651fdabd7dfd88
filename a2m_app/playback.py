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

from .live import close_stream, device_rate, resample, sounddevice_stream

log = logging.getLogger(__name__)


class Stream(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...


StreamFactory = Callable[..., Stream]


class Player:
    """Plays one clip at a time, mono or stereo; position, loop and volume are read by the
    callback."""

    def __init__(self, stream_factory: StreamFactory | None = None) -> None:
        self._factory = stream_factory or sounddevice_stream
        self._audio = np.zeros(0, np.float32)
        self._pos = 0
        self._stream: Stream | None = None
        self.sample_rate = 22050  # the clip's rate
        self.device_rate = 22050  # the stream's: the device's own (clips are resampled)
        self._resampler: Any = None  # a streamed clip's soxr.ResampleStream
        self._fed = self._total_in = 0  # streamed clip samples received, of all
        self.loop = False
        self.volume = 1.0
        self.device: int | None = None
        self.reached_end = False
        # Samples ready to play; below len(self._audio) while a clip is still streaming in
        # (the callback plays silence at the edge rather than running past it).
        self._available = 0
        # live notes out (a2m_app.notes_out): the callback marks the clip's clock for it
        self.ticker: Any = None
        self._key = object()

    # -- control (GUI thread) --------------------------------------------------------
    def play(self, audio: np.ndarray, sample_rate: int) -> None:
        rate = self._open_rate(sample_rate)
        out = np.ascontiguousarray(resample(audio, sample_rate, rate), dtype=np.float32)
        self._start(out, len(out), sample_rate, rate)

    def play_stream(self, total: int, sample_rate: int, channels: int = 1) -> None:
        """Start playing a clip of ``total`` frames (of ``channels``) that arrives through
        :meth:`feed`."""
        rate = self._open_rate(sample_rate)
        self._resampler = None
        if rate != sample_rate:
            import soxr

            self._resampler = soxr.ResampleStream(sample_rate, rate, channels, dtype="float32")
        self._fed, self._total_in = 0, total
        frames = int(round(total * rate / sample_rate))
        self._start(np.zeros((frames, channels) if channels > 1 else frames, np.float32), 0,
                    sample_rate, rate)

    def feed(self, start: int, chunk: np.ndarray) -> None:
        """Add streamed samples (in order); the callback may play them from now on."""
        chunk = np.asarray(chunk, np.float32)
        if self._resampler is not None:  # resampled as it arrives: ``start`` is implied
            self._fed += len(chunk)
            chunk = self._resampler.resample_chunk(chunk, last=self._fed >= self._total_in)
            start = self._available
        end = min(len(self._audio), start + len(chunk))
        self._audio[start:end] = chunk[: end - start]
        self._available = max(self._available, end)
        if self._resampler is not None and self._fed >= self._total_in:
            self._available = len(self._audio)  # the resampler's rounding: nothing waits

    @property
    def streaming(self) -> bool:
        return self._available < len(self._audio)

    def _open_rate(self, sample_rate: int) -> int:
        return device_rate(self._factory, self.device, sample_rate)

    def follow_notes(self, notes: list, length_s: float) -> None:
        """Send the playing clip's notes (``notes_out.timed_notes``) as they sound, through
        :attr:`ticker` (nothing without one)."""
        if self.ticker is not None:
            self.ticker.follow(self._key, notes, length_s, loops=self.loop)

    def _start(self, audio: np.ndarray, available: int, sample_rate: int, rate: int) -> None:
        self.stop()
        self._key = object()
        self._audio = audio
        self._available = available
        self._pos = 0
        self.reached_end = False
        self.sample_rate, self.device_rate = sample_rate, rate
        channels = 1 if audio.ndim == 1 else audio.shape[1]
        self._stream = self._factory(samplerate=rate, channels=channels, dtype="float32",
                                     device=self.device, callback=self._callback)
        self._stream.start()

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        close_stream(stream)
        if self.ticker is not None:
            self.ticker.drop(self._key)

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
        audio, pos = self._audio, self._pos
        out = outdata if audio.ndim == 2 else outdata[:, 0]
        start = pos
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
        if self.ticker is not None:
            self.ticker.clock.mark(self._key, start, self.device_rate, written)
