"""Streaming: a listener hears the first chunk long before the clip is done, the chunks join
without seams, and the level is right before the wave exists."""
from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest
import torch

from a2m_core import Art2Music, GenerationCancelled, GenerationRequest
from a2m_core.audio import MelConfig, denormalize, load_audio, wave_to_mel
from a2m_core.mel.streaming import Pacer, Pacing, chunk_spans, loudness_from_mel, stream_hifigan
from a2m_core.postprocess import measure_lufs, soft_ceiling

from .conftest import EXAMPLE_PAINTING


@pytest.mark.parametrize("split", [False, True], ids=["whole", "front-back"])
def test_streamed_samples_match_the_one_shot_vocoder_and_join_without_seams(engine, split):
    # "front-back": the generator's first stage gets all the context, and the rest (most of
    # the work) only its own 2 frames a side; the samples must not change.
    mel = torch.from_numpy(engine.generate_mels([GenerationRequest(EXAMPLE_PAINTING,
                                                                   "a slow tide")])[0])
    cfg = engine._voice.vocoding.vocoder.cfg
    with torch.inference_mode():
        whole = engine._voice.vocoding.wave(mel)
        log_mel = denormalize(mel, engine.mel_config).unsqueeze(0)
        vocoder = engine._voice.vocoding.vocoder
        parts = list(stream_hifigan(vocoder, log_mel, engine.mel_config.hop_length,
                                    64, cfg.context_frames, split=(
                                        *cfg.split_context_frames, cfg.upsample_rates[0])
                                    if split else None))
    joined = np.concatenate([p for _, p in parts])
    assert [s for s, _ in parts] == [i * 64 * 256 for i in range(len(parts))]
    assert joined.shape == whole.shape
    err = np.abs(joined - whole).max()
    assert err <= 1e-4 * max(1.0, np.abs(whole).max()), err  # the stated tolerance
    steps = np.abs(np.diff(joined))
    joins = [s for s, _ in parts[1:]]
    inside = np.delete(steps, [j - 1 for j in joins])
    assert steps[[j - 1 for j in joins]].max() <= inside.max()  # no step at a join


@pytest.mark.parametrize("preset", ["v1", "v3"])
def test_the_vocoder_context_is_its_receptive_field(preset):
    # Streaming vocodes each chunk with context_frames a side: a mel frame must change no
    # sample further away than that (else chunks would differ from the whole clip), and the
    # reach must be real (else every chunk vocodes frames for nothing).
    from a2m_core.mel import HiFiGANConfig
    from a2m_core.mel.hifigan import HiFiGANGenerator

    cfg = HiFiGANConfig.preset(preset)
    cfg = dataclasses.replace(cfg, upsample_initial_channel=32)  # reach needs no width
    torch.manual_seed(0)
    gen = HiFiGANGenerator(cfg).remove_weight_norm().eval()
    for p in gen.parameters():  # weights large enough that every path carries a signal
        p.data.normal_(0.0, 0.3)
    mel = torch.randn(1, cfg.n_mels, 60)
    poked = mel.clone()
    poked[..., 30] += 5.0
    with torch.inference_mode():
        diff = (gen(poked) - gen(mel)).abs().reshape(-1).double()
    hop, ctx = cfg.hop_length, cfg.context_frames
    changed = torch.nonzero(diff > 0).reshape(-1)
    first, last = int(changed.min()) / hop, int(changed.max()) / hop  # in frames
    assert first >= 30 - ctx and last < 31 + ctx  # nothing beyond the reach changes
    assert max(30 - first, last - 31) > ctx - 2  # and the reach is real (V1: 12.3 of 14)


def test_generate_stream_yields_the_mel_first_then_chunks_then_the_clip(engine):
    stages = []
    # a process that has not vocoded yet: the default first size
    engine._voice.vocoding.rates = None
    chunks = list(engine.generate_stream(EXAMPLE_PAINTING, "waves of light", seed=2,
                                         progress=lambda s, f: stages.append((s, f))))
    assert chunks[0].audio.size == 32 * 256  # the first sound: 32 of 896 frames
    starts = [c.start for c in chunks]
    assert starts == [sum(c.audio.size for c in chunks[:i]) for i in range(len(chunks))]
    assert all(c.audio.size <= 256 * 256 for c in chunks)
    assert chunks[0].mel is not None and chunks[0].mel.shape == (80, 896)
    assert all(c.mel is None for c in chunks[1:]) and chunks[-1].clip is not None
    clip = chunks[-1].clip
    np.testing.assert_array_equal(clip.audio, np.concatenate([c.audio for c in chunks]))
    assert clip.audio.size == chunks[0].total == 896 * 256
    assert np.abs(clip.audio).max() < 10 ** (-1 / 20)  # under the -1 dBFS ceiling
    fractions = [f for _, f in stages]
    assert fractions == sorted(fractions) and stages[-1] == ("done", 1.0)
    # One path: the one-shot clip is this stream collected, level included.
    one_shot = engine.generate(EXAMPLE_PAINTING, "waves of light", seed=2)
    np.testing.assert_allclose(clip.mel, one_shot.mel, atol=1e-5)
    assert np.abs(one_shot.audio - clip.audio).max() <= 1e-4 * np.abs(clip.audio).max()


