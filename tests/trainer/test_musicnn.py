"""musicnn embeddings (the [eval] extra) for FAD and cosine, and the feeling agreement."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from trainer.evaluate.feeling import comment_va, feeling_agreement, music_va
from trainer.evaluate.metrics import fad_and_cosine, frechet_distance

pytest.importorskip("musicnn", reason="the [eval] extra (musicnn) is not installed")


@pytest.fixture(scope="module")
def musicnn():
    from trainer.evaluate.musicnn_embed import MusicnnEmbedding

    return MusicnnEmbedding()


@pytest.fixture(scope="module")
def fixture_waves(music_clips):
    from a2m_core.audio import load_audio

    return [load_audio(p, 22050)[: 22050 * 10] for p in music_clips]


def test_a_recording_is_at_zero_distance_from_itself_and_far_from_noise(musicnn,
                                                                        fixture_waves):
    rng = np.random.default_rng(0)
    noise = [rng.normal(0, 0.1, 22050 * 10).astype(np.float32) for _ in fixture_waves]
    music = np.concatenate(musicnn(fixture_waves, 22050))
    assert music.shape[1] == 200
    assert abs(frechet_distance(music, music)) < 1e-3
    between_music = frechet_distance(np.concatenate(musicnn(fixture_waves[:2], 22050)),
                                     np.concatenate(musicnn(fixture_waves[2:], 22050)))
    to_noise = frechet_distance(music, np.concatenate(musicnn(noise, 22050)))
    assert to_noise > 1.5 * between_music
    fad, cos = fad_and_cosine(musicnn, fixture_waves, fixture_waves, 22050)
    assert abs(fad) < 1e-3 and cos == pytest.approx(1.0)


def test_loud_input_does_not_overflow_into_inf(musicnn):
    # musicnn's own extractor casts the mel to float16, which overflows on loud input.
    t = np.arange(22050 * 4) / 22050
    loud = (40.0 * np.sign(np.sin(2 * np.pi * 110 * t))).astype(np.float32)
    emb = musicnn([loud], 22050)[0]
    assert np.isfinite(emb).all()


def test_mood_tags_name_the_feeling_of_a_recording(musicnn, fixture_waves):
    tags = musicnn.tags(fixture_waves, 22050)
    assert set(tags[0]) >= {"happy", "sad", "Mellow", "party"}
    assert all(0.0 <= v <= 1.0 for t in tags for v in t.values())


def test_a_comment_is_placed_by_its_emotion_or_its_words():
    assert comment_va("whatever", "sadness") == (-0.7, -0.5)
    v, a = comment_va("A calm, quiet night; the village sleeps peacefully")
    assert v > 0 and a < 0
    v, a = comment_va("Frantic and loud, a burst of panic racing through the scene")
    assert v < 0 and a > 0
    assert comment_va("a painting of a chair") == (0.0, 0.0)


def test_agreement_counts_items_on_the_same_side_of_each_axis():
    joyful = {"happy": 0.9, "party": 0.6, "sad": 0.05}
    sombre = {"happy": 0.05, "sad": 0.8, "Mellow": 0.7}
    comments = [("wild joyful dancing, so exciting", None), ("sad and tired, mournful", None)]
    right = feeling_agreement(comments, [joyful, sombre])
    wrong = feeling_agreement(comments, [sombre, joyful])
    assert right["quadrant_agreement"] == 1.0 and wrong["quadrant_agreement"] == 0.0
    assert music_va([joyful, sombre])[0, 1] > music_va([joyful, sombre])[1, 1]


def test_without_tensorflow_the_error_says_what_to_install(monkeypatch):
    from a2m_core.errors import ModelLoadError
    from trainer.evaluate.musicnn_embed import MusicnnEmbedding

    monkeypatch.setitem(sys.modules, "tensorflow", None)
    with pytest.raises(ModelLoadError, match="pip install --no-deps musicnn"):
        MusicnnEmbedding()
