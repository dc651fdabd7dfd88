"""What a painting looks like and what it shows, as numbers a plan can follow and words a
person (and the text encoder) can read.

The look is measured from the pixels, so it works on any painting, with no training data:

- **Brightness and saturation** (HSV means). Valdez & Mehrabian (1994) regress pleasure,
  arousal and dominance on them: pleasure = 0.69 B + 0.22 S, arousal = -0.31 B + 0.60 S.
- **Colourfulness** (Hasler & Süsstrunk 2003, the opponent-colour measure).
- **Warmth** (share of warm against cool hues), **contrast** (luminance spread) and
  **complexity** (edge density): three of Machajdik & Hanbury's (2010) affective image
  features.
- **Dominant hue**, saturation-weighted, for the key (``notes/steering.py``).

``valence`` and ``arousal`` put these on one scale each, in units of the spread found across
paintings (``REFERENCE``: means and standard deviations of the raw measures over the 25
training paintings of the starter, so 0 is a typical painting and +-1 one spread away).

What a painting shows comes from EfficientNet-Lite0's ImageNet classifier, which the
starter's image model already runs: ``SUBJECTS`` maps the ImageNet classes that name
something a painting can show (a castle, a bridge, a shore, a dog) to plain words, and leaves
out the rest (a painting is often "a jigsaw puzzle" or "a book jacket" to ImageNet).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image

_SIDE = 96  # measures on a 96x96 thumbnail: stable, and ~2 ms a painting

# (mean, standard deviation) of the raw measures over the starter's training paintings
# (the gcompris crops; see benchmarks/bench_painting.py --reference), so that valence and
# arousal are in units of the spread between real paintings.
REFERENCE = {
    "pleasure": (0.5101, 0.1116), "vm_arousal": (0.0046, 0.1308),
    "colourfulness": (0.1583, 0.0792), "contrast": (0.1518, 0.0580),
    "complexity": (0.0296, 0.0137),
}


@dataclass(frozen=True)
class PaintingLook:
    """How a painting looks: raw measures in [0, 1] (warmth in [-1, 1]) and the two feeling
    axes they add up to, plus the words that say it."""

    brightness: float  # HSV value, mean
    saturation: float  # HSV saturation, mean
    colourfulness: float  # Hasler & Süsstrunk's M, scaled to ~[0, 1]
    warmth: float  # warm-hue share minus cool-hue share of the coloured pixels
    contrast: float  # luminance standard deviation
    complexity: float  # mean absolute luminance step between neighbours (edge density)
    hue: float  # dominant hue in degrees (saturation-weighted circular mean)
    hue_strength: float  # 0 (grey, or hues that cancel) .. 1 (one hue everywhere)
    valence: float  # pleasure, in reference spreads (about -2.5 .. 2.5)
    arousal: float  # arousal, in reference spreads
    subjects: tuple[str, ...] = ()  # what it shows, strongest first ("castle", "lake")

    @property
    def words(self) -> tuple[str, ...]:
        """Its look in at most four words, e.g. ("dark", "muted", "cool")."""
        return look_words(self)

    def to_dict(self) -> dict[str, Any]:
        d = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}
        d["subjects"] = list(self.subjects)
        d["words"] = list(self.words)
        return d


def thumbnail_hsv(img: Image.Image) -> np.ndarray:
    """The 96x96 HSV thumbnail every colour measure here is taken on, ``[H, W, 3]`` in
    [0, 1] (fast and stable)."""
    thumb = img.convert("RGB").resize((_SIDE, _SIDE), Image.BILINEAR)
    return np.asarray(thumb.convert("HSV"), dtype=np.float32) / 255.0


def valdez_mehrabian(brightness: float, saturation: float) -> tuple[float, float, float]:
    """(pleasure, arousal, dominance) of Valdez & Mehrabian's (1994) regressions on HSV
    brightness and saturation in [0, 1]."""
    return (0.69 * brightness + 0.22 * saturation, -0.31 * brightness + 0.60 * saturation,
            -0.76 * brightness + 0.32 * saturation)


def _z(value: float, name: str) -> float:
    mean, std = REFERENCE[name]
    return (value - mean) / std


def measure(img: Image.Image, subjects: tuple[str, ...] = ()) -> PaintingLook:
    """The look of a painting (any size or mode); ``subjects`` from :func:`subjects_of`."""
    hsv = thumbnail_hsv(img)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    rgb = np.asarray(img.convert("RGB").resize((_SIDE, _SIDE), Image.BILINEAR),
                     np.float32) / 255.0
    b_mean, s_mean = float(v.mean()), float(s.mean())
    # hue: saturation- and value-weighted circular mean (grey and black pixels carry none)
    w = s * v
    angle = h * 2 * np.pi
    hc, hs = float((np.cos(angle) * w).sum()), float((np.sin(angle) * w).sum())
    total = float(w.sum()) + 1e-6
    hue = math.degrees(math.atan2(hs, hc)) % 360.0
    strength = math.hypot(hc, hs) / total
    deg = h * 360
    coloured = (s > 0.15) & (v > 0.15)
    n_col = max(int(coloured.sum()), 1)
    warm = float((coloured & ((deg < 70) | (deg > 330))).sum()) / n_col
    cool = float((coloured & (deg > 150) & (deg < 270)).sum()) / n_col
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    colourful = float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))
    lum = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    contrast = float(lum.std())
    complexity = float(0.5 * (np.abs(np.diff(lum, axis=0)).mean()
                              + np.abs(np.diff(lum, axis=1)).mean()))
    pleasure, vm_arousal, _ = valdez_mehrabian(b_mean, s_mean)
    # Valence: V&M's pleasure. Arousal: V&M's arousal, colourfulness and the two texture
    # measures Machajdik & Hanbury found to carry excitement (contrast, edges), each counting
    # the same: V&M's alone calls a darkened grey picture more arousing (-0.31 B).
    valence = _z(pleasure, "pleasure")
    arousal = 0.25 * (_z(vm_arousal, "vm_arousal") + _z(colourful, "colourfulness")
                      + _z(contrast, "contrast") + _z(complexity, "complexity"))
    clip = lambda x: float(min(max(x, -2.5), 2.5))  # noqa: E731 - one outlier can't shout
    return PaintingLook(
        brightness=b_mean, saturation=s_mean, colourfulness=colourful,
        warmth=warm - cool, contrast=contrast, complexity=complexity, hue=hue,
        hue_strength=strength, valence=clip(valence), arousal=clip(arousal),
        subjects=tuple(subjects))


def look_words(look: PaintingLook) -> tuple[str, ...]:
    """A few plain words for a look: light, colour, temperature, texture."""
    words = []
    if look.brightness < 0.3:
        words += ["dark", "night"] if look.warmth <= 0.0 else ["dark"]
    elif look.brightness < 0.42:
        words.append("dim")
    elif look.brightness > 0.68:
        words.append("bright")
    if look.saturation < 0.2 or look.colourfulness < 0.08:
        words.append("muted")
    elif look.colourfulness > 0.28 or look.saturation > 0.55:
        words.append("vivid")
    if look.warmth > 0.3:
        words.append("warm")
    elif look.warmth < -0.3:
        words.append("cool")
    if look.complexity > 0.05:
        words.append("busy")
    elif look.complexity < 0.015:
        words.append("smooth")
    return tuple(words[:4])


# ImageNet classes (their index in the 1000-class order EfficientNet-Lite and torchvision
# use) that name what a painting can show, grouped under one plain word each.
SUBJECTS: dict[str, tuple[int, ...]] = {
    "castle": (483,), "palace": (698,), "church": (497, 442, 663), "mosque": (668,),
    "dome": (538,), "temple": (832,), "tower": (900,), "bridge": (821, 839, 888),
    "pier": (718, 460), "boats": (472, 484, 554, 576, 625, 814, 449), "sailing ship": (780, 914),
    "ship": (510, 628), "shipwreck": (913,), "shore": (978, 977), "cliffs": (972, 976),
    "mountains": (970,), "valley": (979,), "volcano": (980,), "lake": (975,), "sea": (973,),
    "field": (984, 987), "hay": (958,), "flowers": (985,), "barn": (425,),
    "greenhouse": (580,), "café": (762,), "table": (532, 736), "library": (624,),
    "stage": (819, 854), "altar": (406,), "throne": (857,), "fountain": (562,),
    "park": (703,), "street": (829, 919), "gown": (578, 400), "kimono": (614,),
    "cloak": (501,), "mask": (643,), "dog": tuple(range(151, 269)),
    "cat": tuple(range(281, 286)), "horse": (339, 603), "ox": (345, 690),
    "bird": tuple(range(7, 25)) + tuple(range(80, 101)) + tuple(range(127, 147)),
    "lion": (291,), "tiger": (292,), "bear": (294, 295, 296, 297), "elephant": (385, 386),
    "vase": (883,), "fruit": (948, 949, 950, 951, 954), "candle": (470,),
    "mushrooms": (947,), "guitar": (402, 546), "cello": (486,), "piano": (579,),
    "harp": (594,), "organ": (687,), "violin": (889,),
}
_CLASS_WORD = {i: word for word, idx in SUBJECTS.items() for i in idx}


def subjects_of(probs: np.ndarray, top: int = 3, min_share: float = 0.15) -> tuple[str, ...]:
    """Plain words for what ImageNet probabilities ``[1000]`` say a painting shows: the
    words whose classes together hold at least ``min_share``, strongest first."""
    totals: dict[str, float] = {}
    for i in np.argsort(-probs)[:20]:
        word = _CLASS_WORD.get(int(i))
        if word is not None:
            totals[word] = totals.get(word, 0.0) + float(probs[i])
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])
    return tuple(w for w, p in ranked[:top] if p >= min_share)


def painting_words(look: PaintingLook, comment: str = "") -> str:
    """The composite text's "Painting" field: look words, then subjects, each left out when
    the comment already says it ("dark, muted, cool; night, bridge")."""
    said = set(comment.lower().replace(",", " ").replace(".", " ").split())
    look_part = [w for w in look.words if w not in said]
    subj_part = [w for w in look.subjects if not set(w.split()) <= said]
    return "; ".join(p for p in (", ".join(look_part), ", ".join(subj_part)) if p)
