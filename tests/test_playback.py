"""Playing a clip on a device that will not run at the clip's rate (JACK, pro interfaces at
48 kHz): the player opens the device at its own rate and resamples, whole or streamed."""
from __future__ import annotations

import numpy as np

from a2m_app.playback import Player

from .fakes import Only48kStream

SR = 22050


def clip(freq: float = 440.0, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    return float(np.argmax(spectrum) * rate / audio.size)


def test_a_clip_plays_at_the_pitch_it_has_on_a_48k_only_device():
    player = Player(stream_factory=Only48kStream)
    player.play(clip(), SR)
    stream = Only48kStream.instances[-1]
    assert stream.samplerate == 48000 and player.device_rate == 48000
    heard = stream.pull(48000 + 100)
    assert player.reached_end  # one second of clip is one second of device
    assert abs(peak_hz(heard[:48000], 48000) - 440.0) < 2.0
    player.stop()


def test_a_streamed_clip_resampled_chunk_by_chunk_matches_the_whole_one():
    audio = clip(seconds=2.0)
    whole = Player(stream_factory=Only48kStream)
    whole.play(audio, SR)
    expected = Only48kStream.instances[-1].pull(96000)
    streamed = Player(stream_factory=Only48kStream)
    streamed.play_stream(audio.size, SR)
    for start in range(0, audio.size, 5000):
        streamed.feed(start, audio[start:start + 5000])
    assert not streamed.streaming
    got = Only48kStream.instances[-1].pull(96000)
    assert np.abs(got[1000:-1000] - expected[1000:-1000]).max() < 1e-3
    assert not np.isnan(got).any()
