"""The composite text of SPEC §2.2, shared by the dataset builder and the engine.

``Art Commentary: <comment>. Painting Emotion: <emotion keywords>. Audio: <AudioSet labels>.
Audio keywords: <caption keywords>.``

Emotion keywords come from the comment through Finn Årup Nielsen's AFINN sentiment lexicon
(the paper's reference; the ``afinn`` package ships the word list), followed by a
closed-class filter that plays the part of the paper's part-of-speech filter: it drops the
lexicon hits that are interjections, negators or discourse words rather than
content words ("no", "yes", "please", ...). The ArtEmis emotion label is appended when known.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .lexicon import Lexicon

DEFAULT_TEMPLATE = (
    "Art Commentary: {comment}. Painting Emotion: {emotion}. Audio: {labels}. "
    "Audio keywords: {keywords}."
)
# The paper's text with the painting's own words beside the viewer's: its look and what it
# shows, measured from the pixels (``a2m_core.painting.painting_words``), so the text
# encoder reads the painting even when the comment is plain or absent.
PAINTING_TEMPLATE = (
    "Art Commentary: {comment}. Painting Emotion: {emotion}. Painting: {painting}. "
    "Audio: {labels}. Audio keywords: {keywords}."
)

# Lexicon hits that are not content words (the POS filter's job in the paper). Function
# and discourse words only: every sentiment word still comes from the AFINN package.
_NON_CONTENT = frozenset(
    "no yes yeah yea please ok okay lol haha hah huh like likes liked want wants wanted".split()
)
_ARTEMIS_EMOTIONS = frozenset(
    "amusement awe contentment excitement anger disgust fear sadness".split()
)
# ArtEmis' nine labels; "something else" is valid but adds no emotion word.
ARTEMIS_LABELS = tuple(sorted(_ARTEMIS_EMOTIONS)) + ("something else",)
# The longest comment accepted from a user. The text encoders read far less (OpenCLIP: 77
# tokens of the whole composite prompt, about 50 words; MiniLM: 256 word pieces), so a
# longer text is surely a paste by mistake; the engine notes any truncation it does.
MAX_COMMENT_CHARS = 1000


def check_user_text(comment: str, emotion: str | None = None) -> None:
    """Refuse, before any model work, what a user typed that can't be used as asked. An
    empty comment is fine: a visitor who writes nothing still hears the painting.

    Raises:
        ValueError: an over-long comment, or an emotion ArtEmis doesn't have.
    """
    text = _clean(comment or "")
    if len(text) > MAX_COMMENT_CHARS:
        raise ValueError(f"the comment is {len(text):,} characters; at most "
                         f"{MAX_COMMENT_CHARS:,} are accepted (the text encoder reads only "
                         "about its first 50 words)")
    if emotion is not None and emotion.strip().lower() not in ARTEMIS_LABELS:
        raise ValueError(f"unknown emotion '{emotion}': use one of "
                         f"{', '.join(ARTEMIS_LABELS)}")


@dataclass(frozen=True)
class PromptConfig:
    """How the composite text is written; stored in every bundle."""

    template: str = DEFAULT_TEMPLATE
    max_emotion_words: int = 6  # strongest lexicon hits kept per comment
    drop_empty_sections: bool = True  # "Audio: ." reads as noise; omit sections with no content

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MusicHints:
    """Optional music hints: AudioSet label names and free caption-style keywords."""

    labels: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.labels or self.keywords)

    @classmethod
    def parse(cls, text: str | None) -> MusicHints:
        """Split ``"Jazz; mellow piano; warm"`` (or comma-separated) into labels and keywords.

        Pieces that name an AudioSet class (case-insensitive) become labels; the rest keywords.
        Use ``;`` between hints when a label itself has a comma ("Male speech, man speaking").
        """
        if not text or not text.strip():
            return cls()
        sep = ";" if ";" in text else ","
        names = audioset_names()
        labels: list[str] = []
        keywords: list[str] = []
        for piece in (p.strip() for p in text.split(sep)):
            if not piece:
                continue
            canonical = names.get(piece.lower())
            target, value = (labels, canonical) if canonical else (keywords, piece)
            if value not in target:
                target.append(value)
        return cls(tuple(labels), tuple(keywords))


def _afinn() -> Lexicon:
    from .lexicon import afinn

    return afinn()


@lru_cache(maxsize=1)
def audioset_table() -> dict[str, str]:
    """AudioSet MID -> display name, from the packaged ``class_labels_indices.csv``."""
    with resources.files("a2m_core.data").joinpath(
        "audioset_class_labels_indices.csv"
    ).open(encoding="utf-8") as f:
        return {row["mid"]: row["display_name"] for row in csv.DictReader(f)}


@lru_cache(maxsize=1)
def audioset_names() -> dict[str, str]:
    """Lower-cased display name -> display name, for recognising labels in hints."""
    return {name.lower(): name for name in audioset_table().values()}


@lru_cache(maxsize=1)
def hint_suggestions() -> list[str]:
    """Music hints to suggest: AudioSet's music labels (its subtree from index 137 'Music' to
    282 'Scary music'), then frequent MusicCaps caption keywords."""
    labels = list(audioset_table().values())[137:283]
    text = resources.files("a2m_core.data").joinpath("musiccaps_aspect_keywords.txt").read_text(
        encoding="utf-8")
    seen = {x.lower() for x in labels}
    return labels + [k for k in text.splitlines() if k and k.lower() not in seen]


def emotion_keywords(
    comment: str, emotion_label: str | None = None, max_words: int = 6
) -> list[str]:
    """Sentiment-bearing words of ``comment`` (strongest first, at most ``max_words``), then
    the ArtEmis emotion label if it is one of the eight named emotions."""
    lexicon = _afinn()
    hits = []
    seen = set()
    for order, word in enumerate(lexicon.find_all(comment.lower())):
        if word in seen or word in _NON_CONTENT:
            continue
        seen.add(word)
        hits.append((-abs(lexicon.score(word)), order, word))
    strongest = sorted(hits)[:max_words]
    words = [w for _, _, w in sorted(strongest, key=lambda h: h[1])]  # back to reading order
    if emotion_label:
        label = emotion_label.strip().lower()
        if label in _ARTEMIS_EMOTIONS and label not in words:
            words.append(label)
    return words


# Words that say how much energy a comment feels (stems, matched at word starts): AFINN
# scores pleasure, not energy, and "restless" or "sleepy" name a plan's tempo best.
ENERGY_WORDS = {
    1.0: ("excit", "energ", "wild", "furious", "frantic", "panic", "violent", "storm", "rage",
          "angry", "dance", "danc", "lively", "restless", "alive", "chaos", "chaotic", "fast",
          "loud", "roar", "crash", "burst", "explo", "thrill", "intense", "dramatic", "tense",
          "fear", "terr", "scream", "vibrant", "joyful", "festival", "spin", "swirl",
          "agitat", "energetic", "cheerful"),
    -1.0: ("calm", "quiet", "peace", "gentle", "sleep", "still", "soft", "slow", "serene",
           "tranquil", "rest", "silent", "silence", "lonel", "tired", "mournful", "sorrow",
           "melanchol", "sad", "grief", "griev", "dreamy", "lullaby", "relax", "hush",
           "wistful", "sombre", "somber", "mellow"),
}


def feeling_words(comment: str, limit: int = 3) -> list[str]:
    """The words of ``comment`` that carry its feeling, in reading order: its energy words
    (``ENERGY_WORDS``) and its AFINN sentiment words, at most ``limit``."""
    lexicon = _afinn()
    out: list[str] = []
    for word in re.findall(r"[a-z']+", (comment or "").lower()):
        energetic = any(word.startswith(s) for stems in ENERGY_WORDS.values() for s in stems)
        if word not in out and word not in _NON_CONTENT and (
                energetic or lexicon.score(word) != 0):
            out.append(word)
    return out[:limit]


def caption_keywords(aspect_list: str | Iterable[str]) -> list[str]:
    """MusicCaps' ``aspect_list`` (a Python-list literal string, or a list) -> keywords."""
    if isinstance(aspect_list, str):
        items = re.findall(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"", aspect_list)
        aspects = [a or b for a, b in items]
    else:
        aspects = list(aspect_list)
    out: list[str] = []
    for a in (x.strip() for x in aspects):
        if a and a not in out:
            out.append(a)
    return out


