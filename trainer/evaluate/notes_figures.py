"""The notes yardstick: what a listener calls notes, key and noise, from the sound alone.

Clips are transcribed with Spotify's basic-pitch (its ONNX model ships inside the PyPI
wheel; ``pip install --no-deps basic-pitch==0.4.0``), which nobody here trained, so a model
cannot flatter itself. Figures of one clip (its first 10 s):

- ``notes_per_s``: transcribed notes per second (a chord's notes each count);
- ``onsets_per_s``: distinct transcribed onsets per second (notes starting within 50 ms of
  each other count once: the rhythm's density, not the chords' thickness);
- ``key``: the best Krumhansl-Kessler correlation of the duration-weighted pitch-class
  histogram (tonal music ~0.7-0.9, random pitches ~0.3-0.5);
- ``voiced``: share of 50 ms frames in which a note sounds;
- ``flat``: mean spectral flatness (0 tones .. 1 white noise);
- ``harm``: harmonic share of the HPSS energy (1: sustained pitch, 0: strokes).
"""
from __future__ import annotations

import numpy as np

from a2m_core.audio import mono_at
from a2m_core.notes.score import KK_MAJOR, KK_MINOR

from ..data.transcribe import transcribe_wave


def key_clarity(hist: np.ndarray) -> float:
    if hist.sum() == 0 or np.ptp(hist) == 0:
        return 0.0
    return max(float(np.corrcoef(hist, np.roll(prof, k))[0, 1])
               for prof in (KK_MAJOR, KK_MINOR) for k in range(12))


def transcribe(wave: np.ndarray, sample_rate: int) -> list[tuple[float, float, int]]:
    """(start s, end s, MIDI pitch) of the notes basic-pitch hears in a mono wave."""
    return [(n.start, n.end, n.pitch) for n in transcribe_wave(wave, sample_rate)]


def notes_figures(wave: np.ndarray, sample_rate: int, seconds: float = 10.0
                  ) -> dict[str, float]:
    import librosa

    y = mono_at(wave, sample_rate)[: int(sample_rate * seconds)]  # channels together
    dur = len(y) / sample_rate
    notes = [n for n in transcribe(y, sample_rate) if n[0] < dur]
    hist = np.zeros(12)
    frames = np.zeros(int(dur * 20) + 1, bool)
    for start, end, pitch in notes:
        d = max(0.0, min(end, dur) - start)
        hist[pitch % 12] += d
        frames[int(start * 20):int(min(end, dur) * 20) + 1] = True
    starts = sorted(n[0] for n in notes)
    onsets = sum(1 for k, s in enumerate(starts) if k == 0 or s - starts[k - 1] > 0.05)
    flat = float(librosa.feature.spectral_flatness(y=y, n_fft=1024, hop_length=256).mean())
    h, p = librosa.effects.hpss(y)
    harm = float((h ** 2).sum() / max(1e-12, (h ** 2).sum() + (p ** 2).sum()))
    return {"notes_per_s": len(notes) / dur, "onsets_per_s": onsets / dur,
            "key": key_clarity(hist), "voiced": float(frames.mean()), "flat": flat,
            "harm": harm}
