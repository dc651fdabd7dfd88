"""Notes from a person's recordings: basic-pitch hears them in audio, a MIDI file has them.

Audio is transcribed by Spotify's basic-pitch (Apache-2.0; its ONNX model ships inside the
PyPI wheel and runs on onnxruntime, so it installs ``--no-deps`` without TensorFlow). The
recording is read 30 s at a time and at most ``max_seconds`` of it are heard: a 3-hour
file costs one chunk's memory and a few minutes, not the whole file. The beat grid (tempo
and the first beat) comes from librosa's beat tracker on the same chunks' onset strength.

A ``.mid`` file is taken as it is: its notes, and the tempo it states.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from a2m_core.errors import BadInputError
from a2m_core.notes.score import Note

MIDI_SUFFIXES = frozenset({".mid", ".midi"})
# The tempi a MIDI file may state: beyond these its beats are not a pulse a person plays or
# hears (a 600 us set_tempo is 100,000 bpm), so the file is refused, not stretched.
MIDI_TEMPO_RANGE = (30.0, 300.0)
SAMPLE_RATE = 22050  # basic-pitch's own rate
CHUNK_S = 30.0
MAX_SECONDS = 180.0
HOP = 512  # onset-strength hop for the beat tracker

_MODEL: Any = None


def basic_pitch_model() -> Any:
    """basic-pitch's ONNX model, loaded once (telemetry off before its session)."""
    global _MODEL
    if _MODEL is None:
        import sys

        try:
            from a2m_core.mel.acceleration import onnx_runtime

            onnx_runtime()
            # basic-pitch prefers TensorFlow when it can import it (musicnn installs it);
            # hiding it keeps the ONNX model and spares ~8 s and ~500 MB of TF on import
            hidden = "tensorflow" not in sys.modules
            if hidden:
                sys.modules["tensorflow"] = None  # type: ignore[assignment]
            logging.disable(logging.WARNING)  # its import warns of every backend it lacks
            try:
                from basic_pitch import FilenameSuffix, build_icassp_2022_model_path
                from basic_pitch.inference import Model
            finally:
                logging.disable(logging.NOTSET)
                if hidden:
                    del sys.modules["tensorflow"]
        except ImportError as err:
            raise RuntimeError("transcription needs basic-pitch: pip install --no-deps "
                               "basic-pitch==0.4.0 (see requirements-eval.txt)") from err
        with contextlib.redirect_stderr(io.StringIO()):
            _MODEL = Model(build_icassp_2022_model_path(FilenameSuffix.onnx))
    return _MODEL


@dataclass(frozen=True)
class TimedNote:
    start: float  # seconds from the recording's start
    end: float
    pitch: int  # MIDI
    velocity: int  # 1..127


def transcribe_wave(wave: np.ndarray, sample_rate: int) -> list[TimedNote]:
    """The notes basic-pitch hears in a mono wave (velocity from its amplitude)."""
    import soundfile as sf

    model = basic_pitch_model()  # first: it imports basic-pitch without TensorFlow
    from basic_pitch.inference import predict

    fd, path = tempfile.mkstemp(suffix=".wav")
    os.close(fd)
    try:
        sf.write(path, np.asarray(wave, np.float32), sample_rate)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(
                io.StringIO()):
            _, _, events = predict(path, model)
    finally:
        os.unlink(path)
    notes = [TimedNote(float(s), float(e), int(p), int(np.clip(round(a * 127), 1, 127)))
             for s, e, p, a, *_ in events]
    return sorted(notes, key=lambda n: (n.start, n.pitch))


@dataclass
class Transcription:
    notes: list[TimedNote]
    seconds: float  # how much of the recording was heard
    length_s: float  # the whole recording
    tempo: float  # bpm
    first_beat: float  # seconds
    how: str  # "basic-pitch" or "midi"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "notes": [list(asdict(n).values()) for n in self.notes]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Transcription:
        return cls(**{**d, "notes": [TimedNote(*n) for n in d["notes"]]})

    def in_beats(self) -> list[Note]:
        """The notes on the beat grid (onsets and durations in beats from the first beat)."""
        k = self.tempo / 60.0
        return [Note((n.start - self.first_beat) * k, max(n.end - n.start, 0.05) * k,
                     n.pitch, n.velocity) for n in self.notes if n.start >= self.first_beat]


