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
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from a2m_core.errors import GenerationCancelled
from a2m_core.soundscape import Scene, as_channels, equal_power, make_loop

log = logging.getLogger(__name__)

# scene -> mono float32 audio at the soundscape's rate (the engine's generate by default)
Generate = Callable[[Scene], np.ndarray]


def sounddevice_stream(**kwargs: Any) -> Any:
    """A ``sounddevice.OutputStream`` (the default output of the desktop app and the bridge)."""
    import sounddevice as sd  # only for live output: the runtime never needs it otherwise

    return sd.OutputStream(**kwargs)


def _sounddevice_rate(device: int | str | None) -> float:
    import sounddevice as sd

    return float(sd.query_devices(device, "output")["default_samplerate"])


def _sounddevice_name(device: int | str | None) -> str:
    import sounddevice as sd

    return str(sd.query_devices(device, "output")["name"])


# What a stream factory may tell before it opens anything (fakes in tests do the same).
sounddevice_stream.default_samplerate = _sounddevice_rate  # type: ignore[attr-defined]
sounddevice_stream.device_name = _sounddevice_name  # type: ignore[attr-defined]


def device_label(factory: Callable[..., Any], device: int | str | None) -> str:
    """The output device's name when the factory can tell, else how it was asked for."""
    probe = getattr(factory, "device_name", None)
    try:
        if probe is not None:
            return str(probe(device))
    except Exception as err:  # noqa: BLE001 - PortAudio errors vary
        log.debug("the name of device %s is unknown (%s)", device, err)
    return "default" if device is None else str(device)


def device_rate(factory: Callable[..., Any], device: int | str | None, clip_rate: int) -> int:
    """The rate to open ``device`` at: its own default rate. Devices under JACK or pro
    interfaces run at 44.1 or 48 kHz and refuse the clips' 22,050 Hz, so the clips are
    resampled to the device rather than the device asked to change. A factory that cannot
    say (``default_samplerate(device)`` missing or failing) gets the clip's rate."""
    probe = getattr(factory, "default_samplerate", None)
    if probe is None:
        return clip_rate
    try:
        rate = int(round(probe(device)))
    except Exception as err:  # noqa: BLE001 - PortAudio errors vary: opening will say more
        log.debug("the default rate of device %s is unknown (%s)", device, err)
        return clip_rate
    return rate if rate > 0 else clip_rate


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """float32 ``audio`` (``[n]`` or ``[n, channels]``) at ``rate_out`` (soxr, high
    quality); unchanged when equal."""
    if rate_in == rate_out:
        return np.asarray(audio, np.float32)
    import soxr

    return soxr.resample(np.asarray(audio, np.float32), rate_in, rate_out).astype(np.float32)


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
    notes: list = field(default_factory=list)  # notes_out.TimedNote, for the note ticker