@pytest.mark.parametrize("bundle", ["tiny_bundle", "tiny_gl_bundle"])
def test_a_one_shot_clip_is_its_stream_collected_level_included(bundle, request):
    """Whoever asks (the desktop streaming or not, the bridge with or without per-chunk
    progress, the CLI), the same input plays at the same level."""
    engine = Art2Music.load(request.getfixturevalue(bundle), device="cpu")
    streamed = np.concatenate([c.audio for c in engine.generate_stream(
        EXAMPLE_PAINTING, "a lantern in the fog", seed=5)])
    for cancel in (None, threading.Event()):  # with a cancel: vocoded in spans
        one_shot = engine.generate(EXAMPLE_PAINTING, "a lantern in the fog", seed=5,
                                   cancel=cancel).audio
        assert one_shot.shape == streamed.shape
        assert np.abs(one_shot - streamed).max() <= 1e-4 * np.abs(streamed).max()
        level = 20 * np.log10(np.sqrt(np.mean(one_shot ** 2)) / np.sqrt(np.mean(streamed ** 2)))
        assert abs(level) < 0.01  # dB


def test_a_stream_can_be_cancelled_between_chunks(engine):
    flag = {"stop": False}
    stream = engine.generate_stream(EXAMPLE_PAINTING, "stop soon",
                                    cancel=lambda: flag["stop"])
    next(stream)
    flag["stop"] = True
    with pytest.raises(GenerationCancelled):
        next(stream)
    # The engine is free again (the lock was released with the generator).
    assert engine.generate(EXAMPLE_PAINTING, "next visitor", seed=1).audio.size


def test_loudness_from_the_mel_matches_the_measured_loudness(music_clips):
    cfg = MelConfig()
    errors = []
    for path in music_clips[:4]:
        wave = load_audio(path, cfg.sample_rate)[: cfg.n_samples]
        est = loudness_from_mel(wave_to_mel(wave, cfg), cfg)
        errors.append(est - measure_lufs(wave, cfg.sample_rate))
    assert max(abs(e) for e in errors) < 1.5, errors  # dB


def test_soft_ceiling_changes_only_the_loudest_samples():
    x = np.linspace(-2, 2, 1001).astype(np.float32)
    y = soft_ceiling(x, -1.0)
    c = 10 ** (-1 / 20)
    assert np.abs(y).max() < c
    quiet = np.abs(x) <= 0.8 * c
    np.testing.assert_array_equal(y[quiet], x[quiet])
    assert np.all(np.diff(y) >= 0)  # still monotonic: no fold-over distortion


def test_chunk_spans_cover_the_clip_once():
    spans = chunk_spans(896, 64, 24)
    assert spans[0] == (0, 64, 0, 88) and spans[-1] == (832, 896, 808, 896)
    assert sum(e - s for s, e, _, _ in spans) == 896
    short = chunk_spans(896, 64, 24, first=32)
    assert short[0] == (0, 32, 0, 56) and short[1][:2] == (32, 96)
    assert sum(e - s for s, e, _, _ in short) == 896


class _FakeTime:
    """A clock, and a vocoder that takes ``rate`` seconds of it per frame (no real waiting):
    whole, or in HiFi-GAN V1's two parts (the front 15 % of the work, the back 85 %)."""

    def __init__(self, rate: float) -> None:
        self.now, self.rate = 0.0, rate

    def clock(self) -> float:
        return self.now

    def vocoder(self, log_mel: torch.Tensor) -> torch.Tensor:
        self.now += self.rate * log_mel.shape[-1]
        return torch.zeros(1, 1, log_mel.shape[-1] * 256)

    def front(self, log_mel: torch.Tensor) -> torch.Tensor:
        self.now += 0.15 * self.rate * log_mel.shape[-1]
        return torch.zeros(1, 4, log_mel.shape[-1] * 8)

    def back(self, hidden: torch.Tensor) -> torch.Tensor:
        self.now += 0.85 * self.rate * hidden.shape[-1] / 8
        return torch.zeros(1, 1, hidden.shape[-1] * 32)


