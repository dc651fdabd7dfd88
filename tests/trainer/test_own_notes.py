"""Someone teaches Art2Music their own music as notes: their recordings are transcribed,
bad files are named and left out, the note model is fine-tuned (and a stopped run resumes to
the same weights), and a sentence says whether the result plays notes and follows feeling."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from a2m_core.notes.sampler import FLUID_R3_GM, Sampler, SamplerConfig
from a2m_core.notes.score import Note, to_midi_bytes
from trainer.data.own_notes import OwnNotesConfig, build_own_note_corpus
from trainer.data.transcribe import transcribe_recording
from trainer.evaluate.verdict import sentence

from ..conftest import REPO

pytestmark = pytest.mark.skipif(not Path(FLUID_R3_GM.path).is_file(),
                                reason="FluidR3_GM.sf2 missing: apt-get install "
                                       "fluid-soundfont-gm")
SR = 22050
EXAMPLES = REPO / "examples" / "own-music"


def tune(k: int, bars: int = 8) -> list[Note]:
    """A plain folk-like line in C major, a different one for each k."""
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    rng = np.random.default_rng(k)
    notes, t, i = [], 0.0, 4
    while t < bars * 4:
        d = float(rng.choice([0.5, 1.0, 1.0, 2.0]))
        i = int(np.clip(i + rng.integers(-2, 3), 0, 7))
        notes.append(Note(t, d * 0.9, scale[i], 90))
        t += d
    return notes


def test_a_rendered_piano_line_is_transcribed_back_to_its_notes(tmp_path):
    import mir_eval

    notes = tune(1)
    bpm = 100.0
    wave = Sampler(SamplerConfig(reverb_wet=0.0, sample_rate=SR, stereo=False)).render(
        notes, bpm, "piano", 21 * SR)
    sf.write(tmp_path / "take.wav", wave, SR)
    tr = transcribe_recording(tmp_path / "take.wav")
    sec = 60 / bpm
    ref = np.array([[n.onset * sec, (n.onset + n.duration) * sec] for n in notes
                    if n.onset * sec < 20.5])
    ref_p = 440 * 2 ** ((np.array([n.pitch for n in notes][: len(ref)]) - 69) / 12)
    est = np.array([[n.start, n.end] for n in tr.notes])
    est_p = 440 * 2 ** ((np.array([n.pitch for n in tr.notes]) - 69) / 12)
    _, _, f1, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ref, ref_p, est, est_p, offset_ratio=None)
    assert f1 >= 0.8, f"onset F1 {f1:.2f}"
    assert 80 <= tr.tempo <= 125 or 160 <= tr.tempo <= 210  # the beat, or its double


def write_midi(path: Path, notes: list[Note], bpm: float, program: int) -> None:
    path.write_bytes(to_midi_bytes(notes, bpm, program))


def test_a_messy_folder_gives_one_line_per_bad_file_and_a_corpus_from_the_rest(tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    shutil.copy(EXAMPLES / "oneills-oneills-0070.ogg", music)  # a fiddle tune
    write_midi(music / "reel.mid", tune(2, 16), 120, 0)  # a piano MIDI file
    with open(os.fsencode(music) + b"/caf\xe9.mid", "wb") as f:  # a name that is not UTF-8
        f.write(to_midi_bytes(tune(3, 16), 96, 40))
    (music / "notes.ogg").write_text("not a recording\n")
    (music / "empty.wav").write_bytes(b"")
    sf.write(music / "sting.wav", 0.2 * np.sin(np.arange(SR) / SR * 2 * np.pi * 440), SR)
    with sf.SoundFile(music / "silence.flac", "w", 8000, 1, format="FLAC") as f:
        for _ in range(10):
            f.write(np.zeros(8000 * 60, np.float32))
    out = tmp_path / "corpus"
    summary = build_own_note_corpus(OwnNotesConfig(music, out, licence="mine"))

    assert summary["skipped"] == {
        "notes.ogg": summary["skipped"]["notes.ogg"], "empty.wav":
        "the file is empty (0 bytes)", "sting.wav": "only 1.0 s long; recordings need at "
        "least 4 s", "silence.flac": "silent: nothing above -60 dBFS in its first 180 s"}
    assert summary["skipped"]["notes.ogg"].startswith("not a readable recording")
    rows = {r["file"]: r for r in summary["rows"]}
    assert set(rows) == {"oneills-oneills-0070.ogg", "reel.mid", "caf\ufffd.mid"}
    assert rows["reel.mid"]["instrument"] == "piano" and rows["reel.mid"]["tempo"] == 120
    assert rows["caf\ufffd.mid"]["instrument"] == "violin"  # its program, 40
    assert rows["oneills-oneills-0070.ogg"]["instrument"] in ("violin", "strings")
    windows = [json.loads(line) for line in (out / "windows.jsonl").open()]
    assert len(windows) == summary["windows"] >= 3 * 6
    assert {w["instrument"] for w in windows if w["file"] == "reel.mid"} == {"piano"}
    tempi = [w["tempo"] for w in windows if w["file"] == "reel.mid"]
    assert 80 <= min(tempi) < 120 < max(tempi) <= 180  # around its own tempo, both ways
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "| reel.mid |" in report and "`empty.wav`: the file is empty" in report
    assert (out / "rolls" / "reel.png").stat().st_size > 5000


def test_a_long_silent_recording_costs_a_chunk_of_memory_and_one_line(tmp_path):
    import tracemalloc

    from a2m_core.errors import BadInputError

    path = tmp_path / "hour.flac"
    with sf.SoundFile(path, "w", 8000, 1, format="FLAC") as f:
        for _ in range(60):  # an hour of digital silence, written a minute at a time
            f.write(np.zeros(8000 * 60, np.float32))
    tracemalloc.start()
    with pytest.raises(BadInputError, match="^silent: nothing above -60 dBFS in its first "
                                            "180 s$"):
        transcribe_recording(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 40e6, f"peak {peak / 1e6:.0f} MB"  # whole, at 22,050 Hz: 318 MB


def tiny_notes_bundle(path: Path) -> Path:
    """An untrained notes bundle with tiny networks and a tiny CLIP inside."""
    from trainer.train.notes import NotesTrainConfig, build_networks

    from .test_notes_training import ENCODER, TINY, save_tiny_notes_bundle

    projector, head, model, _ = build_networks(ENCODER, NotesTrainConfig(**TINY))
    return save_tiny_notes_bundle(path, projector, head, model)


@pytest.fixture(scope="module")
def midi_corpus(tmp_path_factory) -> Path:
    music = tmp_path_factory.mktemp("midi")
    for k in range(4):
        write_midi(music / f"tune{k}.mid", tune(10 + k, 16), 90 + 20 * k, 0)
    out = music / "corpus"
    build_own_note_corpus(OwnNotesConfig(music, out, windows_per_recording=4))
    return out


def test_fine_tuning_stopped_midway_resumes_to_the_same_model(midi_corpus, tmp_path):
    from a2m_core.bundle import load_bundle
    from trainer.data.paintings import Crop
    from trainer.finetune_notes import FinetuneConfig, finetune_notes

    base = tiny_notes_bundle(tmp_path / "tiny-notes.safetensors")
    crops = [Crop(p, p.stem, "whole") for p in sorted((REPO / "examples").glob("*.jpg"))]
    cfg = FinetuneConfig(base=str(base), plan_epochs=3, note_steps=6, batch_size=4)
    straight = finetune_notes(midi_corpus, crops, tmp_path / "a.safetensors", tmp_path / "a",
                              cfg)
    seen = []  # the note stage's events: a step, then the end of epoch 1 (saved)
    with pytest.raises(InterruptedError):
        finetune_notes(midi_corpus, crops, tmp_path / "b.safetensors", tmp_path / "b", cfg,
                       callback=lambda e: seen.append(e) if e["stage"] == "notes" else None,
                       stop=lambda: len(seen) >= 2)
    assert seen[-1]["done"] == seen[-1]["total"] // 2 and not (tmp_path / "b.safetensors"
                                                               ).exists()
    etas = []
    resumed = finetune_notes(midi_corpus, crops, tmp_path / "b.safetensors", tmp_path / "b",
                             cfg, callback=lambda e: etas.append(e.get("eta_s")))
    assert resumed["note_loss"] == straight["note_loss"]
    a, b = load_bundle(tmp_path / "a.safetensors"), load_bundle(tmp_path / "b.safetensors")
    assert a.tensors.keys() == b.tensors.keys()
    assert all(torch.equal(a.tensors[k], b.tensors[k]) for k in a.tensors)
    assert a.config.provenance["base"] == "tiny-notes" and not a.config.starter
    assert etas[-1] == 0.0 and all(e is None or e >= 0 for e in etas)


def test_the_verdict_names_a_drone_and_praises_a_good_model():
    drone = {"kind": "mel", "voiced": 0.21, "band_std": 1.6, "pairs": 12}
    assert sentence(drone) == (
        "Does not play clear notes yet: voiced 0.21 (clear notes: 0.8 or more); it plays a "
        "drone (band std 1.6 dB; music moves 5-15). Mel models need a GPU and hours; "
        "fine-tune a notes model instead.")
    good = {"kind": "notes", "voiced": 0.93, "band_std": 9.0, "pairs": 12, "faster": 11,
            "denser": 12, "style": {"pitch_classes": 0.1, "intervals": 0.2},
            "starter_style": {"pitch_classes": 0.3, "intervals": 0.3}}
    assert sentence(good) == (
        "Plays clear notes (voiced 0.93); lively comments play faster in 11 of 12 pairs and "
        "with more notes in 12 of 12; its notes are closer to your music than the starter's "
        "(distance 0.15 against 0.30).")
    loose = {**good, "faster": 6}
    assert "follows feeling only loosely" in sentence(loose)
    same = {**good, "style": {"pitch_classes": 0.29, "intervals": 0.3}}
    assert "about as close to your music as the starter's" in sentence(same)
    worse = {**good, "style": {"pitch_classes": 0.5, "intervals": 0.5}}
    assert "further from your music than the starter's: train longer" in sentence(worse)


def test_a2m_train_own_music_prints_each_recording_and_the_model(midi_corpus, tmp_path,
                                                                   capsys):
    from trainer.cli import main

    base = tiny_notes_bundle(tmp_path / "tiny-notes.safetensors")
    music = midi_corpus.parent  # the tune*.mid files
    work = tmp_path / "my-tunes"
    assert main(["own-music", "--music", str(music), "--paintings", str(REPO / "examples"),
                 "--work", str(work), "--base", str(base), "--steps", "4",
                 "--no-verdict"]) == 0
    out = capsys.readouterr().out
    assert "  tune0.mid: 8 windows, " in out and "90 bpm, sounds like piano" in out
    assert f"model {work / 'my-tunes.safetensors'} (fine-tuned in " in out
    assert (work / "my-tunes.safetensors").is_file() and "verdict" not in out


def test_midi_files_at_any_stated_tempo_never_stop_the_run(tmp_path):
    """A folder holds a good MIDI file and files stating 300, 100,000 and 3.58 bpm: the
    unmusical ones get a line each, the 300 bpm one plays inside the plan's range."""
    music = tmp_path / "music"
    music.mkdir()
    write_midi(music / "good.mid", tune(2, 16), 120, 0)
    write_midi(music / "fast.mid", tune(3, 16), 300, 0)
    write_midi(music / "absurd.mid", tune(4, 16), 100_000, 0)
    write_midi(music / "crawl.mid", tune(5, 16), 3.58, 0)
    summary = build_own_note_corpus(OwnNotesConfig(music, tmp_path / "corpus", licence="mine"))
    assert set(summary["skipped"]) == {"absurd.mid", "crawl.mid"}
    assert "not a musical tempo" in summary["skipped"]["absurd.mid"]
    assert "3.58 bpm" in summary["skipped"]["crawl.mid"]
    windows = [json.loads(line) for line in (tmp_path / "corpus" / "windows.jsonl").open()]
    fast = [w["tempo"] for w in windows if w["file"] == "fast.mid"]
    assert fast and all(40 <= t <= 200 for t in fast)
    assert {w["file"] for w in windows} == {"good.mid", "fast.mid"}
