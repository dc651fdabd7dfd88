"""What a music window is like, measured or known, and the feeling that follows from it.

Two rules, both documented in the dataset report:

- **Measured descriptors** of a wave (librosa): tempo (beat tracker), loudness (RMS, dBFS),
  brightness (spectral centroid), onset rate, and key and mode (chroma correlated with the
  Krumhansl–Kessler key profiles). Rendered music passes what it *knows* instead (the tempo
  and instrument it was rendered with, the score's key).
- **Valence and arousal from musical cues** (Juslin & Laukka 2004, their summary of cue
  utilisation): arousal rises with tempo, loudness and onset density; valence rises with the
  major mode, faster tempo and brightness. Cues are z-scored over the corpus, so "fast" means
  faster than the corpus' middle. The mood words of a caption come from the quadrant of
  (valence, arousal) (Russell's circumplex), never from guesswork.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# Krumhansl & Kessler (1982) probe-tone profiles, C major / C minor.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
PITCHES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@dataclass
class Descriptors:
    tempo_bpm: float
    loudness_db: float  # RMS level, dBFS
    brightness_hz: float  # mean spectral centroid
    onset_rate: float  # onsets per second
    key: str  # e.g. "D"
    mode: str  # "major" or "minor"

    def to_dict(self) -> dict[str, float | str]:
        return asdict(self)


def estimate_key(wave: np.ndarray, sr: int) -> tuple[str, str]:
    """Key and mode by correlating mean chroma with the Krumhansl–Kessler profiles."""
    import librosa

    chroma = librosa.feature.chroma_stft(y=wave, sr=sr, hop_length=512).mean(axis=1)
    best = (-2.0, "C", "major")
    for shift in range(12):
        for mode, profile in (("major", _MAJOR), ("minor", _MINOR)):
            r = float(np.corrcoef(np.roll(profile, shift), chroma)[0, 1])
            if r > best[0]:
                best = (r, PITCHES[shift], mode)
    return best[1], best[2]


def measure(wave: np.ndarray, sr: int, tempo_bpm: float | None = None,
            key: tuple[str, str] | None = None) -> Descriptors:
    """Descriptors of a mono wave; a known tempo or key (from a score) wins over estimates."""
    import librosa

    from a2m_core.numba_cache import warm_librosa

    warm_librosa()  # compiled once, under the cache's lock

    rms = float(np.sqrt(np.mean(wave.astype(np.float64) ** 2)) + 1e-9)
    centroid = float(librosa.feature.spectral_centroid(y=wave, sr=sr, hop_length=512).mean())
    onsets = librosa.onset.onset_detect(y=wave, sr=sr, hop_length=512, units="time")
    if tempo_bpm is None:
        tempo_bpm = float(np.atleast_1d(librosa.beat.beat_track(y=wave, sr=sr,
                                                                hop_length=512)[0])[0])
    key = key or estimate_key(wave, sr)
    return Descriptors(round(float(tempo_bpm), 1), round(20 * np.log10(rms), 2),
                       round(centroid, 1), round(len(onsets) / (len(wave) / sr), 3), *key)


def _z(values: np.ndarray) -> np.ndarray:
    sd = values.std()
    return (values - values.mean()) / (sd if sd > 1e-9 else 1.0)


def valence_arousal(rows: list[Descriptors]) -> np.ndarray:
    """``[N, 2]`` (valence, arousal) of a corpus, from z-scored cues (Juslin & Laukka 2004)."""
    tempo = _z(np.array([r.tempo_bpm for r in rows]))
    loud = _z(np.array([r.loudness_db for r in rows]))
    onset = _z(np.array([r.onset_rate for r in rows]))
    bright = _z(np.array([r.brightness_hz for r in rows]))
    mode = np.array([1.0 if r.mode == "major" else -1.0 for r in rows])
    arousal = 0.45 * tempo + 0.3 * loud + 0.25 * onset
    valence = 0.6 * mode + 0.25 * tempo + 0.15 * bright
    return np.stack([_z(valence), _z(arousal)], axis=1)


# Russell's circumplex quadrants -> the words a caption uses for them.
_MOODS = {
    (True, True): ("joyful", "lively", "energetic", "cheerful"),
    (True, False): ("calm", "peaceful", "gentle", "serene"),
    (False, True): ("tense", "dramatic", "restless", "agitated"),
    (False, False): ("sad", "melancholic", "sombre", "wistful"),
}


def mood_words(valence: float, arousal: float, n: int = 2) -> list[str]:
    """Two (or ``n``) mood words of a (valence, arousal) point; strong points get stronger
    words first."""
    words = _MOODS[(valence >= 0, arousal >= 0)]
    strong = max(abs(valence), abs(arousal)) > 1.0
    order = words if strong else words[1:] + words[:1]
    return list(order[:n])


def tempo_word(bpm: float) -> str:
    return "slow" if bpm < 80 else "moderate" if bpm < 115 else "fast"


def loudness_word(db: float, quiet: float, loud: float) -> str:
    return "quiet" if db < quiet else "loud" if db > loud else "medium-loud"
