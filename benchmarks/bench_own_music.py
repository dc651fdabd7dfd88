"""Your own music, learned on a laptop: every done-when figure of the own-music notes path.

For each music set (``examples/own-music``; the eight first tracks of Debian's
``singularity-music`` and of ``wesnoth-1.16-music``, two games' soundtracks in other styles,
each measured when its package is installed), with the repository's four example paintings:

1. **Build** (``a2m-train own-music``'s path, without its verdict): transcription time,
   fine-tuning time, and the ETA the run printed when the note stage began and after 10 %
   of it, against the time it then really took.
2. **Style**: the pitch-class and interval histograms of the notes the model plays on the
   benchmark's 56 inputs (the 8 unseen pairs and the 48 comments of the feeling pairs), as
   total-variation distances to the set's own windows; the same for the starter. Smaller is
   closer.
3. **Notes**: basic-pitch's voiced share on 8 unseen painting/comment pairs
   (``shared/data``: ArtEmis comments on WikiArt paintings, none used in training).
4. **Feeling**: ``fixtures/feeling_pairs.json`` (24 calm/lively pairs written before any
   result): the share in which the lively comment plays faster and with more notes/s.
5. **Memory**: peak memory of a fresh process transcribing a 3-hour silent file, against
   a 3-minute one.

    .venv/bin/python benchmarks/bench_own_music.py [--shared ../shared/data]
        [--out out/bench-own] [--json figures.json]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_starter_music import feeling, feeling_fixture  # noqa: E402

from a2m_core import Art2Music  # noqa: E402
from a2m_core.defaults import STARTER  # noqa: E402
from trainer.evaluate.notes_figures import notes_figures  # noqa: E402
from trainer.evaluate.verdict import corpus_histograms, style_distance  # noqa: E402
from trainer.own_music import EXAMPLE_MUSIC, EXAMPLES, OwnNotesModelConfig  # noqa: E402

# Second styles: the first 8 tracks (by name) of a Debian game's soundtrack, each a folder
# a person might point the trainer at. singularity-music (CC BY-SA 3.0): ambient pads and
# percussion; wesnoth-1.16-music (GPL-2+): orchestral themes.
GAME_MUSIC = {"singularity": Path("/usr/share/games/singularity/music"),
              "wesnoth": Path("/usr/share/games/wesnoth/1.16/data/core/music")}


def build(music: Path, work: Path) -> dict:
    """Build a model (fresh), recording the ETAs it printed against the truth."""
    from trainer.own_music import build_own_notes_model

    shutil.rmtree(work, ignore_errors=True)
    marks: dict[str, float] = {}
    etas: list[tuple[float, int, int, float]] = []
    t0 = time.perf_counter()

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "transcribe" and done == total:
            marks.setdefault("transcribed", time.perf_counter() - t0)

    def event(e: dict) -> None:
        if e["stage"] == "notes" and e.get("eta_s") is not None:
            etas.append((time.perf_counter(), e["done"], e["total"], e["eta_s"]))
        if e["stage"] == "done":
            marks["finetuned"] = time.perf_counter() - t0

    result = build_own_notes_model(OwnNotesModelConfig(music, EXAMPLES, work, verdict=False),
                                   progress=progress, callback=event)
    end = etas[-1][0]
    first = etas[0]
    tenth = next(e for e in etas if e[1] >= 0.1 * e[2])
    return {"bundle": result["bundle"], "windows": result["corpus"]["windows"],
            "recordings": result["corpus"]["recordings"],
            "skipped": result["corpus"]["skipped"],
            "transcribe_s": marks["transcribed"], "total_s": marks["finetuned"],
            "finetune_s": result["seconds"],
            "eta_at_start": {"eta": first[3], "true": end - first[0]},
            "eta_at_10pct": {"eta": tenth[3], "true": end - tenth[0]},
            "note_val_loss": result.get("note_val_loss")}


def unseen_pairs(shared: Path, n: int) -> list[tuple[Path, str]]:
    with open(shared / "artemis" / "artemis_sample.csv", newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f)
                if (shared / "wikiart" / r["art_style"] / f"{r['painting']}.jpg").is_file()]
    return [(shared / "wikiart" / r["art_style"] / f"{r['painting']}.jpg", r["utterance"])
            for r in rows[:n]]


def silent_memory(folder: Path) -> dict:
    """Peak memory (VmHWM) of a fresh process that transcribes a silent FLAC (8 kHz, written a
    minute at a time) of 3 minutes, then one of 3 hours: bounded means the two are alike."""
    import soundfile as sf

    code = ("import sys, time\nfrom pathlib import Path\n"
            "from a2m_core.errors import BadInputError\n"
            "from trainer.data.transcribe import transcribe_recording\n"
            "t = time.perf_counter()\n"
            "try:\n    transcribe_recording(Path(sys.argv[1]))\n"
            "except BadInputError as e:\n    print('LINE', e)\n"
            "print('SECONDS', time.perf_counter() - t)\n"
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
            "print('HWM_KB', hwm.split()[1])\n")
    out = {}
    for name, minutes in (("3min", 3), ("3h", 180)):
        path = folder / f"silent-{name}.flac"
        if not path.is_file():
            with sf.SoundFile(path, "w", 8000, 1, format="FLAC") as f:
                for _ in range(minutes):
                    f.write(np.zeros(8000 * 60, np.float32))
        text = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                              text=True, cwd=ROOT, check=True).stdout
        got = dict(line.split(" ", 1) for line in text.splitlines() if " " in line)
        out[name] = {"line": got.get("LINE", ""), "seconds": float(got["SECONDS"]),
                     "peak_mb": int(got["HWM_KB"]) / 1024}
    return out


def recordings_voiced(corpus: Path) -> float:
    """The person's own music's voiced share: the frames in which basic-pitch heard a note
    (the same measure ``notes_figures`` takes of a clip), over the transcribed recordings."""
    shares = []
    for f in sorted((corpus / "transcriptions").glob("*.json")):
        d = json.loads(f.read_text())
        frames = np.zeros(int(d["seconds"] * 20) + 1, bool)
        for start, end, *_ in d["notes"]:
            frames[int(start * 20):int(end * 20) + 1] = True
        shares.append(frames.mean())
    return float(np.mean(shares))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(ROOT / "out" / "bench-own"))
    ap.add_argument("--sets", default="examples,singularity,wesnoth")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    shared, out = Path(args.shared), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"{platform.machine()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
    sets = {"examples": EXAMPLE_MUSIC}
    for name, source in GAME_MUSIC.items():
        if source.is_dir():
            folder = out / f"{name}-music"
            folder.mkdir(exist_ok=True)
            for track in sorted(source.glob("*.ogg"))[:8]:
                if not (folder / track.name).exists():
                    os.symlink(track, folder / track.name)
            sets[name] = folder
    pairs, images = feeling_fixture(shared, out / "paintings")
    unseen = unseen_pairs(shared, 8)
    starter = Art2Music.load(STARTER, device="cpu")
    # style is judged on 56 clips: the 8 unseen pairs and both comments of the 24 feeling
    # pairs (8 clips alone could not tell apart histograms 0.01 apart)
    style_inputs = unseen + [(images[p["painting"]], p[kind]) for p in pairs
                             for kind in ("calm", "lively")]
    starter_clips = [starter.generate(img, text) for img, text in style_inputs]
    figures: dict = {"date": time.strftime("%Y-%m-%d"), "machine": platform.machine(),
                     "cores": os.cpu_count(), "sets": {}}
    for name in args.sets.split(","):
        if name not in sets:
            print(f"{name}: not installed here, skipped")
            continue
        print(f"\n== {name}: {sets[name]}", flush=True)
        fig = build(sets[name], out / name / f"{name}-model")
        engine = Art2Music.load(fig["bundle"], device="cpu")
        clips = [engine.generate(img, text) for img, text in style_inputs]
        fig["voiced"] = float(np.mean([notes_figures(c.audio, c.sample_rate)["voiced"]
                                       for c in clips[:len(unseen)]]))
        fig["recordings_voiced"] = recordings_voiced(Path(fig["bundle"]).parent /
                                                     "notes-corpus")
        target = corpus_histograms(Path(fig["bundle"]).parent / "notes-corpus")
        fig["style"] = style_distance(clips, target)
        fig["starter_style"] = style_distance(starter_clips, target)
        feel = feeling(engine, pairs, images, None, out / name)
        fig["feeling"] = feel["share"]
        figures["sets"][name] = fig
        e0, e1 = fig["eta_at_start"], fig["eta_at_10pct"]
        print(f"{fig['recordings']} recordings -> {fig['windows']} windows; transcribed in "
              f"{fig['transcribe_s']:.0f} s, fine-tuned in {fig['finetune_s']:.0f} s "
              f"(whole build {fig['total_s']:.0f} s)")
        print(f"ETA at the note stage's start {e0['eta']:.0f} s, true {e0['true']:.0f} s "
              f"({100 * (e0['eta'] / e0['true'] - 1):+.0f} %); at 10 %: {e1['eta']:.0f} s, "
              f"true {e1['true']:.0f} s ({100 * (e1['eta'] / e1['true'] - 1):+.0f} %)")
        s, b = fig["style"], fig["starter_style"]
        print(f"distance to the set's notes, {len(style_inputs)} clips (pitch classes / "
              f"intervals): model "
              f"{s['pitch_classes']:.3f} / {s['intervals']:.3f}, starter "
              f"{b['pitch_classes']:.3f} / {b['intervals']:.3f}")
        print(f"voiced on 8 unseen pairs: {fig['voiced']:.3f} (the recordings themselves: "
              f"{fig['recordings_voiced']:.3f})")
        f = fig["feeling"]
        print(f"feeling, 24 pairs: faster {100 * f['faster']:.0f} %, more notes/s "
              f"{100 * f['more_notes']:.0f} %, both with more onsets "
              f"{100 * f['all_three']:.0f} %", flush=True)
    mem = silent_memory(out)
    figures["silent"] = mem
    for name, m in mem.items():
        print(f"{name} silent file: '{m['line']}' in {m['seconds']:.1f} s, peak memory of "
              f"the process {m['peak_mb']:.0f} MB")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
