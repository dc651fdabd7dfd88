"""Finn Årup Nielsen's AFINN-165 sentiment word list, found in a text as the ``afinn``
package finds it.

``afinn.Afinn`` compiles its 3,382 words and phrases into one regular expression when it is
built: 0.2 s of every process's start, for look-ups that a dictionary does in microseconds.
This reads the package's own word file and matches the same way (whole words and phrases,
the longest first, left to right, not overlapping); a test holds the two equal on the
corpus's comments.
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

_WORD_FILE = "AFINN-en-165.txt"
_WORD_CHAR = re.compile(r"\w")
_WORD_START = re.compile(r"\b\w")


class Lexicon:
    """``find_all(text)``: the list's words and phrases in ``text``; ``score(text)``: the sum
    of their scores (negative: unpleasant)."""

    def __init__(self, scores: dict[str, int]) -> None:
        self.scores = scores
        self._by_first: dict[str, list[str]] = {}
        for entry in sorted(scores, key=len, reverse=True):
            self._by_first.setdefault(entry[0], []).append(entry)

    def find_all(self, text: str) -> list[str]:
        text = re.sub(r"\s+", " ", text).lower()
        found, resume = [], 0
        for start in _WORD_START.finditer(text):
            i = start.start()
            if i < resume:
                continue
            for entry in self._by_first.get(text[i], ()):
                end = i + len(entry)
                if text.startswith(entry, i) and (
                        end == len(text) or not _WORD_CHAR.match(text[end])):
                    found.append(entry)
                    resume = end
                    break
        return found

    def score(self, text: str) -> float:
        return float(sum(self.scores[w] for w in self.find_all(text)))


@lru_cache(maxsize=1)
def afinn() -> Lexicon:
    """The English AFINN-165 list, read once per process from the ``afinn`` package."""
    scores = {}
    # one name at a time: a frozen build's resource path joins a single part per call
    text = resources.files("afinn").joinpath("data").joinpath(_WORD_FILE).read_text(
        encoding="utf-8")
    for line in text.splitlines():
        if line.strip():
            word, value = line.strip().split("\t")
            scores[word] = int(value)
    return Lexicon(scores)