def transcribe_recording(path: Path, max_seconds: float = MAX_SECONDS,
                         stop: Callable[[], bool] | None = None) -> Transcription:
    """Notes and beat grid of an audio file or a MIDI file.

    Raises:
        BadInputError: unreadable, empty, too short, or silent (the message says which).
        InterruptedError: ``stop`` returned true between chunks.
    """
    if path.suffix.lower() in MIDI_SUFFIXES:
        return midi_transcription(path)
    import librosa

    from a2m_core.audio import load_audio
    from a2m_core.numba_cache import warm_librosa

    from .recordings import MIN_RECORDING_S, recording_seconds

    warm_librosa()  # compiled once, under the cache's lock

    length = recording_seconds(path)
    if length < MIN_RECORDING_S:
        raise BadInputError(f"only {length:.1f} s long; recordings need at least "
                            f"{MIN_RECORDING_S:g} s")
    span = min(length, max_seconds)
    notes: list[TimedNote] = []
    envelope: list[np.ndarray] = []
    loud = False
    t = 0.0
    while t < span - 0.5:
        if stop is not None and stop():
            raise InterruptedError("stopped while transcribing; run again to continue")
        dur = min(CHUNK_S, span - t)
        wave = load_audio(path, SAMPLE_RATE, offset_s=t, duration_s=dur)
        if np.sqrt(np.mean(wave ** 2)) >= 1e-3:
            loud = True
            notes += [TimedNote(n.start + t, n.end + t, n.pitch, n.velocity)
                      for n in transcribe_wave(wave, SAMPLE_RATE)]
        envelope.append(librosa.onset.onset_strength(y=wave, sr=SAMPLE_RATE, hop_length=HOP))
        t += dur
    if not loud:
        raise BadInputError(f"silent: nothing above -60 dBFS in its first {span:.0f} s")
    if len(notes) < 8:
        raise BadInputError(f"{len(notes)} note(s) heard in {span:.0f} s: not music a note "
                            f"model can learn from (speech, noise or a drone?)")
    env = np.concatenate(envelope)
    tempo, beats = librosa.beat.beat_track(onset_envelope=env, sr=SAMPLE_RATE, hop_length=HOP)
    tempo = float(np.atleast_1d(tempo)[0]) or 120.0
    first = float(librosa.frames_to_time(beats[0], sr=SAMPLE_RATE, hop_length=HOP)) \
        if len(beats) else notes[0].start
    # the grid starts at the first beat at or before the first note
    first = first - 60.0 / tempo * np.ceil(max(0.0, first - notes[0].start) * tempo / 60.0)
    return Transcription(notes, round(span, 2), round(length, 2), round(tempo, 2),
                         round(max(first, 0.0), 3), "basic-pitch")


def midi_transcription(path: Path) -> Transcription:
    """A MIDI file's notes in seconds at the tempo it states first."""
    from a2m_core.notes.score import read_midi

    try:
        beat_notes, bpm = read_midi(path)
    except Exception as err:  # noqa: BLE001 - mido raises several types for bad files
        raise BadInputError(f"not a readable MIDI file ({type(err).__name__}: "
                            f"{str(err)[:80]})") from None
    if len(beat_notes) < 8:
        raise BadInputError(f"{len(beat_notes)} note(s) in the file: too few to learn from")
    lo, hi = MIDI_TEMPO_RANGE
    if not lo <= bpm <= hi:
        raise BadInputError(f"its tempo is {bpm:.4g} bpm, not a musical tempo: MIDI files "
                            f"between {lo:.0f} and {hi:.0f} bpm are taken")
    sec = 60.0 / bpm
    notes = [TimedNote(n.onset * sec, (n.onset + n.duration) * sec, n.pitch, n.velocity)
             for n in beat_notes]
    end = max(n.end for n in notes)
    return Transcription(notes, round(end, 2), round(end, 2), round(bpm, 2), 0.0, "midi")


def midi_program(path: Path) -> int | None:
    """The first program change in a MIDI file (None when it names none)."""
    import mido

    with contextlib.suppress(Exception):
        for track in mido.MidiFile(str(path)).tracks:
            for msg in track:
                if msg.type == "program_change" and msg.channel != 9:
                    return int(msg.program)
    return None
