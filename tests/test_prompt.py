"""The composite text of SPEC §2.2, from a comment and optional music hints."""
from __future__ import annotations

import csv

from a2m_core.prompt import (
    MusicHints,
    PromptConfig,
    build_prompt,
    caption_keywords,
    emotion_keywords,
    hint_suggestions,
    label_names,
)


def test_a_comment_with_hints_reads_like_the_paper():
    hints = MusicHints(labels=("Jazz", "Piano"), keywords=("mellow piano", "warm"))
    prompt = build_prompt("The swirling sky feels alive and joyful", hints, emotion_label="awe")
    assert prompt.text == (
        "Art Commentary: The swirling sky feels alive and joyful. "
        "Painting Emotion: alive, joyful, awe. Audio: Jazz, Piano. "
        "Audio keywords: mellow piano, warm."
    )


def test_emotion_words_come_from_the_lexicon_not_function_words():
    words = emotion_keywords("No, I don't like it: a lonely scream of despair")
    assert words == ["lonely", "scream", "despair"]
    assert "no" not in words and "like" not in words


def test_strongest_emotion_words_are_kept_in_reading_order():
    # AFINN: wonderful +4, terrible -3, happy +3 (a tie goes to the earlier word), calm +2
    words = emotion_keywords("calm, calm and wonderful, ok, terrible, happy", max_words=2)
    assert words == ["wonderful", "terrible"]


def test_unknown_or_neutral_emotion_labels_are_not_added():
    assert emotion_keywords("a field", "something else") == []
    assert emotion_keywords("a field", "Sadness") == ["sadness"]


def test_comment_without_hints_drops_the_empty_sections():
    assert build_prompt("a calm sea").text == "Art Commentary: a calm sea. Painting Emotion: calm."
    full = build_prompt("a calm sea", config=PromptConfig(drop_empty_sections=False)).text
    assert full.endswith("Audio: . Audio keywords: .")


def test_an_empty_comment_leaves_only_what_else_there_is_to_say():
    assert build_prompt("   ").text == ""
    assert build_prompt("", MusicHints.parse("Jazz")).text == "Audio: Jazz."


def test_hints_split_into_audioset_labels_and_keywords():
    hints = MusicHints.parse("jazz; Male speech, man speaking; dreamy strings")
    assert hints.labels == ("Jazz", "Male speech, man speaking")
    assert hints.keywords == ("dreamy strings",)
    assert MusicHints.parse("Orchestra, slow") == MusicHints(("Orchestra",), ("slow",))
    assert not MusicHints.parse("  ")


def test_every_musiccaps_label_and_aspect_list_is_understood(shared_data):
    with open(shared_data / "musiccaps" / "musiccaps-public.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 5521
    for row in rows:
        mids = [m for m in row["audioset_positive_labels"].split(",") if m]
        assert len(label_names(mids)) == len(mids), row["ytid"]
    first = rows[0]
    assert caption_keywords(first["aspect_list"])[:3] == [
        "low quality", "sustained strings melody", "soft female vocal"]
    assert label_names("/m/04rlf") == ["Music"]


def test_hint_suggestions_offer_music_labels_then_caption_keywords():
    hints = hint_suggestions()
    assert hints[0] == "Music" and "Orchestra" in hints and "Scary music" in hints
    assert "Speech" not in hints  # only AudioSet's music subtree
    assert "mellow" in hints and "low quality" in hints  # frequent MusicCaps aspects
    assert len(hints) == len({h.lower() for h in hints})
