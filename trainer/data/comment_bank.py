"""Viewer-like comments for training the notes starter's plan, by feeling.

The starter has no real viewer comments to learn from (the fixture comments are what it is
measured on). The plan must still read feeling from a sentence that speaks of what is
painted, so training texts are composed here: a painted subject and a predicate whose
feeling sits in one quadrant of the valence-arousal plane (Russell 1980), the quadrant of
the music window it is paired with. Words were chosen for their feeling, not for any
benchmark sentence; the benchmark's pairs live in ``benchmarks/fixtures`` and were written
separately.
"""
from __future__ import annotations

import random

SUBJECTS = (
    "the sky", "the sea", "the river", "the woman", "the old man", "the girl", "the village",
    "the field", "the trees", "the garden", "the crowd", "this landscape", "the flowers",
    "the room", "the mountain", "the boats", "the children", "the street", "the horses",
    "the clouds", "the forest", "the harbour", "the dancers", "the bridge", "the lake",
    "the moon", "the sun", "the soldiers", "the market", "the snow", "the waves",
    "the portrait", "the face", "the table", "the hills", "the birds", "the city",
    "the church", "the wind", "the light", "the colours", "the figures", "the path",
)

# (arousal level 0 very calm .. 3 very lively) x (valence "neg" | "pos") -> predicates
PREDICATES: dict[tuple[int, str], tuple[str, ...]] = {
    (3, "pos"): (
        "bursts with wild joy", "dances and leaps with excitement", "is bursting with "
        "energy and delight", "feels like a festival, bright and thrilling", "spins "
        "and sparkles with happiness", "is bustling, loud and cheerful", "races along "
        "full of exhilaration", "jumps with playful, vivid energy", "feels ecstatic and "
        "electric", "is alive with laughter and movement", "buzzes with excitement",
        "celebrates, exuberant and quick"),
    (2, "pos"): (
        "looks lively and cheerful", "feels bright and playful", "moves with happy "
        "energy", "is sunny and full of life", "feels fresh and joyful", "hums with "
        "pleasant activity", "feels warm, bright and busy", "looks merry and awake",
        "is full of hope and bright movement", "feels hearty and glad"),
    (1, "pos"): (
        "feels calm and content", "rests in gentle warmth", "looks peaceful and kind",
        "is soft and tender", "feels relaxed and serene", "glows quietly with comfort",
        "seems gentle and at ease", "feels like a mild, pleasant afternoon",
        "is tranquil and sweet", "feels cosy and unhurried"),
    (0, "pos"): (
        "sleeps in deep peace", "is utterly still and serene", "drifts slowly in soft "
        "silence", "rests, hushed and tranquil", "feels like a slow lullaby", "lies "
        "motionless in gentle calm", "breathes slowly in the quiet dusk", "is calm, "
        "slow and dreamy"),
    (3, "neg"): (
        "rages with fury and terror", "is frantic, violent and chaotic", "screams with "
        "panic", "crashes and roars in a terrifying storm", "trembles in wild fear",
        "explodes with anger", "is a storm of dread and alarm", "lashes out, furious and "
        "fast", "feels desperate and hysterical", "shakes with horror"),
    (2, "neg"): (
        "feels tense and restless", "looks anxious and agitated", "is uneasy and "
        "nervous", "feels troubled and harsh", "seems angry and tense", "is restless "
        "and worried", "feels stressful and disturbing", "looks stormy and upset"),
    (1, "neg"): (
        "feels sad and heavy", "looks gloomy and weary", "is melancholy and grey",
        "seems tired and sorrowful", "feels lonely and subdued", "looks wistful and "
        "dim", "feels downcast and slow", "is pensive and sombre"),
    (0, "neg"): (
        "mourns in silence", "is lifeless and still with grief", "feels empty, slow and "
        "desolate", "lies still in sorrow", "is hopeless and dark", "grieves without a "
        "sound", "feels numb, cold and lonely", "fades slowly into despair"),
}
OPENERS = ("", "", "I feel that ", "To me ", "Somehow ", "Here ", "It seems ")


def comment_for(arousal_level: int, valence: str, rng: random.Random) -> str:
    """One composed comment for a quadrant (``arousal_level`` 0..3, ``valence``)."""
    subject = rng.choice(SUBJECTS)
    predicate = rng.choice(PREDICATES[(arousal_level, valence)])
    opener = rng.choice(OPENERS)
    text = f"{opener}{subject} {predicate}"
    return text[0].upper() + text[1:]
