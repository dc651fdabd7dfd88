"""The one mel convention: real clips in, the same numbers out of numpy and torch."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from a2m_core.audio import (
    MelConfig,
    denormalize,
    griffin_lim,
    load_audio,
    log_mel_numpy,
    log_mel_torch,
    normalize,
    wave_to_mel,
    wave_to_mel_torch,
)
from a2m_core.errors import BadInputError

from .conftest import EXAMPLE_PAINTING

CFG = MelConfig()
# Measured on the four fixture clips: 1.5e-4 at worst (float32 torch vs float64 numpy).
NUMPY_TORCH_BOUND = 1e-3


def test_the_paper_numbers_are_the_defaults():
    assert (CFG.sample_rate, CFG.n_fft, CFG.hop_length, CFG.win_length) == (22050, 1024, 256, 1024)
    assert (CFG.n_mels, CFG.fmin, CFG.fmax, CFG.n_frames) == (80, 0.0, 8000.0, 896)
    assert CFG.duration_s == pytest.approx(10.40, abs=0.01)


def test_real_clips_load_mono_at_22050(music_clips):
    for path in music_clips:
        wave = load_audio(path, CFG.sample_rate)
        info = sf.info(str(path))
        assert wave.dtype == np.float32 and wave.ndim == 1
        assert wave.size / CFG.sample_rate == pytest.approx(info.duration, abs=0.05)


def test_a_window_of_a_long_clip_can_be_cut_on_load(music_clips):
    wave = load_audio(music_clips[0], CFG.sample_rate, offset_s=30.0, duration_s=10.0)
    assert wave.size == pytest.approx(10.0 * CFG.sample_rate, abs=2)


def test_dataset_path_and_training_path_agree_on_real_music(music_clips):
    for path in music_clips:
        wave = load_audio(path, CFG.sample_rate)[: CFG.n_samples]
        from_numpy = normalize(log_mel_numpy(wave, CFG), CFG)
        from_torch = normalize(log_mel_torch(torch.from_numpy(wave), CFG), CFG).numpy()
        assert from_numpy.shape == from_torch.shape
        assert np.abs(from_numpy - from_torch).max() < NUMPY_TORCH_BOUND, path.name


def test_full_clip_gives_80_by_896_in_range(music_clips):
    mel = wave_to_mel(load_audio(music_clips[0], CFG.sample_rate), CFG)
    assert mel.shape == (80, 896)
    assert mel.min() >= -1.0 and mel.max() <= 1.0
    assert mel.std() > 0.1  # real music, not a flat line


def test_short_trumpet_loop_is_padded_with_silence(shared_data):
    path = shared_data / "music_clips" / "sorohanro_-_solo-trumpet-06.ogg"
    wave = load_audio(path, CFG.sample_rate)
    mel = wave_to_mel(wave, CFG)
    frames = wave.size // CFG.hop_length
    assert mel.shape == (80, 896)
    assert np.all(mel[:, frames + 1 :] == CFG.pad_value)
    assert mel[:, : frames - 1].max() > -0.5


def test_torch_batch_path_matches_numpy(music_clips):
    waves = [load_audio(p, CFG.sample_rate)[: CFG.n_samples] for p in music_clips[:3]]
    batch = torch.from_numpy(np.stack(waves))
    mels = wave_to_mel_torch(batch, CFG)
    assert mels.shape == (3, 80, 896)
    for w, m in zip(waves, mels):
        assert np.abs(wave_to_mel(w, CFG) - m.numpy()).max() < NUMPY_TORCH_BOUND


def test_normalisation_is_an_exact_fixed_inverse():
    log_mel = np.linspace(CFG.log_min, CFG.log_max, 1000, dtype=np.float64)
    assert np.allclose(denormalize(normalize(log_mel, CFG), CFG), log_mel, atol=1e-9)
    # fixed constants: the same log level maps to the same value whatever the clip
    assert normalize(np.array([CFG.log_min]), CFG)[0] == -1.0
    assert normalize(np.array([CFG.log_max]), CFG)[0] == pytest.approx(1.0, abs=1e-12)


def test_digital_silence_is_the_floor():
    mel = wave_to_mel(np.zeros(CFG.n_samples, np.float32), CFG)
    assert np.all(mel == -1.0)


def test_loudness_survives_the_round_trip(music_clips):
    wave = load_audio(music_clips[1], CFG.sample_rate)[: CFG.n_samples]
    loud, quiet = wave_to_mel(wave, CFG), wave_to_mel(wave * 0.1, CFG)
    active = loud > -0.5
    # -20 dB is a fixed shift of log(10) in log-mel space, i.e. a fixed normalised offset
    shift = np.log(10.0) * 2 / (CFG.log_max - CFG.log_min)
    assert np.median(loud[active] - quiet[active]) == pytest.approx(shift, rel=0.05)


def test_other_sample_rates_are_resampled(tmp_path):
    sr = 44100
    t = np.arange(sr * 2) / sr
    sf.write(tmp_path / "a440.wav", 0.5 * np.sin(2 * np.pi * 440 * t), sr)
    wave = load_audio(tmp_path / "a440.wav", CFG.sample_rate)
    assert wave.size == pytest.approx(2 * CFG.sample_rate, abs=2)
    spectrum = np.abs(np.fft.rfft(wave))
    peak_hz = np.argmax(spectrum) * CFG.sample_rate / wave.size
    assert peak_hz == pytest.approx(440, abs=2)


def test_missing_and_corrupt_audio_say_which_file(tmp_path):
    with pytest.raises(BadInputError, match="not found"):
        load_audio(tmp_path / "nope.ogg", CFG.sample_rate)
    bad = tmp_path / "broken.ogg"
    bad.write_bytes(b"OggS" + b"\x00" * 200)
    with pytest.raises(BadInputError, match="broken.ogg"):
        load_audio(bad, CFG.sample_rate)


def test_griffin_lim_fallback_rebuilds_the_mel(music_clips):
    mel = wave_to_mel(load_audio(music_clips[2], CFG.sample_rate), CFG)
    wave = griffin_lim(mel, CFG, n_iter=16)
    assert wave.shape == (CFG.n_samples,) and wave.dtype == np.float32
    # measured 0.031 mean abs error at 32 iterations on this clip
    assert np.abs(wave_to_mel(wave, CFG) - mel).mean() < 0.06
    assert np.array_equal(wave, griffin_lim(mel, CFG, n_iter=16))  # seeded phase


def test_griffin_lim_of_silence_is_silent():
    wave = griffin_lim(np.full((80, 896), -1.0, np.float32), CFG, n_iter=2)
    assert np.abs(wave).max() < 1e-6


@pytest.mark.parametrize("cfg", [MelConfig(), MelConfig(sample_rate=16000, n_fft=512,
                                                        win_length=512, hop_length=128,
                                                        n_mels=64, fmin=30.0, fmax=7600.0)])
def test_our_mel_filters_are_librosas(cfg):
    # Written out so generation never imports librosa; the dataset path's librosa is the
    # reference they must keep matching.
    import librosa

    from a2m_core.audio import _mel_basis_np

    want = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels,
                               fmin=cfg.fmin, fmax=cfg.fmax)
    assert np.allclose(_mel_basis_np(cfg), want, rtol=1e-5, atol=1e-8)


def test_generating_and_streaming_never_import_librosa(tiny_bundle):
    # librosa (with numba) costs ~1.7 s to import: the first streamed clip of a gallery's
    # process waited 2.0 s instead of 0.4 s for its first sound while it did.
    code = (
        "import sys\n"
        "from a2m_core import Art2Music\n"
        "from a2m_core.mel.acceleration import RuntimeOptions\n"
        f"e = Art2Music.load({str(tiny_bundle)!r}, device='cpu', "
        "runtime=RuntimeOptions(vocoder_backend='torch'))\n"
        f"e.generate({str(EXAMPLE_PAINTING)!r}, 'a storm at sea', seed=1)\n"
        f"list(e.generate_stream({str(EXAMPLE_PAINTING)!r}, 'calm water', seed=2))\n"
        f"g = Art2Music.load({str(tiny_bundle)!r}, device='cpu', vocoder='griffin-lim')\n"
        f"g.generate({str(EXAMPLE_PAINTING)!r}, 'a storm at sea', seed=1)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('librosa', 'numba')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
