"""The painting speaks: its look steers the plan, the comment leads, and the plan says why."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from a2m_core import Art2Music
from a2m_core.debug import build_debug_bundle, tiny_notes_config
from a2m_core.notes.plan import Pins
from a2m_core.notes.sampler import FLUID_R3_GM
from a2m_core.notes.steering import led_by_comment, painting_steer, scriabin_tonic
from a2m_core.painting import measure, painting_words, subjects_of
from a2m_core.prompt import PAINTING_TEMPLATE, PromptConfig, build_prompt, feeling_words

from .conftest import EXAMPLE_PAINTING

needs_soundfont = pytest.mark.skipif(
    not Path(FLUID_R3_GM.path).is_file(),
    reason="FluidR3_GM.sf2 missing: apt-get install fluid-soundfont-gm (scripts/system-deps.sh)")
PLAIN = "I keep looking at this picture"


@pytest.fixture(scope="module")
def notes_engine(tmp_path_factory):
    path = tmp_path_factory.mktemp("notes") / "tiny-notes.safetensors"
    return Art2Music.load(build_debug_bundle(path, seed=0, config=tiny_notes_config()),
                          device="cpu")


def copy_of(img: Image.Image, brightness: float, saturation: float) -> Image.Image:
    return ImageEnhance.Color(ImageEnhance.Brightness(img).enhance(brightness)).enhance(
        saturation)


def flat(rgb: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (64, 48), rgb)


def test_the_look_is_measured_from_the_pixels_and_said_in_plain_words():
    night = measure(flat((10, 14, 40)))
    noon = measure(flat((250, 200, 60)))
    assert night.brightness < 0.2 and "dark" in night.words and "night" in night.words
    assert noon.valence > night.valence and "bright" in noon.words and "warm" in noon.words
    grey = measure(flat((128, 128, 128)))
    assert grey.hue_strength < 0.05 and "muted" in grey.words
    noisy = measure(Image.fromarray(
        np.random.default_rng(0).integers(0, 255, (96, 96, 3), np.uint8)))
    assert noisy.complexity > grey.complexity and "busy" in noisy.words


def test_a_dark_muted_copy_of_a_painting_feels_sadder_and_calmer_and_a_bright_one_livelier():
    img = Image.open(EXAMPLE_PAINTING).convert("RGB")
    orig, dark, bright = (measure(x) for x in (img, copy_of(img, 0.35, 0.3),
                                                copy_of(img, 1.3, 1.5)))
    assert dark.valence < orig.valence < bright.valence
    assert dark.arousal < orig.arousal < bright.arousal


def test_the_key_follows_the_dominant_hue_and_a_grey_painting_leaves_it_to_the_draw():
    assert scriabin_tonic(measure(flat((220, 30, 30))).hue) == 0  # red: C
    assert scriabin_tonic(measure(flat((40, 180, 60))).hue) == 9  # green: A
    instruments = ("piano", "strings", "choir", "marimba")
    assert painting_steer(measure(flat((128, 128, 128))), instruments).tonic is None
    assert painting_steer(measure(flat((220, 30, 30))), instruments).tonic == 0


def test_a_painting_names_what_it_shows_and_not_what_imagenet_calls_paintings():
    probs = np.zeros(1000)
    probs[483], probs[611], probs[975] = 0.5, 0.3, 0.16  # castle, jigsaw puzzle, lakeside
    assert subjects_of(probs) == ("castle", "lake")
    probs[:] = 0
    probs[611] = 0.9  # only "jigsaw puzzle": nothing to say
    assert subjects_of(probs) == ()


def test_the_composite_text_carries_the_paintings_words_unless_the_comment_says_them():
    look = measure(flat((10, 14, 40)), subjects=("bridge", "boats"))
    cfg = PromptConfig(template=PAINTING_TEMPLATE)
    text = build_prompt("the dark water under the bridge", None, None, cfg,
                        painting_words(look, "the dark water under the bridge")).text
    assert "Painting: night" in text and "boats" in text
    assert "Painting: dark" not in text and ", bridge" not in text
    alone = build_prompt("", None, None, cfg, painting_words(look)).text
    assert alone.startswith("Painting: dark") and "Art Commentary" not in alone
    # a bundle whose template has no painting field (the paper's) reads the comment alone
    assert "Painting:" not in build_prompt("calm", None, None, PromptConfig(), "dark").text


def test_a_comment_against_the_painting_leads_and_the_painting_still_pulls():
    instruments = ("piano", "strings", "choir", "marimba")
    steer = painting_steer(measure(flat((15, 15, 30))), instruments)  # dark: slower, minor
    assert steer.mean[0] < 0 and steer.mode < 0
    joyful = led_by_comment(steer, np.array([0.8, 0, 0, 0, 0.5]), comment_mode=2.0)
    assert steer.mean[0] < joyful.mean[0] < 0  # still slower, less so
    assert steer.mode < joyful.mode < 0
    agreeing = led_by_comment(steer, np.array([-0.8, 0, 0, 0, -0.5]), comment_mode=-2.0)
    assert agreeing.mean == steer.mean and agreeing.mode == steer.mode


@needs_soundfont
def test_on_a_tiny_bundle_a_dark_copy_plays_slower_and_softer_and_a_bright_one_faster(
        notes_engine):
    """Seeded: the same draw for the three pictures, so what differs is what the painting
    asks (a tiny random head's spread would drown an unseeded comparison; the starter's is
    measured by benchmarks/bench_painting.py)."""
    img = Image.open(EXAMPLE_PAINTING).convert("RGB")
    dark, bright = copy_of(img, 0.35, 0.3), copy_of(img, 1.3, 1.5)
    for seed in (1, 2, 3):
        o, d, b = (notes_engine.generate(x, PLAIN, seed=seed).plan for x in (img, dark, bright))
        assert d.tempo_bpm < o.tempo_bpm < b.tempo_bpm, (seed, d, o, b)
        assert d.velocity < o.velocity < b.velocity, (seed, d, o, b)


@needs_soundfont
def test_the_why_line_names_the_paintings_words_and_the_comments(notes_engine):
    dark = copy_of(Image.open(EXAMPLE_PAINTING).convert("RGB"), 0.35, 0.3)
    clip = notes_engine.generate(dark, "restless and wild, the sky is alive", seed=3)
    assert clip.why.startswith("painting: dark") and "slower" in clip.why
    assert "comment: 'restless' 'wild'" in clip.why
    assert clip.plan_dict()["why"] == clip.why and "dark" in clip.plan_dict()["painting"]["words"]
    plain = notes_engine.generate(dark, PLAIN, seed=3)
    assert "comment: no feeling words → the painting leads" in plain.why
    pinned = notes_engine.generate(dark, PLAIN, seed=3, pins=Pins(tempo_bpm=90))
    assert pinned.plan.tempo_bpm == 90 and "slower" not in pinned.why
    assert pinned.why.endswith("pinned: tempo")


@needs_soundfont
def test_a_visitor_who_writes_nothing_still_hears_the_painting(notes_engine):
    img = Image.open(EXAMPLE_PAINTING).convert("RGB")
    clip = notes_engine.generate(img)
    assert clip.plan is not None and np.abs(clip.audio).max() > 0.01
    assert "no comment: the painting leads" in clip.why
    assert clip.prompt.startswith("Painting:") or clip.prompt == ""
    assert notes_engine.generate(img).plan == clip.plan  # the painting's own performance


def test_feeling_words_are_the_ones_a_person_would_quote():
    assert feeling_words("The swirling sky feels alive, restless and full of wonder") == [
        "swirling", "alive", "restless"]
    assert feeling_words(PLAIN) == []
