"""The music corpus builder: rendered scores and recorded packages become windows with true
captions, a MusicCaps-format table the ArtiCaps builder reads, and a licence manifest."""
from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from trainer.data.corpus import (
    STRUCK,
    CorpusConfig,
    CorpusError,
    build_corpus,
    choose_instrument,
    render_score,
)

needs_fluidsynth = pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not Path("/usr/share/sounds/sf2/FluidR3_GM.sf2").exists(),
    reason="fluidsynth and fluid-soundfont-gm are not installed (scripts/system-deps.sh)")


def _tune():
    """A two-bar D minor melody with an ABC grace note (the case that once hung FluidSynth)."""
    from music21 import converter

    return converter.parse("X:1\nT:Test\nM:4/4\nL:1/4\nK:Dm\n{e}d f a d' | c' a f d |]\n",
                           format="abc")


@needs_fluidsynth
def test_a_rendered_score_sounds_on_the_instrument_and_tempo_it_was_given(tmp_path):
    cfg = CorpusConfig(out=tmp_path)
    slow = render_score(_tune(), 40, 60, 80, cfg)
    fast = render_score(_tune(), 40, 120, 80, cfg)
    sr = cfg.mel.sample_rate
    # 8 quarter notes: ~8 s at 60 bpm, ~4 s at 120 bpm (plus a short release).
    assert 7.5 < len(slow) / sr < 9.5 and 3.5 < len(fast) / sr < 5.5
    assert np.sqrt(np.mean(slow ** 2)) > 0.01


def _debian_like(tmp_path: Path) -> dict:
    """A folder laid out like a Debian music package, with one real recording in it."""
    from a2m_core.audio import load_audio

    folder = tmp_path / "pkg" / "music"
    folder.mkdir(parents=True)
    src = next((Path(__file__).resolve().parents[2].parent / "shared" / "data" /
                "music_clips").glob("Kevin_MacLeod_-_Vibe_Ace.ogg"), None)
    if src is None:
        pytest.skip("shared fixture music is not beside this checkout")
    sf.write(folder / "Vibe Ace.ogg", load_audio(src, 22050)[: 22050 * 30], 22050)
    return {"testmusic": {"folder": str(folder), "licence": "CC BY 3.0",
                          "attribution": "Kevin MacLeod (incompetech.com)",
                          "labels": ("Jazz",), "phrase": "a jazz piece with vibraphone"}}


