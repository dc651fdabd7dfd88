"""Test doubles shared by the desktop, live-soundscape and bridge tests."""
from __future__ import annotations

import numpy as np


class FakeStream:
    """Stands in for sounddevice.OutputStream: the test pulls blocks through the callback.
    Unfilled samples come back as NaN, so a callback that leaves a gap shows."""

    instances: list[FakeStream] = []

    def __init__(self, samplerate, channels, dtype, device, callback) -> None:
        self.samplerate, self.callback, self.device = samplerate, callback, device
        self.started = self.closed = False
        FakeStream.instances.append(self)

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True

    def pull(self, frames: int, status=None) -> np.ndarray:
        out = np.full((frames, 1), np.nan, np.float32)
        self.callback(out, frames, None, status)
        return out[:, 0]


class Only48kStream(FakeStream):
    """A device under JACK or a pro interface: it runs at 48 kHz and refuses any other rate,
    as PortAudio does (``Invalid sample rate``)."""

    RATE = 48000

    def __init__(self, samplerate, channels, dtype, device, callback) -> None:
        if samplerate != self.RATE:
            raise RuntimeError("Error opening OutputStream: Invalid sample rate "
                               "[PaErrorCode -9997]")
        super().__init__(samplerate, channels, dtype, device, callback)

    @staticmethod
    def default_samplerate(device) -> float:
        return 48000.0

    @staticmethod
    def device_name(device) -> str:
        return "system (JACK)"
