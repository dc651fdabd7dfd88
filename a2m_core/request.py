"""What a person can ask for, once: :class:`GenerationRequest`.

Every surface builds one and hands it to :func:`a2m_core.produce.produce`: the CLI from its
flags, the OSC bridge from ``/a2m/generate``'s arguments or ``/a2m/generate/json``'s object, the
desktop from its form, a collection from its rows. The plain-data names (:data:`FIELDS`) are
the CLI's flags without the dashes, so one JSON object reads the same everywhere:

    {"image": "starry.jpg", "comment": "the sky is restless", "seed": 3,
     "tempo": 72, "key": "F# minor", "instrument": "harp", "emotion": "sadness"}
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import BadInputError
from .notes.plan import Pins, hinted_instrument, with_hinted_instrument
from .prompt import MusicHints

if TYPE_CHECKING:
    from .images import ImageInput

# plain-data name -> Pins field (the CLI's pin flags)
PIN_FIELDS = {"tempo": "tempo_bpm", "key": "key", "mode": "mode", "instrument": "instrument",
              "dynamics": "dynamic", "density": "notes_per_s", "register": "register",
              "articulation": "articulation", "texture": "texture"}
# every plain-data name a request reads, in the order the docs list them
FIELDS = ("image", "comment", "hints", "emotion", "seed", "variation", "loop", "format",
          "bits", *PIN_FIELDS)
FORMATS = ("wav", "flac", "ogg", "mp3")
VARIATION_RANGE = (0.0, 2.0)  # the plan's (or the performance latent's) temperature
LOOP_CROSSFADE_S = 0.5


@dataclass
class GenerationRequest:
    """One clip to make: a painting, a comment and everything else that shapes it."""

    image: ImageInput
    comment: str = ""  # empty: the painting alone sets the feeling
    hints: MusicHints | str | None = None
    seed: int | None = None
    emotion: str | None = None
    pins: Pins | None = None  # notes bundles: controls the person fixed
    # how far the draw strays from what the inputs ask (a notes bundle's plan temperature, a
    # mel bundle's latent temperature); None: the bundle's own
    variation: float | None = None
    loop: bool = False  # write the seamless-loop version (its tail crossfaded into its head)
    loop_crossfade_s: float = LOOP_CROSSFADE_S
    format: str | None = None  # the audio file's kind: wav, flac, ogg, mp3 (None: the surface's)
    bits: int = 16  # WAV and FLAC: 16- or 24-bit PCM

    def __post_init__(self) -> None:
        if self.variation is not None:
            lo, hi = VARIATION_RANGE
            if not (isinstance(self.variation, int | float) and math.isfinite(self.variation)
                    and lo <= self.variation <= hi):
                raise BadInputError(f"variation {self.variation}: use {lo:g}-{hi:g} (0: the "
                                    f"plan the inputs ask for, 1: the bundle's usual spread)")
        if self.loop and not 0.0 < self.loop_crossfade_s <= 5.0:
            raise BadInputError(f"loop crossfade {self.loop_crossfade_s:g} s: use 0-5 s")
        if self.format is not None:
            self.format = str(self.format).lower().lstrip(".")
            if self.format not in FORMATS:
                raise BadInputError(f"format '{self.format}': use {', '.join(FORMATS)}")
        if self.bits not in (16, 24):
            raise BadInputError(f"bits {self.bits}: use 16 or 24")

    # ------------------------------------------------------------------ plain data
    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Path | None = None) -> GenerationRequest:
        """From plain data under :data:`FIELDS`' names (a JSON object, a CSV row); empty
        values are left out. ``base``: the folder a relative ``image`` path starts from.

        Raises:
            BadInputError: a name nobody knows, a value of the wrong kind or out of range
            (the first one, in one line).
        """
        if not isinstance(data, dict):
            raise BadInputError("a request is a JSON object of names and values")
        data = {k: v for k, v in data.items() if v is not None and not (
            isinstance(v, str) and not v.strip())}
        unknown = sorted(set(data) - set(FIELDS))
        if unknown:
            raise BadInputError(f"unknown name(s) {', '.join(map(repr, unknown))}: use "
                                f"{', '.join(FIELDS)}")
        if "image" not in data:
            raise BadInputError("no image given")
        image = data["image"]
        if isinstance(image, str):
            path = Path(image.strip()).expanduser()
            image = path if path.is_absolute() or base is None else base / path
        pins = Pins.from_dict({PIN_FIELDS[k]: _text(data[k], k) if k not in ("tempo", "density")
                               else data[k] for k in PIN_FIELDS if k in data})
        return cls(image=image, comment=_text(data.get("comment", ""), "comment").strip(),
                   hints=_text(data["hints"], "hints").strip() if "hints" in data else None,
                   seed=_whole(data["seed"], "seed") if "seed" in data else None,
                   emotion=_text(data["emotion"], "emotion").strip() if "emotion" in data
                   else None, pins=pins if pins.any() else None,
                   variation=_number(data["variation"], "variation") if "variation" in data
                   else None, loop=_flag(data.get("loop", False), "loop"),
                   format=_text(data["format"], "format") if "format" in data else None,
                   bits=_whole(data["bits"], "bits") if "bits" in data else 16)

    def to_dict(self) -> dict[str, Any]:
        """The request as :meth:`from_dict` reads it (an image that is not a path is left
        out); unset values are left out."""
        out: dict[str, Any] = {}
        if isinstance(self.image, str | Path):
            out["image"] = str(self.image)
        if self.comment:
            out["comment"] = self.comment
        if self.hints:
            out["hints"] = self.hints if isinstance(self.hints, str) else "; ".join(
                [*self.hints.labels, *self.hints.keywords])
        for name in ("emotion", "seed", "variation"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.loop:
            out["loop"] = True
        if self.format is not None:
            out["format"] = self.format
        if self.bits != 16:
            out["bits"] = self.bits
        for name, pin in PIN_FIELDS.items():
            value = getattr(self.pins, pin) if self.pins is not None else None
            if value is not None:
                out[name] = value
        return out

    def suffix(self, default: str = "wav") -> str:
        """The audio file's suffix (``.wav``...): the request's format, else ``default``."""
        return "." + (self.format or default)

    def with_image(self, image: ImageInput) -> GenerationRequest:
        """The same request on other pixels (the bridge reads a file once, at acceptance)."""
        return replace(self, image=image)

    # ------------------------------------------------------------------ what it asks
    def music_hints(self) -> MusicHints:
        if isinstance(self.hints, str):
            return MusicHints.parse(self.hints)
        return self.hints or MusicHints()

    @property
    def has_comment(self) -> bool:
        """Whether the viewer said anything: a comment or an emotion."""
        return bool((self.comment or "").strip() or self.emotion)

    def hint_texts(self) -> list[str]:
        """The hints as typed (one text) or as labels and keywords."""
        if isinstance(self.hints, str):
            return [self.hints]  # as typed: the first instrument named wins
        return [*self.hints.labels, *self.hints.keywords] if self.hints else []

    def hinted_instrument(self) -> str | None:
        """The instrument the music hints name, unless one is pinned."""
        if self.pins is not None and self.pins.instrument is not None:
            return None
        return hinted_instrument(self.hint_texts())

    def notes_pins(self) -> Pins | None:
        """What a notes bundle plays under: the pinned controls, and the instrument the
        hints name where none is pinned (``notes.plan.hinted_instrument``)."""
        return with_hinted_instrument(self.pins, self.hint_texts())


def _text(value: Any, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadInputError(f"{name} {value!r}: give it as text")
    return str(value)


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise BadInputError(f"{name} {value!r} is not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise BadInputError(f"{name} {value!r} is not a number") from None


def _whole(value: Any, name: str) -> int:
    number = _number(value, name)
    if not math.isfinite(number) or number != int(number):
        raise BadInputError(f"{name} {value!r} is not a whole number")
    return int(number)


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "0", "false",
                                                            "no"):
        return value.strip().lower() in ("1", "true", "yes")
    raise BadInputError(f"{name} {value!r}: use true or false")
