"""How a painting's look steers the plan, how the comment leads, and the line that says why.

The control head learned from 25 paintings, too few to map any painting to a feeling, so
the painting also steers the plan by rules from research on colour, music and emotion that
need no training data (``a2m_core.painting`` measures the look):

===============  ===================================  ==============================================
control          moved by                             why
===============  ===================================  ==============================================
tempo            arousal (and a little valence)       fast tempo expresses high arousal and, less,
                                                      happiness (Juslin & Laukka 2004;
                                                      Gabrielsson & Lindström 2010)
dynamics         arousal                              loud for high arousal, soft for calm (ibid.)
density          arousal, visual complexity           a busier picture, more notes a beat
articulation     arousal (detached) / calm (legato)   staccato for happiness and anger, legato
                                                      for sadness and tenderness (J & L 2004)
mode             valence                              major for pleasant, minor for unpleasant;
                                                      brightness carries pleasure (Valdez &
                                                      Mehrabian 1994)
register         valence (brightness)                 lighter colours match higher pitches
                                                      (Marks 1987; Collier & Hubbard 2004)
instrument       valence and arousal                  the timbre cue: soft, dull timbres for sad
                                                      and tender, bright, sharp ones for happy and
                                                      angry (``plan.FEELING_HOMES``)
key (tonic)      dominant hue                         Scriabin's colour-key pairs (a convention of
                                                      a synaesthete, not a measured effect)
===============  ===================================  ==============================================

**The comment leads.** Each control's pull is added to what the head draws from painting
and comment together. Where the comment itself pushes a control the other way (measured
against the same painting with no comment), the painting's pull on it is cut
(``AGAINST``): a joyful comment on a dark painting plays joyful, but less brightly than the
same comment on a sunny one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from ..painting import REFERENCE, PaintingLook
from .plan import FEELING_HOMES, Pins
from .score import NAMES

# The head's continuous controls, in its order (``model.CONTINUOUS``), with the words for a
# push up and down.
CONTROLS = ("tempo", "density", "register", "articulation", "dynamics")
_UP_DOWN = {"tempo": ("faster", "slower"), "density": ("denser", "sparser"),
            "register": ("higher", "lower"), "articulation": ("legato", "detached"),
            "dynamics": ("louder", "softer")}
# Pull in the head's normalised units per reference spread of (valence, arousal); one unit
# of tempo is x1.42 (``model.CONTINUOUS``: log tempo / 0.35), of dynamics 25 velocity steps.
GAINS = {  # control: (valence gain, arousal gain)
    "tempo": (0.35, 0.5), "density": (0.0, 0.15), "register": (0.3, 0.0),
    "articulation": (0.1, -0.25), "dynamics": (0.1, 0.6),
}
COMPLEXITY_TO_DENSITY = 0.1  # per reference spread of edge density
MODE_GAIN = 1.5  # major-minor logit difference per spread of valence
MAX_PULL = 1.6  # no control is pulled further than this (normalised units)
INSTRUMENT_GAIN = 0.5  # weight of the timbre cue against the head's own instrument logits
TIMBRE_WIDTH = 0.3  # how sharply a painting's place in the plane picks an instrument
# The painting's share of its pull on a control the comment pushes the other way: the mode
# follows a comment that names a feeling; tempo keeps half of the painting's pull, so a
# joyful comment on a dark painting plays major, but slower than on a sunny one.
AGAINST = {"tempo": 0.5, "density": 0.35, "register": 0.35, "articulation": 0.35,
           "dynamics": 0.35, "mode": 0.2}
SPEAKS = 0.15  # a comment push below this (normalised units) says nothing about a control
# Where comment and painting disagree on the mode, the comment's own push counts this many
# times: the head learned the painting's side from 25 paintings, and a viewer who writes
# "sad" on a sunny picture means it.
MODE_LEAD = 2.0
# Scriabin's clavier à lumières (Prometheus, 1910): keys round the circle of fifths at hues
# (degrees): C red, G orange, D yellow, A green, E sky blue, B blue, F# bright blue, Db
# violet, Ab lilac, Eb and Bb steel (bluish grey), F deep red.
SCRIABIN = (("C", 0, "red"), ("G", 30, "orange"), ("D", 58, "yellow"), ("A", 120, "green"),
            ("E", 190, "sky blue"), ("B", 215, "blue"), ("F#", 240, "bright blue"),
            ("C#", 268, "violet"), ("Ab", 290, "lilac"), ("Eb", 312, "steel"),
            ("Bb", 330, "steel"), ("F", 348, "deep red"))
HUE_FOR_KEY = 0.3  # below this hue strength a painting has no colour to name a key by


@dataclass(frozen=True)
class Steer:
    """What a painting asks of the plan: offsets to the head's continuous means (normalised
    units, ``CONTROLS`` order), to the major-minor logit difference and to each instrument's
    logit, and a tonic (None: drawn)."""

    mean: tuple[float, ...] = (0.0,) * len(CONTROLS)
    mode: float = 0.0
    instrument: dict[str, float] = field(default_factory=dict)
    tonic: int | None = None
    comment_mode: float = 0.0  # the comment's own lead on the mode, added beside the pull

    def scaled(self, weights: np.ndarray, mode_weight: float, inst_weight: float) -> Steer:
        return Steer(tuple(float(m * w) for m, w in zip(self.mean, weights)),
                     self.mode * mode_weight,
                     {k: v * inst_weight for k, v in self.instrument.items()}, self.tonic)


def _nearest(hue: float) -> tuple[str, int, str]:
    return min(SCRIABIN, key=lambda kv: min(abs(hue - kv[1]), 360 - abs(hue - kv[1])))


def scriabin_tonic(hue: float) -> int:
    """The pitch class Scriabin gave the nearest hue (degrees) of his colour-key pairs."""
    return NAMES.index(_nearest(hue)[0])


def hue_word(hue: float) -> str:
    """Scriabin's name for the colour of that key ("yellow" for D)."""
    return _nearest(hue)[2]


