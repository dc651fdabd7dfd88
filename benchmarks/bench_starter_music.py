"""Does the default (notes) bundle play music that follows the painting and the comment?

Every figure on inputs the starter never saw:

1. **Notes**: the 13 fixture painting/comment pairs of ``shared/data`` -> the notes
   yardstick (basic-pitch transcription: voiced, key, flatness, harmonic share, notes/s)
   and the motion yardstick (band std, flux, drift).
2. **Feeling**: ``fixtures/feeling_pairs.json`` (24 calm/lively pairs on 8 paintings,
   written before any result was seen): does the lively comment get a faster tempo, more
   notes per second and more onsets? Unseeded and over three seeds; the printed plans
   beside the measured figures.
3. **Each input matters**: changing only the painting, or only the comment, changes the
   plan or the notes (mel change >= 1 dB).
4. **New music**: each clip's longest run of (interval, duration) melody events shared
   with any training window, against the same for held-out tunes.
5. **Speed**: plan + notes + sampler per warm clip, and the first streamed sound.

    python benchmarks/bench_starter_music.py [--bundle B] [--corpus build/starter/corpus]
        [--shared ../shared/data] [--out out/bench-notes] [--json figures.json]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("A2M_EMBED_CACHE", "0")


from a2m_core.engine import Art2Music
from a2m_core.notes import score
from trainer.evaluate.musicality import mean_figures, mel_db_change, musicality
from trainer.evaluate.notes_figures import notes_figures

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"voiced": (">=", 0.8), "key": (">=", 0.75), "flat": ("<=", 0.01),
           "harm": (">=", 0.85), "notes_per_s": ("1.5-12", None),
           "band_std": (">=", 5.0), "drift": (">=", 2.5), "flux": ("0.6-1.2", None)}


def gcompris_images(names: set[str], folder: Path) -> dict[str, Path]:
    from trainer.data.paintings import extract_gcompris

    crops = extract_gcompris(folder)
    return {c.painting: c.path for c in crops if c.kind == "whole" and c.painting in names}


def feeling_fixture(shared: Path, paintings: Path) -> tuple[list[dict], dict[str, Path]]:
    """The written calm/lively pairs, and each pair's painting file (WikiArt ones from
    ``shared``, Debian's held-out Van Goghs extracted into ``paintings``)."""
    fixture = json.loads((ROOT / "benchmarks" / "fixtures" / "feeling_pairs.json").read_text())
    pairs = fixture["pairs"]
    gc = {p["painting"].split(":", 1)[1] for p in pairs if p["painting"].startswith("gcompris:")}
    gimg = gcompris_images(gc, paintings)
    images = {}
    for p in pairs:
        src, name = p["painting"].split(":", 1)
        images[p["painting"]] = (shared / "wikiart" / f"{name}.jpg" if src == "wikiart"
                                 else gimg[name])
    return pairs, images


def distinct_onsets_per_s(notes: list[score.Note], seconds: float) -> float:
    return len({round(n.onset * 4) for n in notes}) / seconds if notes else 0.0


