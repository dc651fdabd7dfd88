"""Evaluation metrics against cases worked out by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.fft import idct

from trainer.evaluate.metrics import (
    MelStatsEmbedding,
    frechet_distance,
    lsd,
    mcd,
    mean_cosine,
)
from trainer.evaluate.vggish import VGGish, VGGishEmbedding, examples

RNG = np.random.default_rng(0)
REF = RNG.normal(-4.0, 2.0, size=(80, 50))


def test_mcd_is_zero_for_identical_and_for_a_pure_loudness_change():
    assert mcd(REF, REF) == 0.0
    assert mcd(REF, REF + 3.0) == pytest.approx(0.0, abs=1e-9)  # only c0 moves


def test_mcd_of_a_one_coefficient_change():
    coeffs = np.zeros((80, 50))
    coeffs[1] = 0.5  # cepstral coefficient 1 differs by 0.5 in every frame
    gen = REF + idct(coeffs, type=2, norm="ortho", axis=0)
    assert mcd(REF, gen) == pytest.approx(10 / math.log(10) * math.sqrt(2 * 0.25))


def test_lsd_of_a_uniform_gain():
    # a gain of e^0.1 in magnitude is 20*log10(e^0.1) = 0.8686 dB in every bin
    assert lsd(REF, REF + 0.1) == pytest.approx(20 * 0.1 / math.log(10))
    with pytest.raises(ValueError):
        lsd(REF, REF[:, :10])


def test_frechet_distance_by_hand():
    a = RNG.normal(size=(4000, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shift = np.array([1.0, 2.0, 2.0])  # same covariance, mean moved by |shift|^2 = 9
    assert frechet_distance(a, a + shift) == pytest.approx(9.0, abs=1e-6)
    x, y = np.array([[0.0], [2.0]]), np.array([[1.0], [5.0]])  # 1-D: var 2 and 8, means 1, 3
    assert frechet_distance(x, y) == pytest.approx((3 - 1) ** 2 + 2 + 8 - 2 * 4.0)


def test_cosine_by_hand():
    a = np.array([[1.0, 0.0], [1.0, 1.0]])
    assert mean_cosine(a, a) == pytest.approx(1.0)
    assert mean_cosine(a, np.array([[0.0, 3.0], [-1.0, -1.0]])) == pytest.approx(-0.5)


def test_mel_stats_embedding_segments_per_second():
    wave = np.sin(2 * np.pi * 440 * np.arange(22050 * 3) / 22050).astype(np.float32)
    (emb,) = MelStatsEmbedding()([wave], 22050)
    assert emb.shape == (3, 160)


def test_vggish_loads_the_ports_layout_and_embeds(tmp_path):
    model = VGGish()
    names = set(model.state_dict())
    assert {"features.0.weight", "features.13.weight", "embeddings.0.weight",
            "embeddings.4.weight"} <= names
    path = tmp_path / "vggish.pth"
    torch.save({**model.state_dict(), "pproc._pca_matrix": torch.zeros(128, 128)}, path)
    wave = np.random.default_rng(1).normal(0, 0.1, 22050 * 10).astype(np.float32)
    assert examples(wave, 22050).shape == (10, 96, 64)
    (emb,) = VGGishEmbedding(path)([wave], 22050)
    assert emb.shape == (10, 128) and np.all(emb >= 0)
    with pytest.raises(FileNotFoundError, match="vggish"):
        VGGishEmbedding(tmp_path / "missing.pth")


def test_envelope_correlation_catches_one_form_for_every_clip():
    from trainer.evaluate.musicality import envelope_correlation

    rng = np.random.default_rng(0)
    t = np.arange(896)
    template = np.sin(2 * np.pi * t / 300)[None, :]  # one loud-quiet form
    same_form = np.stack([0.5 * template + 0.05 * rng.standard_normal((80, 896))
                          for _ in range(6)])
    own_forms = np.stack([0.5 * np.sin(2 * np.pi * t / rng.uniform(150, 600)
                                       + rng.uniform(0, 6.3))[None, :]
                          + 0.05 * rng.standard_normal((80, 896)) for _ in range(6)])
    assert envelope_correlation(same_form) > 0.95
    assert envelope_correlation(own_forms) < 0.5


def test_a_mels_own_figures_agree_with_the_yardstick_on_real_music(music_clips):
    # Judging a training run on its mels (seconds) must tell what its vocoded clips would:
    # on real recordings the mel-domain figures match the WAV yardstick's.
    from a2m_core.audio import MelConfig, load_audio, wave_to_mel
    from trainer.evaluate.musicality import mel_figures, musicality

    cfg = MelConfig()
    for path in music_clips[:2]:
        wave = load_audio(path, cfg.sample_rate, duration_s=10.0)
        wav_f = musicality(wave, cfg.sample_rate)
        mel_f = mel_figures(wave_to_mel(wave, cfg), cfg)
        assert mel_f["band_std"] == pytest.approx(wav_f["band_std"], rel=0.15)
        assert mel_f["drift"] == pytest.approx(wav_f["drift"], rel=0.2)
    # and a drone measures as one
    drone = np.tile(wave_to_mel(wave, cfg)[:, :1], (1, cfg.n_frames))
    assert mel_figures(drone, cfg)["band_std"] < 0.5