def painting_steer(look: PaintingLook, instruments: tuple[str, ...]) -> Steer:
    """The plan a painting's look asks for (see the table above)."""
    v, a = look.valence, look.arousal
    mean = []
    for name in CONTROLS:
        gv, ga = GAINS[name]
        pull = gv * v + ga * a
        if name == "density":
            c_mean, c_std = REFERENCE["complexity"]
            pull += COMPLEXITY_TO_DENSITY * float(np.clip((look.complexity - c_mean) / c_std,
                                                          -2.5, 2.5))
        mean.append(float(np.clip(pull, -MAX_PULL, MAX_PULL)))
    # its place among the instruments' homes: valence -1..1, arousal 0..1
    pv, pa = math.tanh(v / 1.5), 0.5 + 0.5 * math.tanh(a / 1.5)
    lean = {}
    for name in instruments:
        if name in FEELING_HOMES:
            hv, ha = FEELING_HOMES[name]
            d2 = ((pv - hv) / 2) ** 2 + (pa - ha) ** 2
            lean[name] = -INSTRUMENT_GAIN * d2 / (2 * TIMBRE_WIDTH ** 2)
    floor = min(lean.values(), default=0.0)
    # instruments without a home (kept to pin) get the least likely home's lean
    inst = {name: lean.get(name, floor) for name in instruments}
    top = max(inst.values(), default=0.0)
    inst = {k: x - top for k, x in inst.items()}  # the favourite at 0: only differences count
    tonic = scriabin_tonic(look.hue) if look.hue_strength >= HUE_FOR_KEY else None
    return Steer(tuple(mean), MODE_GAIN * v, inst, tonic)


