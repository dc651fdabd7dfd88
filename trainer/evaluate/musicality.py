"""Does it sound like music, or like a drone? Figures on audio and on mels.

``musicality`` computes the same four numbers as the project's yardstick script
(``shared/tools/musicality.py``: librosa's power mel in dB, 80 dB range, first 10 s):

- ``band_std``: mean over 80 mel bands of each band's std over time, dB (a drone is low);
- ``onsets``: detected onsets per second;
- ``flux``: mean positive frame-to-frame change of the dB mel;
- ``drift``: mean |difference| between the 1-s average spectra of successive seconds, dB.

``copy_distance`` says whether generated mels are new or replays: the mean L1 (normalised
units) to the nearest training mel; real held-out windows give the reference level.
``mel_db_change`` is how far two mels are apart in dB (20 log10 of the mel magnitude).
``envelope_correlation`` catches a model that gives every clip the same form: the mean
correlation between clips' loudness envelopes (0.5-s smoothing); real windows of a corpus
measure about 0.4, one fixed loud-quiet template about 0.95.
"""
from __future__ import annotations

import math

import numpy as np

from a2m_core.audio import MelConfig, denormalize, mono_at


def musicality(wave: np.ndarray, sample_rate: int) -> dict[str, float]:
    """The yardstick's four figures of a wave (its channels together, resampled to
    22,050 Hz if needed)."""
    import librosa

    from a2m_core.numba_cache import warm_librosa

    warm_librosa()  # compiled once, under the cache's lock

    y = mono_at(wave, sample_rate)
    if sample_rate != 22050:
        y = librosa.resample(y, orig_sr=sample_rate, target_sr=22050)
    sr = 22050
    y = y[: sr * 10]
    m = librosa.power_to_db(librosa.feature.melspectrogram(
        y=y, sr=sr, n_fft=1024, hop_length=256, n_mels=80, fmax=8000), ref=np.max, top_db=80)
    onsets = librosa.onset.onset_detect(y=y, sr=sr, hop_length=256, units="time")
    return {**_db_figures(m), "onsets": len(onsets) / (len(y) / sr)}


def _db_figures(m: np.ndarray, frames_per_s: int = 86) -> dict[str, float]:
    """band std, flux and drift of a dB mel ``[n_mels, frames]`` already cut to 10 s and to
    an 80 dB range (the yardstick's definitions; 86 frames = one second at hop 256)."""
    d = np.diff(m, axis=1)
    sec = [m[:, i:i + frames_per_s].mean(axis=1)
           for i in range(0, m.shape[1] - frames_per_s, frames_per_s)]
    drift = float(np.mean([np.abs(a - b).mean() for a, b in zip(sec, sec[1:])])) \
        if len(sec) > 1 else 0.0
    return {"band_std": float(m.std(axis=1).mean()), "flux": float(np.maximum(d, 0).mean()),
            "drift": drift}


def mel_figures(norm_mel: np.ndarray, cfg: MelConfig) -> dict[str, float]:
    """``band_std``, ``flux`` and ``drift`` of a normalised mel ``[n_mels, T]`` itself, with
    the yardstick's definitions (dB, 80 dB range, first 10 s), no vocoder in between.

    Why: judging a training run by its mels takes seconds, where vocoding clips takes
    minutes; on the committed starter's clips the two agree within ~0.4 dB (band std).
    """
    log_mel = denormalize(np.asarray(norm_mel, np.float64), cfg)  # natural-log magnitude
    db = log_mel * 20.0 / math.log(10.0)  # magnitude -> dB, as 10 log10 of power
    fps = cfg.sample_rate / cfg.hop_length
    m = db[:, : int(10 * fps)]
    return _db_figures(np.maximum(m, m.max() - 80.0), int(round(fps)))


def mean_figures(rows: list[dict[str, float]]) -> dict[str, float]:
    """The mean of each figure over rows of ``musicality`` or ``mel_figures``."""
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def copy_distance(mels: np.ndarray, train: np.ndarray, chunk: int = 256) -> np.ndarray:
    """``[N]`` mean L1 from each mel ``[N, n_mels, T]`` to its nearest one in ``train``."""
    a = mels.reshape(len(mels), -1).astype(np.float32)
    best = np.full(len(a), np.inf, np.float32)
    for s in range(0, len(train), chunk):
        b = np.asarray(train[s:s + chunk], dtype=np.float32).reshape(-1, a.shape[1])
        for i in range(len(a)):
            best[i] = min(best[i], float(np.abs(b - a[i]).mean(axis=1).min()))
    return best


def mel_db_change(a: np.ndarray, b: np.ndarray, cfg: MelConfig) -> float:
    """Mean |difference| in dB (20 log10 of mel magnitude) of two normalised mels."""
    nepers = np.abs(a - b) * (cfg.log_max - cfg.log_min) / 2.0
    return float(nepers.mean() * 20.0 / math.log(10.0))


def envelope_correlation(mels: np.ndarray) -> float:
    """Mean pairwise correlation of the loudness envelopes of normalised mels
    ``[N, n_mels, T]`` (band mean per frame, smoothed over 43 frames = 0.5 s)."""
    import itertools

    kernel = np.ones(43) / 43
    envs = [np.convolve(np.asarray(m, np.float64).mean(0), kernel, "valid") for m in mels]
    pairs = [np.corrcoef(a, b)[0, 1] for a, b in itertools.combinations(envs, 2)
             if a.std() > 1e-9 and b.std() > 1e-9]
    return float(np.mean(pairs)) if pairs else float("nan")
