"""A gallery's endless soundscape, driven by a fake output stream: no gap once the first scene
plays, a crossfade at each scene change, and a late scene covered by looping."""
from __future__ import annotations

import threading
import time

import numpy as np

from a2m_app.live import Soundscape
from a2m_core.soundscape import Scene

from .conftest import EXAMPLE_PAINTING
from .fakes import FakeStream

SR = 8000


def tone(freq: float, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def scene(name: str, freq: float) -> Scene:
    return Scene(image=name, comment=name, seed=int(freq))


class Made(list):
    """The comments of the scenes the soundscape has generated, in order (its on_scene)."""

    def __call__(self, scene: Scene) -> None:
        self.append(scene.comment)


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert predicate()


def test_scenes_play_without_a_gap_and_crossfade_into_each_other():
    FakeStream.instances.clear()
    made = Made()
    live = Soundscape(lambda s: tone(float(s.seed)), SR, on_scene=made, crossfade_s=0.5,
                      loop_crossfade_s=0.1,
                      stream_factory=FakeStream)
    live.start()
    try:
        stream = FakeStream.instances[0]
        assert not np.any(stream.pull(256))  # silence before the first scene exists
        live.next(scene("low", 220))
        wait_until(lambda: "low" in made)
        first = np.concatenate([stream.pull(256) for _ in range(40)])  # 1.28 s
        assert not np.isnan(first).any() and np.abs(first).max() > 0.2
        live.next(scene("high", 880))
        wait_until(lambda: "high" in made)
        change = np.concatenate([stream.pull(256) for _ in range(40)])
        assert not np.isnan(change).any()
        # During the 0.5 s crossfade both tones sound; afterwards only the new one.
        spectrum = np.abs(np.fft.rfft(change[:2000]))
        freqs = np.fft.rfftfreq(2000, 1 / SR)
        assert spectrum[np.argmin(abs(freqs - 220))] > 10 and \
            spectrum[np.argmin(abs(freqs - 880))] > 10
        tail = np.abs(np.fft.rfft(change[-4096:]))
        f2 = np.fft.rfftfreq(4096, 1 / SR)
        assert tail[np.argmin(abs(f2 - 880))] > 20 * tail[np.argmin(abs(f2 - 220))]
        assert live.status()["playing"] == "high"
    finally:
        live.stop()
    assert FakeStream.instances[0].closed


def test_a_late_scene_is_covered_by_looping_the_current_one():
    gate = threading.Event()

    def slow(s: Scene) -> np.ndarray:
        if s.comment == "late":
            gate.wait(10)
        return tone(float(s.seed), 1.0)

    FakeStream.instances.clear()
    made = Made()
    live = Soundscape(slow, SR, on_scene=made, crossfade_s=0.2, loop_crossfade_s=0.1,
                      stream_factory=FakeStream)
    live.start()
    try:
        live.next(scene("first", 330))
        wait_until(lambda: "first" in made)
        live.next(scene("late", 660))
        stream = FakeStream.instances[0]
        out = np.concatenate([stream.pull(512) for _ in range(60)])  # 3.8 s > the clip
        assert not np.isnan(out).any() and np.abs(out[-2000:]).max() > 0.2  # still playing
        steps = np.abs(np.diff(out))
        assert steps.max() <= 1.5 * np.percentile(steps, 99.9)  # the loop wraps cleanly
        gate.set()
        wait_until(lambda: "late" in made)
        stream.pull(512, status=True)  # the device reports one underflow
        assert live.status()["underruns"] == 1
    finally:
        gate.set()
        live.stop()


def test_a_failing_scene_is_reported_and_the_sound_goes_on(engine):
    errors = []

    def gen(s: Scene) -> np.ndarray:
        return engine.generate(s.image, s.comment, seed=s.seed).audio

    FakeStream.instances.clear()
    made = Made()
    live = Soundscape(gen, engine.sample_rate, on_scene=made, crossfade_s=0.2,
                      on_error=lambda s, e: errors.append(str(e)),
                      stream_factory=FakeStream)
    live.start()
    try:
        live.next(Scene(str(EXAMPLE_PAINTING), "the night sky", seed=1))
        wait_until(lambda: "the night sky" in made, timeout=60)
        FakeStream.instances[0].pull(1024)
        live.next(Scene("/nowhere/missing.jpg", "lost", seed=2))
        wait_until(lambda: bool(errors), timeout=60)
        assert "image not found" in errors[0]
        after = FakeStream.instances[0].pull(4096)
        assert not np.isnan(after).any() and np.abs(after).max() > 0
    finally:
        live.stop()


def test_a_device_that_runs_only_at_48k_plays_the_scenes_resampled():
    from .fakes import Only48kStream

    Only48kStream.instances.clear()
    made = Made()
    live = Soundscape(lambda s: tone(float(s.seed)), SR, on_scene=made, crossfade_s=0.5,
                      loop_crossfade_s=0.1, stream_factory=Only48kStream)
    live.start()
    try:
        stream = Only48kStream.instances[0]
        assert stream.samplerate == 48000 and live.device_rate == 48000
        assert live.status()["device"] == "system (JACK)"
        live.next(scene("a", 440.0))
        wait_until(lambda: "a" in made)
        heard = stream.pull(48000)  # one second of the device
        # a 440 Hz tone at 8 kHz is still 440 Hz at 48 kHz: resampled, not sped up
        spectrum = np.abs(np.fft.rfft(heard * np.hanning(heard.size)))
        assert abs(np.argmax(spectrum) * 48000 / heard.size - 440.0) < 2.0
    finally:
        live.stop()


def test_stopping_reports_every_scene_still_queued_as_cancelled():
    from a2m_core.errors import GenerationCancelled

    failed: list[tuple[str, Exception]] = []
    made = Made()
    live = Soundscape(lambda s: tone(float(s.seed)), SR, on_scene=made, stream_factory=FakeStream,
                      on_error=lambda s, e: failed.append((s.comment, e)))
    live.start()
    live.next(scene("first", 220.0))
    wait_until(lambda: "first" in made)  # generated; nobody pulls it from the card
    for name in "bcde":
        assert live.next(scene(name, 330.0))
    live.stop()
    assert [c for c, _ in failed] == list("bcde")
    assert all(isinstance(e, GenerationCancelled) for _, e in failed)
