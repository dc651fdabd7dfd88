"""Someone trains on their own music: recordings and paintings in, a paired dataset out."""
from __future__ import annotations

import csv
import json

from trainer.cli import main
from trainer.own_music import EXAMPLE_MUSIC


def test_own_music_from_the_example_data(tmp_path, capsys):
    work = tmp_path / "mine"
    assert main(["own-music", "--work", str(work), "--licence", "CC0 test renderings"]) == 0
    out = capsys.readouterr().out
    assert "a2m-train stage1 --dataset" in out and "--frames-per-step 8" in out
    counts = json.loads((work / "dataset" / "manifest.json").read_text())["counts"]
    assert counts["paintings"] == 4 and counts["windows"] == 12
    assert all(counts["splits"][s] > 0 for s in ("train", "val", "test"))
    with open(work / "corpus" / "musiccaps.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len({r["piece"] for r in rows}) == len(list(EXAMPLE_MUSIC.glob("*.ogg"))) == 6
    assert all("a piece from your own collection" in r["caption"] for r in rows)
    assert all(r["caption"].count("bpm") == 1 for r in rows)  # measured, not invented
    with open(work / "corpus" / "licences.csv", newline="") as f:
        assert {r["licence"] for r in csv.DictReader(f)} == {"CC0 test renderings"}


def test_too_few_files_are_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "music").mkdir()
    for i in range(2):
        (tmp_path / "music" / f"{i}.wav").write_bytes(b"RIFF")
    assert main(["own-music", "--music", str(tmp_path / "music"), "--paintings",
                 str(tmp_path / "music"), "--work", str(tmp_path / "w")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"a2m-train: error: {tmp_path / 'music'} holds 2 recording(s); at least "
                   "3 are needed (one each to train, validate and test), in .aif, .aiff, "
                   ".flac, .mp3, .oga, .ogg, .wav")
