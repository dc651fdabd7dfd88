"""Building ArtiCaps from the shared fixtures, as a retrainer would."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from a2m_core.bundle import load_bundle
from trainer.data import ArtiCaps, BuildConfig, build_articaps
from trainer.data.builder import BuildConflict, split_paintings
from trainer.data.matching import top_k_matches
from trainer.data.sources import SourceError
from trainer.data.store import sha256_file


def fixture_config(shared: Path, out: Path, **kw) -> BuildConfig:
    return BuildConfig(artemis=shared / "artemis" / "artemis_sample.csv",
                       images=shared / "wikiart",
                       musiccaps=shared / "music_clips" / "musiccaps_sample.csv",
                       audio=shared / "music_clips", out=out, **kw)


@pytest.fixture(scope="module")
def built(shared_data, tiny_bundle, tmp_path_factory) -> ArtiCaps:
    bundle = load_bundle(tiny_bundle)
    cfg = fixture_config(shared_data, tmp_path_factory.mktemp("articaps") / "ds",
                         encoder=bundle.config.encoder, encoder_state=bundle.part("encoder"))
    build_articaps(cfg)
    return ArtiCaps.open(cfg.out)


def test_every_comment_with_a_painting_is_paired_with_a_real_clip(built):
    assert len(built.pairs) == 13 and len(built.clips) == 4
    ytids = {c["ytid"] for c in built.clips}
    for p in built.pairs:
        assert p["ytid"] in ytids
        scores = [float(s) for s in p["topk_scores"].split("; ")]
        assert scores == sorted(scores, reverse=True) and float(p["match_score"]) == scores[0]
        assert p["topk_ytids"].split("; ")[0] == p["ytid"] and len(scores) == 4
        assert p["prompt"].startswith(f"Art Commentary: {p['utterance'].rstrip('.')}.")
        assert "Audio keywords:" in p["prompt"]
    cheerful = next(p for p in built.pairs if p["utterance"].startswith("The wild bright"))
    assert "excitement" in cheerful["emotion_words"]


def test_rows_whose_images_are_missing_are_listed_not_fatal(built):
    assert built.manifest["counts"]["skipped"] == {"artemis:missing image": 8}
    with open(built.root / "skipped.csv", encoding="utf-8") as f:
        skipped = list(csv.DictReader(f))
    assert len(skipped) == 8 and {s["reason"] for s in skipped} == {"missing image"}
    assert any("aaron-siskind" in s["key"] for s in skipped)


def test_each_clip_has_one_mel_in_the_spec_convention(built):
    assert built.mels.shape == (4, 80, 896) and built.mels.dtype == np.float16
    assert built.mels.min() >= -1 and built.mels.max() <= 1
    trumpet = next(c for c in built.clips if c["ytid"].startswith("sorohanro"))
    mel = np.asarray(built.mels[int(trumpet["mel_row"])], np.float32)
    assert np.all(mel[:, 470:] == -1.0)  # the 5.3 s loop is padded with silence
    # one-to-many: 13 pairs share 4 mels, none duplicated
    assert len({p["mel_row"] for p in built.pairs}) <= 4


def test_clip_embeddings_are_stored_for_paintings_and_prompts(built):
    assert built.image_emb.shape == (4, 32) and built.text_emb.shape == (13, 32)
    assert np.abs(built.image_emb).sum(axis=1).min() > 0  # every row filled
    assert len({int(p["painting_index"]) for p in built.pairs}) == 4


def test_split_is_by_painting_and_seeded(built):
    by_painting: dict[str, set[str]] = {}
    for p in built.pairs:
        by_painting.setdefault(p["painting"], set()).add(p["split"])
    assert all(len(s) == 1 for s in by_painting.values())
    assert {s for v in by_painting.values() for s in v} == {"train", "val", "test"}
    keys = [f"k{i}" for i in range(100)]
    a = split_paintings(keys, (0.8, 0.1, 0.1), seed=1)
    assert a == split_paintings(keys, (0.8, 0.1, 0.1), seed=1)
    assert sorted(a.values()).count("train") == 80 and list(a.values()).count("test") == 10
    assert a != split_paintings(keys, (0.8, 0.1, 0.1), seed=2)


def test_report_and_manifest(built):
    report = json.loads((built.root / "report" / "report.json").read_text())
    assert report["pairs"] == 13
    assert sum(report["polarity_percent"]["painting"].values()) == pytest.approx(100, abs=0.2)
    assert np.array(report["polarity_pairs"]["counts"]).sum() == 13
    for png in ("keyword_similarity.png", "polarity.png", "polarity_pairs.png"):
        assert (built.root / "report" / png).read_bytes()[:4] == b"\x89PNG"
    assert built.manifest["complete"] and built.manifest["versions"]["torch"]
    for name, digest in built.manifest["checksums"].items():
        assert sha256_file(built.root / name) == digest


def test_own_material_with_bad_audio_is_cleaned_with_reasons(shared_data, tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    clips = shared_data / "music_clips"
    shutil.copy(clips / "Kevin_MacLeod_-_Vibe_Ace.ogg", audio / "vibe_5-15.ogg")  # pre-cut
    shutil.copy(clips / "Karissa_Hobbs_-_Lets_Go_Fishin.ogg", audio / "fishin.ogg")  # full
    (audio / "broken.ogg").write_bytes(b"OggS" + b"\x00" * 300)
    sf.write(audio / "quiet.wav", np.zeros(22050 * 10, np.float32), 22050)
    header = "ytid,start_s,end_s,audioset_positive_labels,aspect_list,caption\n"
    rows = ["vibe,5,15,/m/04rlf,\"['jazz']\",A relaxed jazz tune",
            "fishin,10,20,/m/04rlf,\"['pop']\",A cheerful pop song",
            "broken,0,10,/m/04rlf,\"['noise']\",Broken file",
            "quiet,0,10,/m/04rlf,\"['silence']\",Nothing at all",
            "absent,0,10,/m/04rlf,\"['x']\",No file for this one",
            "odd,0,10,/m/notalabel,\"['x']\",Unknown label"]
    table = tmp_path / "my_music.csv"
    table.write_text(header + "\n".join(rows) + "\n")
    cfg = fixture_config(shared_data, tmp_path / "out")
    cfg.musiccaps, cfg.audio = table, audio
    result = build_articaps(cfg)
    assert result.clips == 2
    assert {k: v for k, v in result.skipped.items() if k.startswith("musiccaps")} == {
        "musiccaps:corrupt audio": 1, "musiccaps:silent audio": 1,
        "musiccaps:missing audio": 1, "musiccaps:unknown label": 1}
    ds = ArtiCaps.open(cfg.out)
    assert {c["ytid"]: c["precut"] for c in ds.clips} == {"vibe": "True", "fishin": "False"}


def test_a_killed_build_resumes_without_redoing_work(shared_data, tmp_path, monkeypatch):
    cfg = fixture_config(shared_data, tmp_path / "ds", batch=1)
    import trainer.data.builder as builder

    calls: list[int] = []
    real = builder.wave_to_mel

    def counting(wave, mel):
        calls.append(1)
        return real(wave, mel)

    monkeypatch.setattr(builder, "wave_to_mel", counting)

    def kill_after_two(stage, done, total):
        if stage == "mels" and done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_articaps(cfg, progress=kill_after_two)
    assert len(calls) == 2 and not (cfg.out / "manifest.json").exists()
    with pytest.raises(FileNotFoundError, match="not an ArtiCaps dataset"):
        ArtiCaps.open(cfg.out)  # a training run can't pick up a half-built folder
    build_articaps(cfg)
    assert len(calls) == 4  # only the two missing clips were decoded again
    reference = fixture_config(shared_data, tmp_path / "ref")
    build_articaps(reference)
    assert (cfg.out / "pairs.csv").read_bytes() == (reference.out / "pairs.csv").read_bytes()
    assert np.array_equal(np.load(cfg.out / "mels.npy"), np.load(reference.out / "mels.npy"))


def test_other_inputs_in_the_same_folder_are_refused(shared_data, tmp_path):
    cfg = fixture_config(shared_data, tmp_path / "ds")
    build_articaps(cfg)
    cfg.seed = 7
    with pytest.raises(BuildConflict, match="seed"):
        build_articaps(cfg)
    assert build_articaps(cfg, restart=True).pairs == 13


def test_no_usable_audio_is_a_clear_error(shared_data, tmp_path):
    cfg = fixture_config(shared_data, tmp_path / "ds")
    cfg.musiccaps = shared_data / "musiccaps" / "musiccaps-public.csv"  # no audio for these
    with pytest.raises(SourceError, match="no usable music clips"):
        build_articaps(cfg)


def test_missing_table_or_columns_are_named(shared_data, tmp_path):
    cfg = fixture_config(shared_data, tmp_path / "ds")
    cfg.artemis = tmp_path / "none.csv"
    with pytest.raises(SourceError, match="ArtEmis table not found"):
        build_articaps(cfg)
    cfg.artemis = shared_data / "music_clips" / "musiccaps_sample.csv"
    with pytest.raises(SourceError, match="missing columns"):
        build_articaps(cfg)


def test_chunked_top_k_equals_brute_force():
    rng = np.random.default_rng(0)
    q = rng.standard_normal((1000, 16)).astype(np.float32)
    k = rng.standard_normal((300, 16)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    k /= np.linalg.norm(k, axis=1, keepdims=True)
    idx, scores = top_k_matches(q, k, k=5, chunk=97)
    brute = np.argsort(-(q @ k.T), axis=1)[:, :5]
    assert np.array_equal(idx, brute)
    assert np.allclose(scores, np.take_along_axis(q @ k.T, brute, axis=1), atol=1e-6)
