"""Which of the sampler's instruments sounds most like a recording: analysis by synthesis.

The recording's transcribed notes are played on every candidate General MIDI family by the
notes bundle's own sampler, and each rendering is compared with the recording by timbre:
the mean and spread of its MFCCs 1-12 (the spectral envelope, what separates an organ from
strings at the same pitches) and its onset sharpness (struck instruments attack and
decay). Rendering the *same notes* removes pitch and rhythm from the comparison, which a
fixed table of centroids per instrument could not do.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from a2m_core.notes.plan import INSTRUMENTS
from a2m_core.notes.score import Note

from .transcribe import TimedNote

# The instruments a user's model may be given: FluidR3's flute, clarinet and accordion
# presets flutter as tinysoundfont plays them (see note_corpus.py), so they are not offered.
CANDIDATES = tuple(i for i in INSTRUMENTS if i not in ("flute", "clarinet", "accordion"))


def timbre_vector(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """MFCC 1-12 means and standard deviations over the sounding frames, and the mean
    onset strength per unit loudness (attack sharpness)."""
    import librosa

    y = np.asarray(wave, np.float32)
    mfcc = librosa.feature.mfcc(y=y, sr=sample_rate, n_mfcc=13, n_fft=2048, hop_length=512)
    rms = librosa.feature.rms(y=y, frame_length=2048, hop_length=512)[0]
    sounding = rms > rms.max() * 0.05 if rms.max() > 0 else np.ones_like(rms, bool)
    m = mfcc[1:, : len(sounding)][:, sounding[: mfcc.shape[1]]]
    onset = librosa.onset.onset_strength(y=y, sr=sample_rate, hop_length=512)
    attack = float(onset.mean() / max(float(rms[sounding].mean()) * 100, 1e-6))
    return np.concatenate([m.mean(1) / 10, m.std(1) / 10, [attack]])


def nearest_instrument(wave: np.ndarray, sample_rate: int, notes: Sequence[TimedNote],
                       candidates: Sequence[str] = CANDIDATES) -> tuple[str, dict[str, float]]:
    """The candidate whose rendering of ``notes`` (seconds, within ``wave``) sounds most
    like ``wave``; returns it and every candidate's distance (smaller: closer)."""
    from a2m_core.notes.sampler import Sampler, SamplerConfig

    sampler = Sampler(SamplerConfig(reverb_wet=0.0, sample_rate=sample_rate, stereo=False))
    target = timbre_vector(wave, sample_rate)
    # at 60 bpm a beat is a second: the notes play at the recording's own times
    beat_notes = [Note(n.start, n.end - n.start, n.pitch, n.velocity) for n in notes]
    dist = {}
    for name in candidates:
        rendered = sampler.render(beat_notes, 60.0, name, len(wave))
        dist[name] = float(np.linalg.norm(timbre_vector(rendered, sample_rate) - target))
    return min(dist, key=dist.get), dist


def family_of_program(program: int) -> str:
    """The sampler's instrument nearest a General MIDI program (a MIDI file's own choice)."""
    group = program // 8  # GM groups of eight: pianos, chromatic percussion, organs, ...
    same = [n for n in CANDIDATES if INSTRUMENTS[n][0] // 8 == group]
    if same:
        return min(same, key=lambda n: abs(INSTRUMENTS[n][0] - program))
    # basses, reeds and pipes, synth leads and pads: the nearest that plays well
    return {4: "guitar", 8: "violin", 9: "violin", 10: "strings", 11: "strings"}.get(
        group, "piano")
