"""Output level and edges: loudness-normalise, keep peaks under a soft ceiling, fade in and out.

Integrated loudness follows ITU-R BS.1770-4 (the same target, -14 LUFS, that MusicGen's audio
writer uses by default), so clips from different paintings play at the same perceived level
in an installation.

Two finishers, one per kind of bundle:

- :class:`ChunkFinisher` finishes a mel bundle's clip piece by piece as the vocoder makes it:
  a one-shot clip is the same pieces collected, so ``generate`` and ``generate_stream`` give
  the same samples and the same level. The gain is set before any sound exists, from the
  loudness the mel predicts (``streaming.loudness_from_mel``: within 1.5 dB of the measured
  one on real music).
- :func:`finish` measures a whole wave (``loudness.integrated_lufs``) and finishes it at
  once: a notes bundle's sampler plays a clip in ~0.03 s, so its stream is the finished clip
  in pieces.
"""
from __future__ import annotations

import logging
import math

import numpy as np

log = logging.getLogger(__name__)

SILENCE_LUFS = -70.0  # BS.1770's absolute gate: quieter than this is treated as silence


def measure_lufs(wave: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS; ``-inf`` for silence or clips under 0.4 s."""
    from .loudness import integrated_lufs

    return integrated_lufs(wave, sample_rate)


def fade_ramp(n: int) -> np.ndarray:
    """The raised-cosine fade-in gains of ``n`` samples (reversed: the fade-out)."""
    return (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))).astype(np.float32)


def fade(wave: np.ndarray, sample_rate: int, fade_ms: float) -> np.ndarray:
    """Raised-cosine fade-in and fade-out of ``fade_ms`` each (no click at either end);
    ``wave`` is ``[n]`` or ``[n, channels]``."""
    n = min(int(sample_rate * fade_ms / 1000.0), len(wave) // 2)
    if n <= 0:
        return wave
    ramp = fade_ramp(n).astype(wave.dtype)
    if wave.ndim == 2:
        ramp = ramp[:, None]
    out = wave.copy()
    out[:n] *= ramp
    out[-n:] *= ramp[::-1]
    return out


def finish(
    wave: np.ndarray,
    sample_rate: int,
    loudness_lufs: float | None = -14.0,
    peak_dbfs: float = -1.0,
    fade_ms: float = 10.0,
) -> np.ndarray:
    """A raw wave ``[n]`` or ``[n, channels]`` -> a clip ready to play or save (float32,
    within the peak ceiling; the loudness of all channels together)."""
    out = np.nan_to_num(np.asarray(wave, dtype=np.float32))
    out = out - out.mean(axis=0)  # a DC offset wastes headroom and thumps on playback
    # Fade before measuring: vocoders leave transients at the edges that would otherwise
    # dominate the peak ceiling and pull the whole clip down.
    out = fade(out, sample_rate, fade_ms)
    if loudness_lufs is not None:
        current = measure_lufs(out, sample_rate)
        if math.isfinite(current) and current > SILENCE_LUFS:
            out = out * np.float32(10.0 ** ((loudness_lufs - current) / 20.0))
        else:
            log.info("clip is silent (%.1f LUFS); loudness left unchanged", current)
    # A soft ceiling, not a scale to the peak: one vocoder click near the end used to pull a
    # whole clip 13 dB under its loudness target. It is also what a streamed clip can do
    # (its peak is unknown while it plays), so both paths end at the same level.
    return soft_ceiling(out, peak_dbfs).astype(np.float32)


class ChunkFinisher:
    """Finishes a clip of ``total`` samples piece by piece, in order or not: the gain, the
    raised-cosine fades at the clip's two ends (by absolute sample index) and the soft
    ceiling. Any cut into pieces gives the same samples."""

    def __init__(self, total: int, sample_rate: int, gain: float = 1.0,
                 peak_dbfs: float = -1.0, fade_ms: float = 10.0) -> None:
        self.total, self.gain, self.peak_dbfs = total, np.float32(gain), peak_dbfs
        self.fade_n = min(int(sample_rate * fade_ms / 1000.0), total // 2)
        self.ramp = fade_ramp(self.fade_n)

    def __call__(self, start: int, raw: np.ndarray) -> np.ndarray:
        out = np.nan_to_num(np.asarray(raw, dtype=np.float32)) * self.gain
        idx = np.arange(start, start + out.size)
        head, tail = idx < self.fade_n, idx >= self.total - self.fade_n
        out[head] *= self.ramp[idx[head]]
        out[tail] *= self.ramp[self.total - 1 - idx[tail]]
        return soft_ceiling(out, self.peak_dbfs).astype(np.float32)


def soft_ceiling(wave: np.ndarray, peak_dbfs: float, knee: float = 0.8) -> np.ndarray:
    """Identity below ``knee * ceiling``; above, a smooth monotonic curve that never reaches
    the ceiling. Only the loudest samples change."""
    c = 10.0 ** (peak_dbfs / 20.0)
    k = knee * c
    a = np.abs(wave)
    over = a > k
    if not over.any():
        return wave
    out = wave.copy()
    out[over] = np.sign(wave[over]) * (k + (c - k) * np.tanh((a[over] - k) / (c - k)))
    return out