def _underrun_s(fake: _FakeTime, pacing: Pacing, rate: float | None, n: int = 896,
                split: bool = False) -> tuple:
    """Stream ``n`` frames through the fake vocoder; a listener starts at the first chunk.
    Returns (first chunk frames, chunk sizes, seconds of silence between chunks)."""
    frame_s = 256 / 22050
    rates = None if rate is None else (0.15 * rate, 0.85 * rate) if split else (rate,)
    pacer = Pacer(pacing, frame_s, (14, 2) if split else (14,), rates=rates,
                  clock=fake.clock)
    sizes, gap, play_end = [], 0.0, None
    for _, wave in stream_hifigan(fake if split else fake.vocoder, torch.zeros(1, 80, n),
                                  256, pacer, 14, split=(12, 2, 8) if split else None):
        ready, size = fake.now, wave.size // 256
        if play_end is None:
            play_end = ready
        gap += max(0.0, ready - play_end)  # the listener waited for this chunk
        play_end = max(play_end, ready) + size * frame_s
        sizes.append(size)
    assert sum(sizes) == n
    return sizes[0], sizes, gap


@pytest.mark.parametrize("split", [False, True], ids=["whole", "front-back"])
@pytest.mark.parametrize("rate_ms", [2.0, 3.3, 5.8])  # fast and slow days of the 2-core host
def test_paced_chunks_keep_ahead_of_playback(rate_ms, split):
    rate = rate_ms / 1000
    first, sizes, gap = _underrun_s(_FakeTime(rate), Pacing(), rate, split=split)
    assert gap == 0.0, sizes  # never a silence between chunks
    # the first sound waits only for what the second chunk needs: short on a fast vocoder,
    # and on a slow one while the back part (most of the work) needs little context
    assert first == 16 if rate_ms < 3 or split else first <= 64
    assert max(sizes) > 4 * first  # the chunks grow once the sound runs ahead
    # The fixed sizes they replace (32, then 64) left a gap on the slow day.
    if rate_ms == 5.8:
        fixed = _FakeTime(rate)
        gaps, play_end = 0.0, None
        for s, e, ps, pe in chunk_spans(896, 64, 14, first=32):
            fixed.vocoder(torch.zeros(1, 80, pe - ps))
            play_end = fixed.now if play_end is None else play_end
            gaps += max(0.0, fixed.now - play_end)
            play_end = max(play_end, fixed.now) + (e - s) * 256 / 22050
        assert gaps > 0.1


def test_a_vocoder_slower_than_playback_gets_the_largest_chunks():
    # No schedule avoids waiting then; the largest chunks waste the least work on context.
    rate = 20e-3  # 20 ms of work per 11.6 ms frame
    first, sizes, _ = _underrun_s(_FakeTime(rate), Pacing(), rate)
    assert sizes[1:-1] and all(s == 256 for s in sizes[1:-1])


def test_an_unknown_vocoder_speed_starts_with_the_default_first_chunk():
    first, sizes, _ = _underrun_s(_FakeTime(3e-3), Pacing(first=32), rate=None)
    assert first == 32 and len(sizes) < 896 // 32


def test_pacing_refuses_sizes_that_cannot_work():
    with pytest.raises(ValueError, match="smallest <= largest"):
        Pacing(smallest=64, largest=32)
    with pytest.raises(ValueError, match="headroom"):
        Pacing(headroom=1.5)


def test_a_vocoder_in_two_parts_starts_sooner_with_the_same_speed():
    # HiFi-GAN V1 split after its first stage: the front (~15 % of the work) needs 14 frames
    # of context a side, the back (~85 %) only 2. Same total speed, far less context work.
    frame_s, rate = 256 / 22050, 5.8e-3
    whole = Pacer(Pacing(), frame_s, (14,), rates=(rate,))
    parts = Pacer(Pacing(), frame_s, (14, 2), rates=(0.15 * rate, 0.85 * rate))
    assert parts.sustainable() < whole.sustainable()
    assert parts.first() < whole.first()
    # a measurement taken for another split of the vocoder is not reused
    assert Pacer(Pacing(), frame_s, (14, 2), rates=(rate,)).first() == Pacing().first
