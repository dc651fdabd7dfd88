"""What generation gives: a finished clip, and the pieces of a clip being streamed."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import BadInputError
from .fileio import atomic_path
from .notes.plan import Plan
from .notes.score import Note

if TYPE_CHECKING:
    from .painting import PaintingLook


# suffix -> (libsndfile format, subtype by bit depth; lossy formats have one)
AUDIO_FORMATS = {".wav": ("WAV", {16: "PCM_16", 24: "PCM_24"}),
                 ".flac": ("FLAC", {16: "PCM_16", 24: "PCM_24"}),
                 ".ogg": ("OGG", {16: "VORBIS", 24: "VORBIS"}),
                 ".mp3": ("MP3", {16: "MPEG_LAYER_III", 24: "MPEG_LAYER_III"})}
BIT_DEPTHS = (16, 24)


def check_audio_path(path: Path, bits: int = 16) -> None:
    """Refuse, in one line, a file kind or a bit depth this cannot write.

    Raises:
        BadInputError: another suffix than .wav/.flac/.ogg/.mp3, or bits not 16 or 24.
    """
    if path.suffix.lower() not in AUDIO_FORMATS:
        raise BadInputError(f"unsupported clip format '{path.suffix}' in {path}: use "
                            f"{', '.join(AUDIO_FORMATS)}")
    if bits not in BIT_DEPTHS:
        raise BadInputError(f"bit depth {bits}: use 16 or 24 (WAV and FLAC; OGG and MP3 "
                            f"are lossy and have none)")


@dataclass
class StreamChunk:
    """A piece of a clip being streamed (see :meth:`Art2Music.generate_stream`)."""

    audio: np.ndarray  # float32, ready to play: level, fades and ceiling applied
    start: int  # its first sample within the clip
    total: int  # the whole clip's length in samples
    mel: np.ndarray | None = None  # the whole clip's normalised mel, with the first chunk
    clip: Clip | None = None  # with the last chunk: the whole clip (audio = all chunks)


@dataclass
class Clip:
    """One generated clip and how it was made."""

    audio: np.ndarray  # float32 [N] (mono) or [N, 2] (stereo), within the peak ceiling
    sample_rate: int
    mel: np.ndarray  # float32 [n_mels, T], normalised [-1, 1]
    prompt: str  # the composite text fed to the text encoder
    comment: str
    seed: int | None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    bundle_name: str = ""
    plan: Plan | None = None  # notes bundles: the feeling cues it was played with
    notes: list[Note] | None = None  # notes bundles: what was played (beats at plan tempo)
    look: PaintingLook | None = None  # notes bundles: the painting's look and subjects
    # what was asked and could not be done (a genre the model does not play), one line each
    remarks: list[str] = field(default_factory=list)

    @property
    def why(self) -> str:
        """Which input moved which control, in one line (notes bundles; else "")."""
        return self.plan.why if self.plan is not None else ""

    def plan_dict(self) -> dict[str, Any] | None:
        """The plan as plain data (its why-line and the painting's look included), for JSON;
        None for a mel bundle's clip."""
        if self.plan is None:
            return None
        d = self.plan.to_dict()
        if self.look is not None:
            d["painting"] = self.look.to_dict()
        return d

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.sample_rate

    def save_midi(self, path: str | Path) -> Path:
        """Write the clip's notes as a standard MIDI file (atomically).

        Raises:
            BadInputError: the clip has no notes (a mel bundle's clip).
        """
        if self.plan is None or self.notes is None:
            raise BadInputError("this clip has no notes to save as MIDI: only a notes "
                                "bundle's clips do (a2m info says which kind a bundle is)")
        from .notes.plan import INSTRUMENTS
        from .notes.score import to_midi_bytes

        path = Path(path)
        plan = self.plan
        data = to_midi_bytes(self.notes, plan.tempo_bpm, INSTRUMENTS[plan.instrument][0],
                             key=plan.key, name=plan.instrument,
                             text=f"{plan.describe()}" + (f" | why: {plan.why}" if plan.why
                                                          else ""))
        with atomic_path(path, suffix=path.suffix or ".mid") as tmp:
            Path(tmp).write_bytes(data)
        return path

    def save(self, path: str | Path, bits: int = 16) -> Path:
        """Write WAV or FLAC (16- or 24-bit PCM), OGG (Vorbis) or MP3 by the file's suffix,
        atomically: a crash mid-write never leaves a truncated file under the final name.

        Raises:
            BadInputError: a suffix or a bit depth this cannot write.
        """
        return write_audio(path, self.audio, self.sample_rate, bits)


def channels_of(audio: np.ndarray) -> int:
    """1 for a mono wave ``[n]``, else its channels (``[n, channels]``)."""
    return 1 if audio.ndim == 1 else int(audio.shape[1])


def write_audio(path: str | Path, audio: np.ndarray, sample_rate: int, bits: int = 16
                ) -> Path:
    """Audio to WAV or FLAC (16- or 24-bit PCM), OGG (Vorbis) or MP3 by the file's suffix,
    atomically (see :meth:`Clip.save`).

    Raises:
        BadInputError: a suffix or a bit depth this cannot write.
    """
    import soundfile as sf

    path = Path(path)
    check_audio_path(path, bits)
    fmt, subtypes = AUDIO_FORMATS[path.suffix.lower()]
    with atomic_path(path, suffix=path.suffix) as tmp:
        sf.write(str(tmp), audio, sample_rate, format=fmt, subtype=subtypes[bits])
    return path


def chunked(clip: Clip, size: int) -> Iterator[StreamChunk]:
    """A finished clip as stream chunks (the first carries the mel, the last the clip)."""
    total = len(clip.audio)
    for start in range(0, total, size):
        end = min(total, start + size)
        yield StreamChunk(clip.audio[start:end], start, total,
                          clip.mel if start == 0 else None, clip if end >= total else None)
