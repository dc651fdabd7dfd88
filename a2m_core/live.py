"""The live soundscape: endless output that crossfades into each new scene when it is ready.

One :class:`Soundscape` serves the desktop app and the OSC bridge. A background thread
generates queued scenes (bounded queue, one ready scene held at most); the audio callback
loops the current scene's seamless loop (``soundscape.make_loop``) and, when the next one is
ready, crossfades into it with equal power. If the next scene is late, the current one simply
keeps looping: after the first scene there is never silence, and every callback is filled.

The output stream comes from a factory (``stream_factory(samplerate=, channels=, dtype=,
device=, callback=)``), so tests drive the callback with a fake stream; the default opens a
``sounddevice.OutputStream``, imported only when live output starts.
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .soundscape import Scene, equal_power, make_loop

log = logging.getLogger(__name__)

# scene -> mono float32 audio at the soundscape's rate (the engine's generate by default)
Generate = Callable[[Scene], np.ndarray]


def sounddevice_stream(**kwargs: Any) -> Any:
    """A ``sounddevice.OutputStream`` (the default output of the desktop app and the bridge)."""
    import sounddevice as sd  # only for live output: the runtime never needs it otherwise

    return sd.OutputStream(**kwargs)


def probe_output() -> tuple[bool, str, list[tuple[int, str]]]:
    """(available, why not, [(device index, name)]) for audio output; sounddevice is
    imported here only (the desktop app and the bridge both ask)."""
    try:
        import sounddevice as sd
    except OSError as err:  # the PortAudio library itself is missing
        return False, f"playback unavailable: PortAudio is not installed ({err})", []
    except ImportError:
        return False, "playback unavailable: the sounddevice package is not installed", []
    try:
        devices = [(i, d["name"]) for i, d in enumerate(sd.query_devices())
                   if d["max_output_channels"] > 0]
    except Exception as err:  # noqa: BLE001 - PortAudio errors vary by host API
        return False, f"playback unavailable: audio devices can't be listed ({err})", []
    if not devices:
        return False, "playback unavailable: no audio output device found", []
    return True, "", devices


def close_stream(stream: Any, what: str = "audio stream") -> None:
    """Stop and close an output stream; a vanished device is logged, never raised."""
    if stream is None:
        return
    try:
        stream.stop()
        stream.close()
    except Exception as err:  # noqa: BLE001 - PortAudio errors vary by host API
        log.warning("closing the %s failed: %s", what, err)


@dataclass
class _Playing:
    loop: np.ndarray
    scene: Scene
    pos: int = 0


class Soundscape:
    """Endless output from scenes; ``next(scene)`` queues one, it plays when generated."""

    def __init__(self, generate: Generate, sample_rate: int,
                 stream_factory: Callable[..., Any] | None = None, crossfade_s: float = 3.0,
                 loop_crossfade_s: float = 0.5, queue_depth: int = 4,
                 on_scene: Callable[[Scene], None] | None = None,
                 on_error: Callable[[Scene, Exception], None] | None = None) -> None:
        self.generate = generate
        self.sample_rate = sample_rate
        self._factory = stream_factory or sounddevice_stream
        self.crossfade = max(1, int(crossfade_s * sample_rate))
        self.loop_crossfade_s = loop_crossfade_s
        self.queue_depth = queue_depth
        self.on_scene, self.on_error = on_scene, on_error
        self._fade_in, self._fade_out = equal_power(self.crossfade)
        self._queue: deque[Scene] = deque()
        self._cond = threading.Condition()
        self._ready: _Playing | None = None  # generated, waiting for the callback to take it
        self._current: _Playing | None = None
        self._incoming: _Playing | None = None  # fading in
        self._fade_at = 0  # samples of the crossfade done
        self._stream: Any = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.underruns = 0  # callbacks the device reported as late (output underflow)
        self.device: int | str | None = None

    # ------------------------------------------------------------------ control
    def start(self, device: int | str | None = None) -> Soundscape:
        self.device = device
        self._stopping = False
        self._thread = threading.Thread(target=self._produce, name="a2m-soundscape",
                                        daemon=True)
        self._thread.start()
        self._stream = self._factory(samplerate=self.sample_rate, channels=1, dtype="float32",
                                     device=device, callback=self._callback)
        self._stream.start()
        return self

    def next(self, scene: Scene) -> bool:
        """Queue a scene; False when the queue is full (the oldest waiting one is kept)."""
        with self._cond:
            if len(self._queue) >= self.queue_depth:
                return False
            self._queue.append(scene)
            self._cond.notify()
        return True

    def stop(self, timeout: float = 30.0) -> None:
        with self._cond:
            self._stopping = True
            self._queue.clear()
            self._cond.notify_all()
        stream, self._stream = self._stream, None
        close_stream(stream, "soundscape's stream")
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def status(self) -> dict[str, Any]:
        with self._cond:
            queued = len(self._queue) + int(self._ready is not None)
        playing = self._incoming or self._current
        return {"playing": playing.scene.comment if playing else "", "queued": queued,
                "underruns": self.underruns, "device": self.device}

    # ------------------------------------------------------------------ producer
    def _produce(self) -> None:
        while True:
            with self._cond:
                while (not self._queue or self._ready is not None) and not self._stopping:
                    self._cond.wait(0.1)
                if self._stopping:
                    return
                scene = self._queue.popleft()
            try:
                audio = self.generate(scene)
                loop = make_loop(audio, self.sample_rate, self.loop_crossfade_s)
            except Exception as err:  # noqa: BLE001 - a bad scene must not end the sound
                log.warning("scene %r failed: %s", scene.comment[:40], err)
                if self.on_error:
                    self.on_error(scene, err)
                continue
            with self._cond:
                self._ready = _Playing(loop.astype(np.float32), scene)
            if self.on_scene:
                self.on_scene(scene)

    # ------------------------------------------------------------------ audio thread
    @staticmethod
    def _read(playing: _Playing, n: int) -> np.ndarray:
        """``n`` samples of a loop from its position, wrapping (the loop is seamless)."""
        loop, pos = playing.loop, playing.pos
        idx = (pos + np.arange(n)) % loop.size
        playing.pos = (pos + n) % loop.size
        return loop[idx]

    def _callback(self, outdata: np.ndarray, frames: int, _time: Any, status: Any) -> None:
        if status:  # the device reported an underflow (we were too late for it)
            self.underruns += 1
        out = outdata[:, 0]
        if self._incoming is None and self._ready is not None:
            self._incoming, self._ready, self._fade_at = self._ready, None, 0
        if self._current is None and self._incoming is not None:
            self._current, self._incoming = self._incoming, None  # the first scene: no fade
        if self._current is None:
            out[:] = 0.0  # nothing generated yet: silence before the first scene
            return
        block = self._read(self._current, frames)
        if self._incoming is not None:
            n = min(frames, self.crossfade - self._fade_at)
            new = self._read(self._incoming, frames)
            a, b = self._fade_at, self._fade_at + n
            block[:n] = block[:n] * self._fade_out[a:b] + new[:n] * self._fade_in[a:b]
            block[n:] = new[n:]
            self._fade_at += n
            if self._fade_at >= self.crossfade:
                self._current, self._incoming = self._incoming, None
        out[:] = block