@needs_fluidsynth
def test_the_corpus_has_true_captions_a_licence_row_per_window_and_resumes(
        tmp_path, monkeypatch):
    import trainer.data.corpus as corpus

    debian = _debian_like(tmp_path)
    cfg = CorpusConfig(out=tmp_path / "corpus", sources=("oneills", "testmusic"),
                       folk_tunes=2, windows_per_track=2, workers=1, debian=debian)
    result = build_corpus(cfg)
    with open(cfg.out / "musiccaps.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert result.windows == len(rows) >= 4
    assert set(result.by_source) == {"oneills", "testmusic"}
    for r in rows:
        audio = cfg.out / "audio" / r["audio"]
        assert audio.name == f"{r['ytid']}_{float(r['start_s']):g}-{float(r['end_s']):g}.wav"
        assert sf.info(audio).frames == cfg.mel.n_samples
        if r["source"] == "oneills":
            # What the rendering used is what the caption says.
            assert f"at {float(r['tempo_bpm']):.0f} bpm" in r["caption"]
            assert f"in {r['key']} {r['mode']}" in r["caption"]
            phrase = corpus.INSTRUMENTS[r["instrument"]][2]
            assert phrase in r["caption"]
        else:
            assert "around" in r["caption"] and "jazz piece" in r["caption"]
        assert r["audioset_positive_labels"].startswith("/m/")
    with open(cfg.out / "licences.csv", newline="") as f:
        licences = {r["ytid"]: r for r in csv.DictReader(f)}
    assert set(licences) == {r["ytid"] for r in rows}
    assert {r["licence"] for r in licences.values() if r["source"] == "testmusic"} == \
        {"CC BY 3.0"}
    notice = (cfg.out / "NOTICE.md").read_text()
    assert "Kevin MacLeod" in notice and "FluidR3_GM" in notice

    # A second run renders nothing again (every window already has its record).
    before = {p.name: p.stat().st_mtime_ns for p in (cfg.out / "items").iterdir()}
    monkeypatch.setattr(corpus, "render_score", lambda *a, **k: pytest.fail("re-rendered"))
    build_corpus(cfg)
    assert {p.name: p.stat().st_mtime_ns for p in (cfg.out / "items").iterdir()} == before

    # The same folder asked for fewer sources: the tables hold only those.
    fewer = build_corpus(dataclasses.replace(cfg, sources=("oneills",)))
    assert set(fewer.by_source) == {"oneills"}
    with open(cfg.out / "licences.csv", newline="") as f:
        assert {r["source"] for r in csv.DictReader(f)} == {"oneills"}


def test_the_articaps_builder_reads_the_corpus_table(tmp_path, shared_data):
    """The corpus table is in MusicCaps' format: ``a2m-train build`` takes it as is."""
    from trainer.data.builder import BuildConfig, build_articaps

    debian = _debian_like(tmp_path)
    cfg = CorpusConfig(out=tmp_path / "corpus", sources=("testmusic",), windows_per_track=2,
                       debian=debian)
    build_corpus(cfg)
    result = build_articaps(BuildConfig(
        artemis=shared_data / "artemis" / "artemis_sample.csv",
        images=shared_data / "wikiart", musiccaps=cfg.out / "musiccaps.csv",
        audio=cfg.out / "audio", out=tmp_path / "articaps"))
    assert result.clips == 2 and result.pairs == 13
    manifest = json.loads((tmp_path / "articaps" / "manifest.json").read_text())
    assert manifest["complete"]


def test_a_missing_package_or_source_is_named(tmp_path):
    cfg = CorpusConfig(out=tmp_path, sources=("nope",))
    with pytest.raises(CorpusError, match="unknown corpus source"):
        build_corpus(cfg)
    cfg = CorpusConfig(out=tmp_path, sources=("x",),
                       debian={"x": {"folder": str(tmp_path / "absent"), "licence": "",
                                     "attribution": "", "labels": (), "phrase": ""}})
    with pytest.raises(CorpusError, match="apt-get install x"):
        build_corpus(cfg)


def test_a_starter_work_folder_refuses_a_recipe_with_other_music(tmp_path):
    # its paired dataset is built once: other sources would train on the old music
    from trainer.starter import StarterConfig, _check_work_folder

    work = tmp_path / "starter"
    _check_work_folder(work, StarterConfig())
    _check_work_folder(work, StarterConfig(epochs=3))  # training settings may change
    with pytest.raises(ValueError, match=r"other settings \(sources .*wesnoth-music"):
        _check_work_folder(work, StarterConfig(sources=("bach", "wesnoth-music")))


def test_a_work_folder_from_the_random_instrument_rule_is_rebuilt_not_reused(tmp_path):
    # a folder recorded before the articulation rule holds the old music
    from trainer.starter import StarterConfig, _check_work_folder

    work = tmp_path / "starter"
    work.mkdir()
    (work / "recipe-data.json").write_text(json.dumps(
        {"sources": list(StarterConfig().sources), "chorales": 90, "folk_tunes": 110,
         "seed": 0}))
    with pytest.raises(ValueError, match="rendering 'instrument at random'"):
        _check_work_folder(work, StarterConfig())


def test_fast_strong_renderings_are_mostly_struck_and_slow_soft_ones_mostly_held():
    # Juslin & Laukka's articulation cue: calm music is legato, lively music detached
    import random

    from trainer.data.corpus import CHORALE_INSTRUMENTS, FOLK_INSTRUMENTS

    for instruments in (CHORALE_INSTRUMENTS, FOLK_INSTRUMENTS):
        rng = random.Random(0)
        calm = [choose_instrument(rng, instruments, 0.0, 0.0) for _ in range(400)]
        lively = [choose_instrument(rng, instruments, 1.0, 1.0) for _ in range(400)]
        share = lambda picks: sum(p in STRUCK for p in picks) / len(picks)  # noqa: E731
        assert share(calm) < 0.25 and share(lively) > 0.75
        assert set(calm) == set(lively) == set(instruments)  # every one still plays
