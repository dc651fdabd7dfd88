"""Feeling agreement: does the generated music feel the way the comment does?

Both sides are placed in Russell's valence/arousal plane by documented tables, and each item
counts as agreeing on an axis when both sides fall on the same side of it:

- **The comment.** Its ArtEmis emotion, when known, by the circumplex positions below
  (after Russell 1980 and the ArtEmis paper's positive/negative grouping). Without a label,
  the comment's words: valence from the AFINN lexicon (the prompt's own emotion words,
  ``a2m_core.prompt``), arousal from the short lexicon ``AROUSAL_WORDS`` (words that name
  energy or calm; our list, written for this purpose).
- **The music.** musicnn's Million Song Dataset tags (``musicnn_embed``): valence and arousal
  are weighted sums of the mood and style tags in ``TAG_VA``, z-scored over the evaluated
  clips (the taggers' base rates differ by tag, and the question is whether a clip is *more*
  joyful or energetic than the others).

Chance is 50 % per axis; the paper reports no such figure (it rated feeling with an LLM).
"""
from __future__ import annotations

import re

import numpy as np

from a2m_core.prompt import ENERGY_WORDS

# ArtEmis emotion -> (valence, arousal) in [-1, 1] (Russell's circumplex).
EMOTION_VA = {
    "amusement": (0.7, 0.4), "awe": (0.5, 0.5), "contentment": (0.8, -0.4),
    "excitement": (0.7, 0.8), "anger": (-0.6, 0.8), "disgust": (-0.7, 0.3),
    "fear": (-0.6, 0.7), "sadness": (-0.7, -0.5), "something else": (0.0, 0.0),
}
# Words that say how much energy a comment feels (one list, shared with the why-line).
AROUSAL_WORDS = ENERGY_WORDS
# musicnn MSD tag -> (valence weight, arousal weight).
TAG_VA = {
    "happy": (1.0, 0.5), "party": (0.8, 1.0), "dance": (0.6, 1.0), "catchy": (0.5, 0.5),
    "beautiful": (0.6, -0.5), "Mellow": (0.3, -1.0), "chill": (0.3, -0.8),
    "chillout": (0.3, -0.8), "easy listening": (0.5, -0.6), "sad": (-1.0, -0.6),
    "ambient": (0.0, -0.8), "acoustic": (0.0, -0.4), "metal": (-0.5, 1.0),
    "heavy metal": (-0.5, 1.0), "hard rock": (-0.3, 1.0), "punk": (-0.3, 1.0),
    "rock": (0.0, 0.6), "electronic": (0.1, 0.5), "House": (0.4, 0.9), "sexy": (0.4, 0.2),
}
_WORD = re.compile(r"[a-zA-Z']+")


def comment_va(comment: str, emotion: str | None = None) -> tuple[float, float]:
    """(valence, arousal) of a comment: its ArtEmis label's place, else its words'."""
    if emotion and emotion.strip().lower() in EMOTION_VA:
        return EMOTION_VA[emotion.strip().lower()]
    from a2m_core.prompt import _afinn

    words = [w.lower() for w in _WORD.findall(comment)]
    afinn = _afinn()
    scores = [afinn.score(w) for w in words]
    valence = float(np.tanh(sum(scores) / 4.0)) if scores else 0.0
    hits = [sign for w in words for sign, stems in AROUSAL_WORDS.items()
            if any(w.startswith(s) for s in stems)]
    arousal = float(np.clip(np.mean(hits), -1, 1)) if hits else 0.0
    return valence, arousal


def music_va(tags: list[dict[str, float]]) -> np.ndarray:
    """``[N, 2]`` (valence, arousal) of clips from their mean musicnn MSD tag
    probabilities, z-scored over the clips."""
    raw = np.array([[sum(t.get(k, 0.0) * w[axis] for k, w in TAG_VA.items())
                     for axis in (0, 1)] for t in tags], np.float64)
    if len(raw) < 2:
        return raw
    sd = raw.std(0)
    return (raw - raw.mean(0)) / np.where(sd > 1e-12, sd, 1.0)


def feeling_agreement(comments: list[tuple[str, str | None]],
                      tags: list[dict[str, float]]) -> dict[str, float | int]:
    """Shares of items whose comment and music agree in valence, in arousal and in both
    (items whose comment is neutral on an axis don't count for that axis)."""
    text = np.array([comment_va(c, e) for c, e in comments], np.float64)
    music = music_va(tags)
    out: dict[str, float | int] = {"items": len(comments)}
    for axis, name in ((0, "valence"), (1, "arousal")):
        used = np.abs(text[:, axis]) > 1e-9
        agree = np.sign(text[used, axis]) == np.sign(music[used, axis])
        out[f"{name}_items"] = int(used.sum())
        out[f"{name}_agreement"] = float(agree.mean()) if used.any() else float("nan")
    both = (np.abs(text) > 1e-9).all(1)
    out["quadrant_items"] = int(both.sum())
    out["quadrant_agreement"] = float((np.sign(text[both]) == np.sign(music[both])).all(1)
                                      .mean()) if both.any() else float("nan")
    return out
