"""SPEC §4 metrics, each a small documented function checked against hand-computed cases.

Inputs are log-mels in the HiFi-GAN scale (natural log of magnitude mel, ``[n_mels, T]``) or
audio embeddings ``[N, D]``. Definitions (the paper does not spell them out; these are the
usual ones, and our choice is written here so numbers stay comparable between our runs):

- **MCD** (dB): mel cepstra = orthonormal DCT-II over the mel axis of the log-mel, coefficients
  1..K (c0, overall loudness, excluded), K = 13;
  ``MCD = (10 / ln 10) * sqrt(2 * sum_k (c_k - c'_k)^2)``, averaged over frames.
- **LSD** (dB): per frame ``sqrt(mean_f (L_f - L'_f)^2)`` with ``L = 20 log10(mel)``
  (power in dB), averaged over frames.
- **FAD**: Fréchet distance between Gaussians fitted to two embedding sets:
  ``|mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))``. The original uses VGGish embeddings
  (``VGGishEmbedding`` with a local weights file); ``MelStatsEmbedding`` needs no weights
  but gives numbers **not comparable to the paper's**.
- **cosine**: mean cosine similarity between each generated clip's embedding and its
  reference clip's embedding (same embedding model as FAD).
"""
from __future__ import annotations

import math
from typing import Protocol

import numpy as np
from scipy import linalg
from scipy.fft import dct

DB_PER_NEPER = 10.0 / math.log(10.0)


def _check(ref: np.ndarray, gen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref, gen = np.asarray(ref, np.float64), np.asarray(gen, np.float64)
    if ref.shape != gen.shape or ref.ndim != 2:
        raise ValueError(f"expected two log-mels [n_mels, T] of one shape, got {ref.shape} "
                         f"and {gen.shape}")
    return ref, gen


def mel_cepstrum(log_mel: np.ndarray, n_coeffs: int = 13) -> np.ndarray:
    """Cepstral coefficients 1..n_coeffs per frame: ``[n_coeffs, T]``."""
    return dct(np.asarray(log_mel, np.float64), type=2, norm="ortho", axis=0)[1 : n_coeffs + 1]


def mcd(ref_log_mel: np.ndarray, gen_log_mel: np.ndarray, n_coeffs: int = 13) -> float:
    """Mel cepstral distortion in dB (lower is better)."""
    ref, gen = _check(ref_log_mel, gen_log_mel)
    diff = mel_cepstrum(ref, n_coeffs) - mel_cepstrum(gen, n_coeffs)  # [K, T]
    return float(np.mean(DB_PER_NEPER * np.sqrt(2.0 * np.sum(diff**2, axis=0))))


def lsd(ref_log_mel: np.ndarray, gen_log_mel: np.ndarray) -> float:
    """Log-spectral distance in dB over the mel bands (lower is better)."""
    ref, gen = _check(ref_log_mel, gen_log_mel)
    # 20 log10(x) = 20 / ln 10 * ln(x): power dB from a natural-log magnitude
    diff_db = 2.0 * DB_PER_NEPER * (ref - gen)
    return float(np.mean(np.sqrt(np.mean(diff_db**2, axis=0))))


def frechet_distance(emb_a: np.ndarray, emb_b: np.ndarray) -> float:
    """Fréchet distance between Gaussian fits of two ``[N, D]`` embedding sets (N >= 2)."""
    a, b = np.asarray(emb_a, np.float64), np.asarray(emb_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"need two [N>=2, D] sets of one D, got {a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    covmean = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(covmean).all():  # singular product: regularise, as the FAD code does
        eps = np.eye(len(cov_a)) * 1e-6
        covmean = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    covmean = covmean.real
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b)
                 - 2.0 * np.trace(covmean))


def mean_cosine(emb_ref: np.ndarray, emb_gen: np.ndarray) -> float:
    """Mean cosine similarity of row i of one set with row i of the other (higher is better)."""
    a, b = np.asarray(emb_ref, np.float64), np.asarray(emb_gen, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired embeddings differ in shape: {a.shape} vs {b.shape}")
    num = np.sum(a * b, axis=1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float(np.mean(num / np.maximum(den, 1e-12)))


class AudioEmbedding(Protocol):
    """Anything that turns mono waves into per-segment embeddings, ``[n_i, D]`` per clip.

    FAD fits its Gaussians on all segments of all clips; cosine compares per-clip means.
    """

    name: str
    comparable_to_paper: bool

    def __call__(self, waves: list[np.ndarray], sample_rate: int) -> list[np.ndarray]: ...


class MelStatsEmbedding:
    """Per-second mean and standard deviation of each log-mel band (2 x n_mels values).

    Needs no weights. FAD and cosine computed with it rank systems consistently within our
    runs but are NOT comparable with the paper's VGGish-based numbers.
    """

    name = "mel-stats (not comparable to the paper's VGGish FAD)"
    label = "mel-stats"
    comparable_to_paper = False

    def __init__(self, mel_config=None) -> None:
        from a2m_core.audio import MelConfig

        self.cfg = mel_config or MelConfig()

    def __call__(self, waves: list[np.ndarray], sample_rate: int) -> list[np.ndarray]:
        from a2m_core.audio import log_mel_numpy

        seg = max(1, round(self.cfg.sample_rate / self.cfg.hop_length))  # frames per second
        out = []
        for w in waves:
            lm = log_mel_numpy(w, self.cfg)
            parts = [lm[:, i : i + seg] for i in range(0, lm.shape[1] - seg + 1, seg)] or [lm]
            out.append(np.stack([np.concatenate([p.mean(axis=1), p.std(axis=1)])
                                 for p in parts]))
        return out


def fad_and_cosine(emb: AudioEmbedding, ref_waves: list[np.ndarray],
                   gen_waves: list[np.ndarray], sample_rate: int,
                   ref: list[np.ndarray] | None = None) -> tuple[float, float]:
    """FAD over all segments and mean per-clip cosine, with one embedding model. ``ref``:
    the references' embeddings when already computed (one pass serves several settings)."""
    ref = ref if ref is not None else emb(ref_waves, sample_rate)
    gen = emb(gen_waves, sample_rate)
    fad = frechet_distance(np.concatenate(ref), np.concatenate(gen))
    cos = mean_cosine(np.stack([r.mean(0) for r in ref]), np.stack([g.mean(0) for g in gen]))
    return fad, cos