def led_by_comment(steer: Steer, comment_push: np.ndarray, comment_mode: float) -> Steer:
    """``steer`` with each pull the comment pushes against cut to ``AGAINST``.

    ``comment_push``: the head's continuous means with the comment minus without it
    ``[len(CONTROLS)]``; ``comment_mode``: the same for the major-minor logit difference."""
    weights = np.array([AGAINST[name] if abs(c) >= SPEAKS and np.sign(c) != np.sign(p)
                        and p != 0 else 1.0
                        for name, c, p in zip(CONTROLS, comment_push, steer.mean)])
    mode_against = abs(comment_mode) >= 2 * SPEAKS and np.sign(comment_mode) != np.sign(
        steer.mode)
    mode_w = AGAINST["mode"] if mode_against else 1.0
    # the timbre follows the feeling: if the comment turns the mode or the energy, the
    # painting's lean on the instrument gives way as much
    inst_w = min(mode_w, float(weights[0]), float(weights[4]))
    led = steer.scaled(weights, mode_w, inst_w)
    if mode_against:
        led = replace(led, comment_mode=(MODE_LEAD - 1.0) * comment_mode)
    return led


def _moves(push: np.ndarray, mode: float, pinned: set[str], limit: int = 3,
           threshold: float = 0.25) -> list[str]:
    """The biggest pushes as words ("slower", "softer", "minor"), at most ``limit``."""
    ranked = []
    for name, x in zip(CONTROLS, push):
        if abs(x) >= threshold and name not in pinned:
            ranked.append((abs(x), _UP_DOWN[name][0 if x > 0 else 1]))
    if abs(mode) >= 2 * threshold and "mode" not in pinned:
        ranked.append((abs(mode) / 2, "major" if mode > 0 else "minor"))
    return [w for _, w in sorted(ranked, key=lambda r: -r[0])[:limit]]


def pinned_controls(pins: Pins | None) -> set[str]:
    """The why-line's names of the controls ``pins`` fix."""
    if pins is None:
        return set()
    names = {"tempo_bpm": "tempo", "notes_per_s": "density", "register": "register",
             "articulation": "articulation", "dynamic": "dynamics", "instrument": "instrument",
             "texture": "texture"}
    out = {names[k] for k in names if getattr(pins, k) is not None}
    if pins.key is not None:
        out |= {"key"} | ({"mode"} if len(pins.key.split()) > 1 else set())
    if pins.mode is not None:
        out.add("mode")
    return out


def why_line(look: PaintingLook | None, painting: Steer | None, comment_words: list[str],
             comment_push: np.ndarray | None, comment_mode: float, has_comment: bool,
             pins: Pins | None = None, hinted: str | None = None, speaks: bool = True
             ) -> str:
    """One line a person reads at a glance: which input moved which control, e.g.
    ``painting: dark, night, muted; bridge → slower, softer · key B (blue) · comment:
    'restless' → faster``."""
    pinned = pinned_controls(pins)
    parts = []
    if look is not None and painting is not None:
        said = ", ".join(look.words)
        if look.subjects:
            said = f"{said}; {', '.join(look.subjects)}" if said else ", ".join(look.subjects)
        moves = _moves(np.array(painting.mean), painting.mode, pinned, limit=2)
        parts.append(f"painting: {said or 'plain'} → {', '.join(moves) or 'little change'}")
        if painting.tonic is not None and "key" not in pinned:
            parts.append(f"key {NAMES[painting.tonic]} ({hue_word(look.hue)})")
    if not has_comment:
        parts.append("no comment: the painting leads")
    elif not speaks:
        parts.append("comment: no feeling words → the painting leads")
    elif comment_push is not None:
        moves = _moves(comment_push, comment_mode, pinned, limit=2)
        words = " ".join(f"'{w}'" for w in comment_words[:2]) or "its words"
        parts.append(f"comment: {words} → {', '.join(moves) or 'little change'}")
    if hinted and "instrument" not in pinned:
        parts.append(f"hints: {hinted}")
    if pinned:
        parts.append("pinned: " + ", ".join(sorted(pinned)))
    return " · ".join(parts)


__all__ = ["AGAINST", "CONTROLS", "Steer", "led_by_comment",
           "painting_steer", "scriabin_tonic", "why_line"]
