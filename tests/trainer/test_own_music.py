"""Someone trains on their own music: recordings and paintings in, a paired dataset out."""
from __future__ import annotations

import csv
import json

from trainer.cli import main
from trainer.own_music import EXAMPLE_MUSIC


def test_own_music_from_the_example_data(tmp_path, capsys):
    work = tmp_path / "mine"
    assert main(["own-music", "--model", "paper", "--work", str(work), "--licence",
                 "CC0 test renderings"]) == 0
    out = capsys.readouterr().out
    assert "a2m-train stage1 --dataset" in out and "--preset paper" in out
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
    assert main(["own-music", "--model", "paper", "--music", str(tmp_path / "music"),
                 "--paintings", str(tmp_path / "music"), "--work", str(tmp_path / "w")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"a2m-train: error: {tmp_path / 'music'} holds 2 recording(s); at least "
                   "3 are needed (one each to train, validate and test), in .aif, .aiff, "
                   ".flac, .mp3, .oga, .ogg, .wav")


def test_bad_recordings_are_each_named_once_and_the_rest_make_the_dataset(tmp_path, capsys):
    """A real music folder is messy: a text file named .ogg, an empty WAV, a file whose name
    is not UTF-8, a 1 s sting, a 6 s sketch. Each gets its line; the good ones go on."""
    import os
    import shutil

    import numpy as np
    import soundfile as sf

    music = tmp_path / "music"
    shutil.copytree(EXAMPLE_MUSIC, music)
    (music / "notes.ogg").write_text("not a recording\n")
    (music / "empty.wav").write_bytes(b"")
    good = sorted(EXAMPLE_MUSIC.glob("*.ogg"))[0]
    odd = os.fsencode(music) + b"/caf\xe9-take.ogg"  # Latin-1 bytes: not UTF-8
    with open(odd, "wb") as f:
        f.write(good.read_bytes())
    sr = 22050
    tone = 0.2 * np.sin(2 * np.pi * 440 * np.arange(6 * sr) / sr)
    sf.write(music / "sting.wav", tone[:sr], sr)
    sf.write(music / "sketch.wav", tone, sr)
    work = tmp_path / "w"
    assert main(["own-music", "--model", "paper", "--music", str(music), "--work", str(work)]) == 0
    out = capsys.readouterr().out
    notes = {line.split(": ", 1)[0].strip(): line.split(": ", 1)[1]
             for line in out.splitlines() if line.startswith("  ") and ": " in line}
    assert "left out: not a readable recording" in notes["notes.ogg"]
    assert notes["empty.wav"] == "left out: the file is empty (0 bytes)"
    assert "left out: only 1.0 s long" in notes["sting.wav"]
    assert notes["sketch.wav"].startswith("6.0 s long: looped")
    assert "caf\ufffd-take.ogg" not in notes  # a good file with an odd name is just used
    with open(work / "corpus" / "musiccaps.csv", newline="") as f:
        pieces = {r["piece"] for r in csv.DictReader(f)}
    assert len(pieces) == 6 + 2  # the examples, the odd name and the sketch
    report = (work / "dataset" / "report.md").read_text(encoding="utf-8")
    assert "## Recordings left out or changed" in report and "`sting.wav`" in report


def test_a_long_silent_recording_is_read_a_window_at_a_time_and_left_out(tmp_path):
    import tracemalloc

    import numpy as np
    import soundfile as sf

    from trainer.data.corpus import CorpusConfig
    from trainer.data.recordings import _cut_package, recording_notes

    folder = tmp_path / "music"
    folder.mkdir()
    with sf.SoundFile(folder / "hour.flac", "w", 8000, 1, format="FLAC") as f:
        for _ in range(60):  # an hour of digital silence, written a minute at a time
            f.write(np.zeros(8000 * 60, np.float32))
    cfg = CorpusConfig(out=tmp_path / "corpus", sources=("mine",), debian={"mine": {
        "folder": str(folder), "licence": "mine", "attribution": "me", "tail_s": 0}})
    (cfg.out / "items").mkdir(parents=True)
    (cfg.out / "audio").mkdir()
    tracemalloc.start()
    _cut_package("mine", cfg, lambda *a: None)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert recording_notes(cfg.out) == {"hour.flac": "left out: silent: none of its windows "
                                                     "holds sound"}
    assert peak < 40e6, f"peak {peak / 1e6:.0f} MB"  # whole, at 22,050 Hz: 318 MB


def test_other_packages_warnings_stay_off_the_screen_unless_verbose():
    """`a2m-train own-music` printed librosa's and pkg_resources' deprecation notes between
    its own lines; now a person sees the project's words only (-v shows everything)."""
    import warnings

    from trainer.cli import quiet_libraries

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_libraries()
        warnings.warn_explicit("pkg_resources is deprecated", UserWarning, "resampy.py", 1,
                               module="resampy.filters")
        warnings.warn_explicit("old API", FutureWarning, "librosa.py", 1, module="librosa")
        warnings.warn_explicit("your recording is short", UserWarning, "own.py", 1,
                               module="trainer.data.own_notes")
    assert [str(w.message) for w in caught] == ["your recording is short"]
