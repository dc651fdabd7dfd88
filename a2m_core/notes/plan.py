"""The plan: the feeling cues a clip is played with, which a person can read and pin.

Juslin & Laukka (2004) list the cues listeners hear feeling through: tempo, mode, loudness,
articulation, register and timbre. A plan holds one value of each (plus how many notes a
beat and whether one line or chords play), printed as e.g.
``96 bpm · A minor · 3.1 notes/s · legato · strings · p · middle register``.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ..errors import BadInputError
from .score import NAMES

# General MIDI families the sampler plays: name -> (program, struck: attack then decay).
INSTRUMENTS: dict[str, tuple[int, bool]] = {
    "piano": (0, True), "harpsichord": (6, True), "vibraphone": (11, True),
    "marimba": (12, True), "organ": (19, False), "accordion": (21, False),
    "guitar": (24, True), "violin": (40, False), "harp": (46, True),
    "strings": (48, False), "choir": (52, False), "brass": (61, False),
    "clarinet": (71, False), "flute": (73, False),
}
# The instruments a corpus window is played on (and a painting leans towards), each at a
# home in the feeling plane: (valence -1 sad .. 1 happy, arousal 0 calm .. 1 lively),
# after Juslin & Laukka's timbre cue (dull, soft timbres for sadness and tenderness;
# bright, sharp ones for happiness and anger) and their articulation cue (struck, detached
# sounds for lively music). FluidR3's flute, clarinet and accordion presets flutter as
# tinysoundfont plays them (a steady line at 2.5 notes/s reads as 5-9.5 onsets a second;
# the accordion's level beats by 9 dB): they stay available to pin, not to learn.
FEELING_HOMES: dict[str, tuple[float, float]] = {
    # minor: sad and tender to solemn, then sharp and angry
    "choir": (-0.7, 0.21), "strings": (-0.7, 0.36), "organ": (-0.7, 0.51),
    "harpsichord": (-0.7, 0.65), "brass": (-0.7, 0.81),
    # major: serene and tender to bright and happy
    "vibraphone": (0.7, 0.19), "harp": (0.7, 0.31), "violin": (0.7, 0.44),
    "guitar": (0.7, 0.58), "piano": (0.7, 0.7), "marimba": (0.7, 0.84),
}
DYNAMICS = (("pp", 36), ("p", 52), ("mp", 68), ("mf", 84), ("f", 100), ("ff", 116))
TEXTURES = ("melody", "chords")  # one line (a folk tune), or parts together (a chorale)
MODES = ("major", "minor")
TEMPO_RANGE = (40.0, 200.0)

# Words of music hints (free keywords or AudioSet labels such as "Electric piano" or
# "Bowed string instrument") that name an instrument the sampler plays, so that
# "Jazz; mellow piano" plays a piano. An ensemble word stands for its strings and gives way
# to a named instrument: "Orchestra; solo harp" plays the harp.
HINT_INSTRUMENTS = {
    "piano": "piano", "pianos": "piano", "keyboard": "piano",
    "harpsichord": "harpsichord", "vibraphone": "vibraphone", "vibes": "vibraphone",
    "marimba": "marimba", "xylophone": "marimba", "organ": "organ", "accordion": "accordion",
    "guitar": "guitar", "guitars": "guitar", "violin": "violin", "fiddle": "violin",
    "harp": "harp", "strings": "strings", "string": "strings", "cello": "strings",
    "viola": "strings", "choir": "choir", "chorus": "choir", "choral": "choir",
    "voices": "choir", "brass": "brass", "trumpet": "brass", "trumpets": "brass",
    "horn": "brass", "horns": "brass", "trombone": "brass", "tuba": "brass",
    "clarinet": "clarinet", "flute": "flute", "flutes": "flute", "recorder": "flute",
}
HINT_ENSEMBLES = {"orchestra": "strings", "orchestral": "strings", "symphony": "strings",
                  "symphonic": "strings"}


def dynamic_word(velocity: float) -> str:
    return min(DYNAMICS, key=lambda d: abs(d[1] - velocity))[0]


def register_word(pitch: float) -> str:
    return "low" if pitch < 57 else "high" if pitch > 69 else "middle"


def articulation_word(ratio: float) -> str:
    return "legato" if ratio >= 0.95 else "detached" if ratio >= 0.6 else "staccato"


@dataclass(frozen=True)
class Plan:
    tempo_bpm: float
    tonic: int  # pitch class, 0 = C
    mode: str  # "major" | "minor"
    notes_per_beat: float  # onsets per beat
    register: float  # mean MIDI pitch
    articulation: float  # duration / inter-onset interval
    velocity: float  # MIDI velocity, 1..127
    instrument: str  # a key of INSTRUMENTS
    texture: str  # "melody" | "chords"
    why: str = ""  # which input moved which control, in one line (``steering.why_line``)

    @property
    def notes_per_s(self) -> float:
        return self.notes_per_beat * self.tempo_bpm / 60.0

    @property
    def key(self) -> str:
        return f"{NAMES[self.tonic]} {self.mode}"

    def describe(self) -> str:
        """One line a person reads: "96 bpm · A minor · 3.1 notes/s · legato · strings · p"."""
        return " · ".join([
            f"{self.tempo_bpm:.0f} bpm", self.key, f"{self.notes_per_s:.1f} notes/s",
            articulation_word(self.articulation), self.instrument,
            dynamic_word(self.velocity), f"{register_word(self.register)} register",
            self.texture])

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(key=self.key, notes_per_s=round(self.notes_per_s, 3),
                 dynamic=dynamic_word(self.velocity), text=self.describe())
        return d


@dataclass(frozen=True)
class Pins:
    """Controls a person fixed; None leaves a control to the painting and the comment."""

    tempo_bpm: float | None = None
    key: str | None = None  # a tonic ("A", "Eb"), optional with a mode: "A minor"
    mode: str | None = None
    notes_per_s: float | None = None
    register: str | None = None  # low | middle | high
    articulation: str | None = None  # legato | detached | staccato
    dynamic: str | None = None  # pp .. ff
    instrument: str | None = None
    texture: str | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.tempo_bpm is not None and not (
                TEMPO_RANGE[0] <= self.tempo_bpm <= TEMPO_RANGE[1]):
            problems.append(f"tempo {self.tempo_bpm:g} is outside {TEMPO_RANGE[0]:g}-"
                            f"{TEMPO_RANGE[1]:g} bpm")
        if self.key is not None:
            tonic, mode = _parse_key(self.key)
            if tonic is None:
                problems.append(f"key '{self.key}' is not a key: use e.g. A, Am, F#m, Bb, "
                                f"'Eb major' or 'f sharp minor'")
            if mode and self.mode and mode != self.mode:
                problems.append(f"key '{self.key}' and mode '{self.mode}' disagree")
        if self.mode is not None and self.mode not in MODES:
            problems.append(f"mode '{self.mode}': use major or minor")
        if self.notes_per_s is not None and not 0.2 <= self.notes_per_s <= 16:
            problems.append(f"density {self.notes_per_s:g} notes/s: use 0.2-16")
        choices = {"register": ("low", "middle", "high"),
                   "articulation": ("legato", "detached", "staccato"),
                   "dynamic": tuple(d for d, _ in DYNAMICS),
                   "instrument": tuple(INSTRUMENTS), "texture": TEXTURES}
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value is not None and value not in allowed:
                problems.append(f"{name} '{value}': use one of {', '.join(allowed)}")
        if problems:
            raise BadInputError("; ".join(problems))

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Pins:
        """From plain data (the OSC bridge, a JSON config); unknown names are refused."""
        data = {k: v for k, v in (data or {}).items() if v not in (None, "")}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BadInputError(f"unknown control(s) {unknown}: use {', '.join(sorted(known))}")
        if "tempo_bpm" in data:
            data["tempo_bpm"] = _number(data["tempo_bpm"], "tempo")
        if "notes_per_s" in data:
            data["notes_per_s"] = _number(data["notes_per_s"], "density")
        return cls(**data)

    def any(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))

    def apply(self, plan: Plan) -> Plan:
        """The plan with every pinned control put in."""
        changes: dict[str, Any] = {}
        if self.tempo_bpm is not None:
            changes["tempo_bpm"] = float(self.tempo_bpm)
        if self.key is not None:
            tonic, mode = _parse_key(self.key)
            changes["tonic"] = tonic
            if mode:
                changes["mode"] = mode
        if self.mode is not None:
            changes["mode"] = self.mode
        tempo = changes.get("tempo_bpm", plan.tempo_bpm)
        if self.notes_per_s is not None:
            changes["notes_per_beat"] = self.notes_per_s * 60.0 / tempo
        if self.register is not None:
            changes["register"] = {"low": 50.0, "middle": 63.0, "high": 74.0}[self.register]
        if self.articulation is not None:
            changes["articulation"] = {"legato": 1.2, "detached": 0.75,
                                       "staccato": 0.45}[self.articulation]
        if self.dynamic is not None:
            changes["velocity"] = float(dict(DYNAMICS)[self.dynamic])
        if self.instrument is not None:
            changes["instrument"] = self.instrument
        if self.texture is not None:
            changes["texture"] = self.texture
        return replace(plan, **changes)


def hinted_instrument(hints: Iterable[str]) -> str | None:
    """The instrument the music hints name first ("dreamy strings" -> strings), else the one
    an ensemble word stands for ("Orchestra" -> strings); None when they name neither."""
    ensemble = None
    for hint in hints:
        for word in re.findall(r"[a-z]+", hint.lower()):
            if word in HINT_INSTRUMENTS:
                return HINT_INSTRUMENTS[word]
            ensemble = ensemble or HINT_ENSEMBLES.get(word)
    return ensemble


def with_hinted_instrument(pins: Pins | None, hints: Iterable[str]) -> Pins | None:
    """``pins`` with the instrument the hints name, unless an instrument is pinned already."""
    if pins is not None and pins.instrument is not None:
        return pins
    instrument = hinted_instrument(hints)
    if instrument is None:
        return pins
    return replace(pins or Pins(), instrument=instrument)


def _number(value: Any, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise BadInputError(f"{what} '{value}' is not a number") from err


_KEY = re.compile(
    r"^(?P<letter>[a-g])\s*(?P<accidental>#|♯|b|♭|-?sharp|-?flat)?"
    r"\s*(?P<mode>m|min|minor|maj|major)?$")
_ENHARMONIC = {"Db": "C#", "D#": "Eb", "Gb": "F#", "G#": "Ab", "A#": "Bb", "Cb": "B",
               "Fb": "E", "E#": "F", "B#": "C"}


def key_name(text: str) -> str:
    """A key as the plan names it: "f sharp minor" -> "F# minor", "Gb" -> "F#"; the text
    itself when it is no key."""
    tonic, mode = _parse_key(text)
    if tonic is None:
        return text
    return f"{NAMES[tonic]} {mode}" if mode else NAMES[tonic]


def _parse_key(text: str) -> tuple[int | None, str | None]:
    """(tonic pitch class, mode or None) of a key as people write it: "A", "A minor", "Am",
    "F#m", "f sharp minor", "Bb", "B♭ major", "Eb min"; (None, None) for anything else
    ("A minor minor", "H")."""
    words = " ".join(text.replace("_", " ").split()).lower()
    m = _KEY.match(words)
    if m is None:
        return None, None
    accidental = m["accidental"] or ""
    sign = "#" if accidental in ("#", "♯") or accidental.endswith("sharp") else (
        "b" if accidental else "")
    name = m["letter"].upper() + sign
    name = _ENHARMONIC.get(name, name)
    mode = {"m": "minor", "min": "minor", "minor": "minor", "maj": "major",
            "major": "major"}.get(m["mode"] or "")
    return NAMES.index(name), mode
