"""The README's picture: mels of clips from earlier bundles and the current one for the same
unseen painting and comment, one above the other, with the musicality figures in the titles.

    .venv/bin/python scripts/starter_mel_figure.py \\
        --before "the drone starter=drone.safetensors" \\
        --before "without the detail flow=previous.safetensors" \\
        [--after a2m_core/assets/starter.safetensors] [-o docs/starter-mel.png]

(Earlier starters are in git history: ``git show <rev>:a2m_core/assets/starter.safetensors``;
the drone starter is ab32de3's, the one without the detail flow 120ce2f's.)
"""
from __future__ import annotations

import argparse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAINTING = REPO / "examples" / "vincent-van-gogh_the-starry-night-1889.jpg"
COMMENT = "The swirling sky feels alive, restless and full of wonder"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True, action="append",
                    help="LABEL=BUNDLE, an earlier bundle (repeat for several)")
    ap.add_argument("--after", default=str(REPO / "a2m_core" / "assets" /
                                           "starter.safetensors"))
    ap.add_argument("-o", "--output", default=str(REPO / "docs" / "starter-mel.png"))
    args = ap.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from a2m_core import Art2Music
    from trainer.evaluate.musicality import musicality

    rows = [("before: " + b.split("=", 1)[0], b.split("=", 1)[1]) for b in args.before]
    rows.append(("now", args.after))
    fig, axes = plt.subplots(len(rows), 1, figsize=(9, 2.6 * len(rows)))
    for ax, (label, bundle) in zip(axes, rows):
        engine = Art2Music.load(bundle, device="cpu")
        clip = engine.generate(PAINTING, COMMENT)
        f = musicality(clip.audio, clip.sample_rate)
        cfg = engine.mel_config
        ax.imshow(clip.mel, origin="lower", aspect="auto", vmin=-1, vmax=1, cmap="magma",
                  extent=(0, cfg.duration_s, 0, cfg.n_mels))
        ax.set_title(f"{label} ({engine.vocoder_name}): band std {f['band_std']:.1f} dB, "
                     f"drift {f['drift']:.1f} dB, flux {f['flux']:.2f}", fontsize=9)
        ax.set_ylabel("mel band")
    axes[-1].set_xlabel(f"seconds — “{COMMENT}”, The Starry Night")
    fig.tight_layout()
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