def label_names(mids: str | Iterable[str]) -> list[str]:
    """AudioSet MIDs (``"/m/04rlf,/m/0l14md"`` or a list) -> display names, unknown ones kept
    out (the builder counts them)."""
    table = audioset_table()
    if isinstance(mids, str):
        mids = [m.strip() for m in mids.split(",")]
    return [table[m] for m in mids if m in table]


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().rstrip(".").strip()


@dataclass(frozen=True)
class CompositePrompt:
    text: str
    emotion_words: tuple[str, ...] = field(default=())


def build_prompt(
    comment: str,
    hints: MusicHints | None = None,
    emotion_label: str | None = None,
    config: PromptConfig | None = None,
    painting: str = "",
) -> CompositePrompt:
    """The composite text for one comment (may be empty), optional music hints and, where
    the template has a ``{painting}`` field, the painting's words (``painting_words``)."""
    config = config or PromptConfig()
    comment = _clean(comment or "")
    hints = hints or MusicHints()
    emotion = emotion_keywords(comment, emotion_label, config.max_emotion_words)
    values = {
        "comment": comment,
        "emotion": ", ".join(emotion),
        "painting": painting,
        "labels": ", ".join(hints.labels),
        "keywords": ", ".join(hints.keywords),
    }
    text = config.template.format(**values)
    if config.drop_empty_sections:
        # A section is "<Name>: {field}." ; drop it when its field rendered empty.
        text = re.sub(r"\s*[A-Z][A-Za-z ]*:\s*\.(?=\s|$)", "", text).strip()
    return CompositePrompt(text=text, emotion_words=tuple(emotion))
