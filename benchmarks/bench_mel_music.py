"""Does a mel bundle (the paper's kind) make music? Figures on paintings and comments it
never saw. (The notes starter has its own: bench_starter_music.py.)

Inputs: the fixture paintings and ArtEmis-format comments in ``shared/data`` (kept out of
the starter's training data), plus four pairs of contrasting comments written for this
benchmark. Prints, and writes as JSON with ``--json``:

- musicality (band_std, flux, drift, onsets; the yardstick's definitions) of every clip,
  and the means, against the targets (>= 5 dB, >= 0.6, >= 2.5 dB);
- "copy": mean L1 of generated mels to their nearest training window, against the same
  figure for held-out real windows (generations must reach at least half of it);
- how far the mel moves (dB) when only the painting changes, and when only the comment does;
- feeling: for 4 pairs of comments on one painting, whether the energetic one has more flux;
- seconds per clip with each vocoder, on this machine (generation after a warm-up).

    python benchmarks/bench_mel_music.py [--bundle B] [--dataset build/starter/dataset]
        [--shared ../shared/data] [--out out/bench-music] [--json figures.json]
"""
from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import platform
import statistics
import time
from pathlib import Path

# Time the encoders for real: embeddings kept on disk by an earlier run (the engine's
# persistent cache) would turn "cold" clips into cache reads.
os.environ.setdefault("A2M_EMBED_CACHE", "0")

import numpy as np
import torch

from a2m_core.engine import Art2Music
from trainer.data.dataset import ArtiCaps
from trainer.evaluate.musicality import (
    copy_distance,
    envelope_correlation,
    mean_figures,
    mel_db_change,
    musicality,
)

ROOT = Path(__file__).resolve().parents[1]
# Written for this benchmark: (painting, energetic or joyful comment, calm or sad comment).
FEELING_PAIRS = [
    ("Post_Impressionism/vincent-van-gogh_the-starry-night-1889",
     "The sky is dancing! Wild, joyful energy, everything spins with excitement",
     "A calm, quiet night; the village sleeps peacefully under gentle stars"),
    ("Expressionism/edvard-munch_the-scream-1893",
     "Frantic and loud, a burst of panic racing through the whole scene",
     "A sad, slow loneliness, a tired figure grieving in silence"),
    ("Fauvism/henri-matisse_woman-with-a-hat-1905",
     "Bright, lively colours full of cheerful energy, like a festival",
     "Soft and still, a peaceful, gentle portrait resting in calm"),
    ("Romanticism/william-turner_the-shipwreck-1805",
     "Violent waves crash and roar, a fast, dramatic storm of energy",
     "After the storm, a slow mournful silence and sorrow over the sea"),
]
TARGETS = {"band_std": 5.0, "drift": 2.5, "flux": 0.6}


def mels_for(engine: Art2Music, images: list[Path], comments: list[str]) -> np.ndarray:
    """The mels ``[N, n_mels, T]`` a user gets (no seed) for (image, comment) pairs."""
    from a2m_core import GenerationRequest

    return engine.generate_mels([GenerationRequest(i, c) for i, c in zip(images, comments)])