class Soundscape:
    """Endless output from scenes; ``next(scene)`` queues one, it plays when generated."""

    def __init__(self, generate: Generate, sample_rate: int,
                 stream_factory: Callable[..., Any] | None = None, crossfade_s: float = 3.0,
                 loop_crossfade_s: float = 0.5, queue_depth: int = 4,
                 on_scene: Callable[[Scene], None] | None = None,
                 on_error: Callable[[Scene, Exception], None] | None = None,
                 ticker: Any = None, channels: int = 1) -> None:
        """``generate(scene)`` returns the scene's audio, or its clip (whose notes then go
        out live through ``ticker``, a ``notes_out.NoteTicker``). ``channels``: the
        output's (2 for a notes engine's stereo; a scene of another kind is made to fit)."""
        self.generate = generate
        self.ticker = ticker
        self.channels = channels
        self.sample_rate = sample_rate  # the clips' rate
        self.device_rate = sample_rate  # the output's rate (set by start)
        self._factory = stream_factory or sounddevice_stream
        self.crossfade_s = crossfade_s
        self.loop_crossfade_s = loop_crossfade_s
        self.queue_depth = queue_depth
        self.on_scene, self.on_error = on_scene, on_error
        self._set_crossfade()
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
        self.device_label = ""  # the device's name once started

    def _set_crossfade(self) -> None:
        self.crossfade = max(1, int(self.crossfade_s * self.device_rate))
        self._fade_in, self._fade_out = equal_power(self.crossfade)

    # ------------------------------------------------------------------ control
    @property
    def stopped(self) -> bool:
        """True once :meth:`stop` was called (a scene being generated may stop early)."""
        return self._stopping

    def start(self, device: int | str | None = None) -> Soundscape:
        """Open the output (at the device's own rate; scenes are resampled to it) and start
        generating queued scenes.

        Raises:
            whatever the stream factory raises when the device cannot be opened.
        """
        self.device = device
        self._stopping = False
        self.device_rate = device_rate(self._factory, device, self.sample_rate)
        self.device_label = device_label(self._factory, device)
        self._set_crossfade()
        self._stream = self._factory(samplerate=self.device_rate, channels=self.channels,
                                     dtype="float32", device=device, callback=self._callback)
        self._thread = threading.Thread(target=self._produce, name="a2m-soundscape",
                                        daemon=True)
        self._thread.start()
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
        """Close the output; scenes still queued are dropped, each reported to ``on_error``
        with :class:`GenerationCancelled` (so every scene someone queued hears an end)."""
        with self._cond:
            self._stopping = True
            dropped = list(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        stream, self._stream = self._stream, None
        close_stream(stream, "soundscape's stream")
        if self.ticker is not None:
            self.ticker.close()
        for scene in dropped:
            self._failed(scene, GenerationCancelled("the stream stopped before this scene "
                                                    "was generated"))
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _failed(self, scene: Scene, err: Exception) -> None:
        if self.on_error is None:
            return
        try:
            self.on_error(scene, err)
        except Exception:  # noqa: BLE001 - a reporting callback must not end the sound
            log.exception("the scene error callback failed")

    def status(self) -> dict[str, Any]:
        with self._cond:
            queued = len(self._queue) + int(self._ready is not None)
        playing = self._incoming or self._current
        return {"playing": playing.scene.comment if playing else "", "queued": queued,
                "underruns": self.underruns, "device": self.device_label,
                "rate": self.device_rate}

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
                made = self.generate(scene)
                notes = []
                if not isinstance(made, np.ndarray):  # a clip: its notes can go out live
                    from .notes_out import timed_notes

                    made, notes = made.audio, timed_notes(made)
                audio = resample(as_channels(made, self.channels), self.sample_rate,
                                 self.device_rate)
                loop = make_loop(audio, self.device_rate, self.loop_crossfade_s)
            except Exception as err:  # noqa: BLE001 - a bad scene must not end the sound
                log.warning("scene %r failed: %s", scene.comment[:40], err)
                self._failed(scene, err)
                continue
            with self._cond:
                self._ready = _Playing(loop.astype(np.float32), scene, notes=notes)
            if self.ticker is not None and notes:
                self.ticker.follow(id(self._ready), notes, len(loop) / self.device_rate,
                                   loops=True)
            if self.on_scene is not None:
                self.on_scene(scene)

    # ------------------------------------------------------------------ audio thread
    @staticmethod
    def _read(playing: _Playing, n: int) -> np.ndarray:
        """``n`` samples of a loop from its position, wrapping (the loop is seamless)."""
        loop, pos = playing.loop, playing.pos
        idx = (pos + np.arange(n)) % len(loop)
        playing.pos = (pos + n) % len(loop)
        return loop[idx]

    def _callback(self, outdata: np.ndarray, frames: int, _time: Any, status: Any) -> None:
        if status:  # the device reported an underflow (we were too late for it)
            self.underruns += 1
        out = outdata if self.channels > 1 else outdata[:, 0]
        if self._incoming is None and self._ready is not None:
            self._incoming, self._ready, self._fade_at = self._ready, None, 0
        if self._current is None and self._incoming is not None:
            self._current, self._incoming = self._incoming, None  # the first scene: no fade
        if self._current is None:
            out[:] = 0.0  # nothing generated yet: silence before the first scene
            return
        if self.ticker is not None:
            for playing in (self._current, self._incoming):
                if playing is not None:
                    self.ticker.clock.mark(id(playing), playing.pos, self.device_rate, frames)
        block = self._read(self._current, frames)
        if self._incoming is not None:
            n = min(frames, self.crossfade - self._fade_at)
            new = self._read(self._incoming, frames)
            a, b = self._fade_at, self._fade_at + n
            fade_out, fade_in = self._fade_out[a:b], self._fade_in[a:b]
            if self.channels > 1:
                fade_out, fade_in = fade_out[:, None], fade_in[:, None]
            block[:n] = block[:n] * fade_out + new[:n] * fade_in
            block[n:] = new[n:]
            self._fade_at += n
            if self._fade_at >= self.crossfade:
                if self.ticker is not None:
                    self.ticker.drop(id(self._current))
                self._current, self._incoming = self._incoming, None
        out[:] = block
