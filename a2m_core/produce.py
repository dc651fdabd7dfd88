"""One request -> a clip and its files, for every surface.

    made = produce(engine, request, Outputs(audio="clip.wav", midi="clip.mid",
                                            plan="clip.json"))

The CLI, the OSC bridge's jobs, its live output, the desktop's worker and installation mode,
the soundscape and ``a2m batch`` each build a :class:`~a2m_core.request.GenerationRequest`
and call :func:`produce`; saving a clip made earlier (the desktop's Save) goes through
:func:`write`. So the same request gives the same bytes whichever surface asked.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .clip import Clip, StreamChunk, check_audio_path
from .errors import BadInputError
from .fileio import atomic_write_bytes

if TYPE_CHECKING:
    from .engine import Art2Music, Progress
    from .request import GenerationRequest
    from .voice import CancelCheck

MIDI_SUFFIXES = (".mid", ".midi")


@dataclass(frozen=True)
class Outputs:
    """Where a clip's files go; None writes nothing of that kind."""

    audio: Path | None = None  # .wav, .flac, .ogg or .mp3, by suffix
    midi: Path | None = None  # notes bundles: the notes as a standard MIDI file
    plan: Path | None = None  # notes bundles: the plan, its why-line and the look, as JSON
    bits: int = 16  # WAV and FLAC: 16- or 24-bit PCM

    def __post_init__(self) -> None:
        for name in ("audio", "midi", "plan"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))
        self.check()

    def check(self) -> None:
        """Refuse a file kind that cannot be written, before any work.

        Raises:
            BadInputError: an audio suffix other than .wav/.flac/.ogg/.mp3, a bit depth
            other than 16 or 24, a MIDI suffix other than .mid.
        """
        if self.audio is not None:
            check_audio_path(self.audio, self.bits)
        if self.midi is not None and self.midi.suffix.lower() not in MIDI_SUFFIXES:
            raise BadInputError(f"MIDI file {self.midi}: use a .mid file name")

    def beside(self, audio: Path, midi: bool = False, plan: bool = False) -> Outputs:
        """Outputs named after one audio file: ``x.wav``, ``x.mid``, ``x.json`` (these
        outputs' bit depth kept)."""
        return Outputs(audio, audio.with_suffix(".mid") if midi else None,
                       audio.with_suffix(".json") if plan else None, self.bits)


@dataclass
class Made:
    clip: Clip
    files: dict[str, Path] = field(default_factory=dict)  # "audio" / "midi" / "plan" -> path


def produce(engine: Art2Music, request: GenerationRequest, outputs: Outputs = Outputs(), *,
            progress: Progress | None = None, cancel: CancelCheck = None,
            on_chunk: Callable[[StreamChunk], None] | None = None,
            on_mel: Callable | None = None) -> Made:
    """Make ``request``'s clip and write its ``outputs`` (each atomically).

    ``on_chunk``: stream, calling it with each chunk as the voice makes it (to play while
    generating); the written clip is the same. A looped request writes (and returns) the
    seamless-loop version.

    Raises:
        BadInputError: an input or an output the bundle cannot make (MIDI or a plan from a
        mel bundle, pins on a mel bundle). GenerationCancelled: ``cancel`` was set.
    """
    outputs.check()
    if (outputs.midi or outputs.plan) and not engine.is_notes:
        raise BadInputError(f"MIDI and plan files need a notes bundle; '{engine.name}' is a "
                            f"mel bundle (it has no notes)")
    if on_chunk is None:
        clip = engine.run(request, progress=progress, cancel=cancel, on_mel=on_mel)
    else:
        clip = None
        for chunk in engine.stream(request, progress=progress, cancel=cancel):
            if on_mel is not None and chunk.mel is not None:
                on_mel(chunk.mel)
            on_chunk(chunk)
            clip = chunk.clip or clip
        assert clip is not None
    if request.loop:
        from .soundscape import make_loop

        clip.audio = make_loop(clip.audio, clip.sample_rate, request.loop_crossfade_s)
    return Made(clip, write(clip, outputs))


def write(clip: Clip, outputs: Outputs) -> dict[str, Path]:
    """Write a clip's files (each atomically); returns what was written."""
    outputs.check()
    files: dict[str, Path] = {}
    if outputs.audio is not None:
        files["audio"] = clip.save(outputs.audio, outputs.bits)
    if outputs.midi is not None:
        files["midi"] = clip.save_midi(outputs.midi)
    if outputs.plan is not None:
        plan = clip.plan_dict()
        if plan is None:
            raise BadInputError("this clip has no plan to save: only a notes bundle's clips do")
        atomic_write_bytes(outputs.plan, json.dumps(plan, indent=1, sort_keys=True)
                           .encode("utf-8"))
        files["plan"] = outputs.plan
    return files
