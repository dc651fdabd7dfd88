"""The styles a notes model plays, and what it says of a genre it does not.

A notes bundle learns from its corpus's music: the starter's is Irish and English folk tunes
(O'Neill's, Nottingham: jigs, reels, airs) and Bach's four-part chorales. A hint naming a
genre it has never heard ("Jazz", "Techno") cannot be played, and it is never ignored in
silence: :func:`genre_note` gives one line saying so and naming the nearest style the model
has, by what the two share (dance metre and a tune over a beat: folk; slow harmony in parts:
chorale).
"""
from __future__ import annotations

import re
from collections.abc import Iterable

# style -> (what it is, in a few words; the words that ask for it)
STYLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "folk": ("folk tunes", ("folk", "folk music", "celtic", "irish", "jig", "reel",
                            "traditional music", "fiddle tune")),
    "chorale": ("chorales", ("chorale", "chorales", "hymn", "choral", "bach")),
}
# genres no starter style is, -> the nearest style it has
NEAREST: dict[str, str] = {
    **dict.fromkeys(("jazz", "swing", "bebop", "blues", "country", "bluegrass", "rock",
                     "rock and roll", "rock music", "pop", "pop music", "punk", "punk rock",
                     "heavy metal", "metal", "hip hop", "hip hop music", "rap", "reggae",
                     "ska", "funk", "soul", "soul music", "rhythm and blues", "disco",
                     "techno", "house", "house music", "trance", "trance music", "dubstep",
                     "drum and bass", "electronic", "electronic music",
                     "electronic dance music", "edm", "dance", "dance music", "salsa",
                     "samba", "bossa nova", "latin", "flamenco", "afrobeat", "k-pop",
                     "polka", "tango", "waltz", "klezmer"), "folk"),
    **dict.fromkeys(("classical", "classical music", "baroque", "opera", "gospel",
                     "church music", "orchestral", "ambient", "ambient music", "new age",
                     "new-age music", "minimalism", "lullaby", "carnatic", "gregorian"),
                    "chorale"),
}


def unplayable_genre(hints: Iterable[str], styles: Iterable[str] = tuple(STYLES)
                     ) -> tuple[str, str] | None:
    """(the first hinted genre the model cannot play, as typed; the nearest style it has),
    or None when every hint is playable or names no genre."""
    styles = [s for s in styles if s in STYLES]
    if not styles:
        return None
    playable = {word for s in styles for word in STYLES[s][1]}
    for hint in hints:
        for raw in re.split(r"[;,]", hint or ""):
            phrase = " ".join(raw.lower().split())
            if not phrase or phrase in playable:
                continue
            words = phrase.split()
            found = next((g for g in (phrase, *words, *(" ".join(words[i:i + 2])
                                                       for i in range(len(words) - 1)))
                          if g in NEAREST and g not in playable), None)
            if found is not None:
                return raw.strip(), NEAREST[found] if NEAREST[found] in styles else styles[0]
    return None


def genre_note(hints: Iterable[str], styles: Iterable[str] = tuple(STYLES)) -> str | None:
    """One line for a hinted genre the model cannot play, naming the nearest style it has
    (``unplayable_genre``); None when there is none. ``genre_note(["Jazz; mellow piano"])``:
    "'Jazz' is not a style this model plays (it plays folk tunes and chorales): the nearest
    it has is folk"."""
    styles = [s for s in styles if s in STYLES]
    found = unplayable_genre(hints, styles)
    if found is None:
        return None
    plays = " and ".join(STYLES[s][0] for s in styles)
    return (f"'{found[0]}' is not a style this model plays (it plays {plays}): the nearest "
            f"it has is {found[1]}")