def save_mels_png(mels: list[np.ndarray], titles: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(mels), 1, figsize=(9, 1.9 * len(mels)), squeeze=False)
    for ax, m, t in zip(axes[:, 0], mels, titles):
        ax.imshow(m, origin="lower", aspect="auto", vmin=-1, vmax=1, cmap="magma")
        ax.set_title(t[:110], fontsize=8)
        ax.set_yticks([])
        ax.set_xticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", help="bundle (default: the default bundle)")
    ap.add_argument("--dataset", default=str(ROOT / "build" / "starter" / "dataset"),
                    help="the starter's training dataset, for the copy figure")
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(ROOT / "out" / "bench-music"))
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    shared, out = Path(args.shared), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(shared / "artemis" / "artemis_sample.csv", newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f)
                if (shared / "wikiart" / r["art_style"] / f"{r['painting']}.jpg").is_file()]
    image_of = {f"{r['art_style']}/{r['painting']}":
                shared / "wikiart" / r["art_style"] / f"{r['painting']}.jpg" for r in rows}
    engine = Art2Music.load(args.bundle, device="cpu")
    print(f"bundle {engine.name} ({engine.vocoder_name}) on {platform.machine()}, "
          f"{torch.get_num_threads()} threads")

    # 1. musicality of every fixture (painting, comment) clip ----------------------------
    figures, clips = [], []
    for k, r in enumerate(rows):
        clip = engine.generate(image_of[f"{r['art_style']}/{r['painting']}"], r["utterance"])
        clip.save(out / f"clip{k:02d}.wav")
        clips.append(clip)
        figures.append(musicality(clip.audio, clip.sample_rate))
        f = figures[-1]
        print(f"clip{k:02d} band_std {f['band_std']:5.2f} flux {f['flux']:.2f} drift "
              f"{f['drift']:.2f} onsets {f['onsets']:.2f}  {r['utterance'][:50]}")
    means = mean_figures(figures)
    save_mels_png([c.mel for c in clips[:6]], [c.comment for c in clips[:6]],
                  out / "mels.png")

    # 2. painting change and comment change (mel only) -----------------------------------
    paintings = sorted(image_of)
    comments = [r["utterance"] for r in rows]
    grid = mels_for(engine, [image_of[p] for p in paintings for _ in comments],
                    [c for _ in paintings for c in comments]).reshape(
        len(paintings), len(comments), *clips[0].mel.shape)
    cfg = engine.mel_config
    painting_db = statistics.mean(mel_db_change(grid[a, c], grid[b, c], cfg)
                                  for c in range(len(comments))
                                  for a, b in itertools.combinations(range(len(paintings)), 2))
    comment_db = statistics.mean(mel_db_change(grid[p, a], grid[p, b], cfg)
                                 for p in range(len(paintings))
                                 for a, b in itertools.combinations(range(len(comments)), 2))

    # 3. feeling follows the comment -----------------------------------------------------
    feeling, pair_figures = [], {"lively": [], "calm": []}
    for k, (painting, lively, calm) in enumerate(FEELING_PAIRS):
        figs = []
        for kind, c in (("lively", lively), ("calm", calm)):
            clip = engine.generate(image_of[painting], c)
            clip.save(out / f"pair{k}-{kind}.wav")
            figs.append(musicality(clip.audio, cfg.sample_rate))
            pair_figures[kind].append(figs[-1])
        feeling.append({"painting": painting, "lively_flux": figs[0]["flux"],
                        "calm_flux": figs[1]["flux"], "follows": figs[0]["flux"] > figs[1]["flux"]})

    # 4. copy distance against the training windows --------------------------------------
    copy = None
    if (Path(args.dataset) / "manifest.json").is_file():
        ds = ArtiCaps.open(args.dataset)
        train_rows = sorted({int(ds.pairs[i]["mel_row"]) for i in ds.split("train")})
        test_rows = sorted({int(ds.pairs[i]["mel_row"]) for i in ds.split("test")})
        train = np.asarray(ds.mels[train_rows], dtype=np.float32)
        gen = float(copy_distance(np.stack([c.mel for c in clips]), train).mean())
        real = float(copy_distance(np.asarray(ds.mels[test_rows], dtype=np.float32),
                                   train).mean())
        copy = {"generated": gen, "held_out_real": real, "ratio": gen / real}
        # One form for every clip? Envelope correlation against held-out real windows.
        copy["envelope_correlation"] = envelope_correlation(np.stack([c.mel for c in clips]))
        copy["envelope_correlation_real"] = envelope_correlation(
            np.asarray(ds.mels[test_rows[:len(clips)]], dtype=np.float32))

    # 5. time per clip with each vocoder -------------------------------------------------
    image, comment = image_of[paintings[0]], comments[0]
    timing = {}
    for name in ("bundle", "griffin-lim"):
        eng = engine if name == "bundle" else Art2Music.load(args.bundle, device="cpu",
                                                             vocoder="griffin-lim")
        eng.generate(image, comment, seed=99)  # warm-up (caches, first-call costs)
        eng.encoder.clear_cache()
        t = time.perf_counter()
        eng.generate(image, comment, seed=7)
        timing[eng.vocoder_name] = time.perf_counter() - t

    result = {"bundle": engine.name, "clips": len(clips), "musicality_mean": means,
              "musicality": figures, "painting_change_db": painting_db,
              "comment_change_db": comment_db, "feeling_pairs": feeling,
              "feeling_follows": sum(f["follows"] for f in feeling), "copy": copy,
              # the 8 comments of the feeling pairs are unseen too: do lively ones drone?
              "pair_clips_musicality": {k: mean_figures(v) for k, v in pair_figures.items()},
              "seconds_per_clip": timing}
    print(f"\nmean over {len(clips)} unseen clips: " + ", ".join(
        f"{k} {v:.2f}" + (f" (target >= {TARGETS[k]})" if k in TARGETS else "")
        for k, v in means.items()))
    print(f"painting change moves the mel {painting_db:.2f} dB, comment change "
          f"{comment_db:.2f} dB (target >= 1)")
    print(f"feeling follows the comment in {result['feeling_follows']} of {len(feeling)} "
          f"pairs (target >= 3): " + ", ".join(f"{f['lively_flux']:.2f}>{f['calm_flux']:.2f}"
                                               for f in feeling))
    for kind, m in result["pair_clips_musicality"].items():
        print(f"the 4 {kind} comments of the pairs: " + ", ".join(
            f"{k} {v:.2f}" for k, v in m.items()))
    if copy:
        print(f"copy distance: generated {copy['generated']:.3f}, held-out real "
              f"{copy['held_out_real']:.3f}, ratio {copy['ratio']:.2f} (target >= 0.5)")
        print(f"envelope correlation between clips (one form for all?): generated "
              f"{copy['envelope_correlation']:.2f}, held-out real "
              f"{copy['envelope_correlation_real']:.2f}")
    print("seconds per clip (2-core CPU here): " + ", ".join(
        f"{k} {v:.2f} s" for k, v in timing.items()))
    print(f"clips and mels.png in {out}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