def feeling(engine: Art2Music, pairs: list[dict], images: dict[str, Path], seed: int | None,
            out: Path) -> dict:
    rows = []
    for k, p in enumerate(pairs):
        got = {}
        for kind in ("lively", "calm"):
            clip = engine.generate(images[p["painting"]], p[kind], seed=seed)
            m = musicality(clip.audio, clip.sample_rate)
            got[kind] = {"plan": clip.plan.describe(), "tempo": clip.plan.tempo_bpm,
                         "plan_notes_per_s": clip.plan.notes_per_s,
                         "notes_per_s": distinct_onsets_per_s(clip.notes, clip.duration_s),
                         "onsets": m["onsets"]}
            if seed is None and k < 4:
                clip.save(out / f"pair{k}-{kind}.wav")
        lv, cm = got["lively"], got["calm"]
        rows.append({**p, "lively_fig": lv, "calm_fig": cm,
                     "faster": lv["tempo"] > cm["tempo"],
                     "more_notes": lv["notes_per_s"] > cm["notes_per_s"],
                     "more_onsets": lv["onsets"] > cm["onsets"],
                     "plan_agrees": (lv["plan_notes_per_s"] > cm["plan_notes_per_s"])
                     == (lv["notes_per_s"] > cm["notes_per_s"])})
    n = len(rows)
    share = {k: sum(r[k] for r in rows) / n for k in ("faster", "more_notes", "more_onsets",
                                                      "plan_agrees")}
    share["all_three"] = sum(r["faster"] and r["more_notes"] and r["more_onsets"]
                             for r in rows) / n
    return {"seed": seed, "share": share, "rows": rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", help="bundle (default: the default bundle)")
    ap.add_argument("--corpus", default=str(ROOT / "build" / "starter" / "corpus"),
                    help="the starter's note corpus (windows.jsonl), for the replay figure")
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(ROOT / "out" / "bench-notes"))
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    shared, out = Path(args.shared), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    engine = Art2Music.load(args.bundle, device="cpu")
    if not engine.is_notes:
        raise SystemExit(f"{engine.name} is a mel bundle: use benchmarks/bench_mel_music.py")
    print(f"bundle {engine.name} on {platform.machine()}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d')}")

    # 1. notes on the 13 unseen fixture pairs --------------------------------------------
    with open(shared / "artemis" / "artemis_sample.csv", newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f)
                if (shared / "wikiart" / r["art_style"] / f"{r['painting']}.jpg").is_file()]
    figs = []
    for k, r in enumerate(rows):
        image = shared / "wikiart" / r["art_style"] / f"{r['painting']}.jpg"
        clip = engine.generate(image, r["utterance"])
        clip.save(out / f"clip{k:02d}.wav")
        clip.save_midi(out / f"clip{k:02d}.mid")
        f = {**notes_figures(clip.audio, clip.sample_rate),
             **musicality(clip.audio, clip.sample_rate)}
        figs.append(f)
        print(f"clip{k:02d} {clip.plan.describe():72s} voiced {f['voiced']:.2f} key "
              f"{f['key']:.2f} flat {f['flat']:.3f} harm {f['harm']:.2f} notes/s "
              f"{f['notes_per_s']:.1f} band_std {f['band_std']:.1f} flux {f['flux']:.2f}",
              flush=True)
    means = mean_figures(figs)
    print("notes, 13 unseen pairs: " + ", ".join(f"{k} {means[k]:.3f}" for k in TARGETS))

    # 2. feeling on the written pairs ----------------------------------------------------
    pairs, images = feeling_fixture(shared, out / "paintings")
    runs = []
    for seed in [None, *[int(s) for s in args.seeds.split(",") if s]]:
        runs.append(feeling(engine, pairs, images, seed, out))
        s = runs[-1]["share"]
        print(f"feeling, seed {seed}: faster {s['faster']:.0%}, more notes/s "
              f"{s['more_notes']:.0%}, more onsets {s['more_onsets']:.0%}, all three "
              f"{s['all_three']:.0%}; plan agrees with notes {s['plan_agrees']:.0%}",
              flush=True)
    for r in runs[0]["rows"][:6]:
        print(f"  {r['painting'].split('/')[-1][:28]:28s} lively {r['lively_fig']['plan']}"
              f"\n  {'':28s} calm   {r['calm_fig']['plan']}")

    # 3. each input matters ----------------------------------------------------------------
    cfg = engine.mel_config
    paintings = sorted({images[p["painting"]] for p in pairs})
    comments = [p[k] for p in pairs[::3] for k in ("lively", "calm")]
    grid = {}
    for img in paintings:
        for c in comments:
            clip = engine.generate(img, c)
            grid[(img, c)] = (clip.plan, clip.mel)

    def differs(a, b) -> bool:
        return a[0] != b[0] or mel_db_change(a[1], b[1], cfg) >= 1.0

    by_painting = [differs(grid[(a, c)], grid[(b, c)]) for c in comments
                   for i, a in enumerate(paintings) for b in paintings[i + 1:]]
    by_comment = [differs(grid[(p, a)], grid[(p, b)]) for p in paintings
                  for i, a in enumerate(comments) for b in comments[i + 1:]]
    matter = {"painting": sum(by_painting) / len(by_painting),
              "comment": sum(by_comment) / len(by_comment)}
    print(f"changing only the painting changes the clip in {matter['painting']:.0%} of "
          f"{len(by_painting)} cases, only the comment in {matter['comment']:.0%} of "
          f"{len(by_comment)}")

    # 4. new music, not replays -------------------------------------------------------------
    replay = None
    corpus = Path(args.corpus) / "windows.jsonl"
    if corpus.is_file():
        from trainer.data.note_corpus import read_windows

        wins = read_windows(corpus.parent)
        train = [score.melody_events(score.decode(w["tokens"])) for w in wins
                 if w["split"] == "train"]
        held = [score.melody_events(score.decode(w["tokens"])) for w in wins
                if w["split"] == "test"]
        index = score.run_index(train)
        gen_runs = []
        for (img, c), _ in list(grid.items())[:64]:
            clip = engine.generate(img, c)
            gen_runs.append(score.longest_shared_run(score.melody_events(clip.notes), index))
        held_runs = [score.longest_shared_run(h, index) for h in held]
        replay = {"generated": statistics.mean(gen_runs), "held_out": statistics.mean(held_runs)}
        replay["ratio"] = replay["generated"] / max(replay["held_out"], 1e-9)
        print(f"longest shared melody run: generated {replay['generated']:.2f} events, "
              f"held-out tunes {replay['held_out']:.2f}, ratio {replay['ratio']:.2f} "
              f"(target <= 1.5)")
    else:
        print(f"replay figure skipped: no corpus at {corpus}")

    # 5. speed: a lively comment (the longest note sequences), the engine warm ------------
    image, comment = paintings[0], comments[0]
    engine.generate(image, comment, seed=99)
    clip_s, first, first_cached, inner = [], [], [], []
    for seed in range(5):
        engine.encoder.clear_cache()  # cold: the painting and comment are encoded
        t = time.perf_counter()
        clip = engine.generate(image, comment, seed=seed)
        clip_s.append(time.perf_counter() - t)
        inner.append(clip.timings["plan"] + clip.timings["notes"] + clip.timings["sampler"])
        for cached, out_list in ((False, first), (True, first_cached)):
            if not cached:
                engine.encoder.clear_cache()
            t = time.perf_counter()
            stream = engine.generate_stream(image, comment, seed=seed)
            next(stream)
            out_list.append(time.perf_counter() - t)
            stream.close()
    speed = {"clip_s": statistics.median(clip_s), "first_sound_s": statistics.median(first),
             "first_sound_cached_s": statistics.median(first_cached),
             "plan_notes_sampler_s": statistics.median(inner),
             "plan_notes_sampler_max_s": max(inner)}
    print(f"warm engine, medians of 5: clip {speed['clip_s']:.3f} s (plan + notes + sampler "
          f"{speed['plan_notes_sampler_s']:.3f} s, max {speed['plan_notes_sampler_max_s']:.3f}"
          f"), first streamed sound {speed['first_sound_s']:.3f} s with the encoders, "
          f"{speed['first_sound_cached_s']:.3f} s with cached embeddings")

    result = {"bundle": engine.name, "date": time.strftime("%Y-%m-%d"),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "notes_means": means, "notes": figs,
              "feeling": [{"seed": r["seed"], "share": r["share"]} for r in runs],
              "feeling_rows": runs[0]["rows"], "input_matters": matter, "replay": replay,
              "speed": speed}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
