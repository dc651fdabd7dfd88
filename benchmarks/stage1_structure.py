"""Is a stage-1 run learning music, and if not, where is it stuck? Seconds, no vocoder.

Reads a stage-1 checkpoint (``last.pt`` while training, or ``best.pt``) and its dataset, and
prints the yardstick's band std, flux and drift (``trainer.evaluate.musicality.mel_figures``,
on the mels themselves) for the same inputs decoded several ways:

- ``real``: the windows the inputs were paired with (what music measures);
- ``own latent`` (training split only: held-out windows have no trained latent): each
  window's own learned latent (can the decoder reproduce what it was shown? a drone here
  means it is underfit, whatever the sampling);
- ``prior``: the average rendition of the input's feeling (no latent noise);
- ``draw T``: the prior plus ``T`` times the latents' spread of seeded noise, as
  generation draws it (``GenerationConfig.latent_temperature``).

Measured this way (2026-12-02), the starter recipe's run gave drones in every row until
epoch 40 of 80 (own latent 1.4 dB against 8.9 dB for real windows): the lever is fitting,
not sampling (benchmarks/README.md).

    python benchmarks/stage1_structure.py build/starter/stage1/last.pt \\
        [--dataset build/starter/dataset] [--pairs 48] [--png out/stage1.png]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from trainer.data.dataset import ArtiCaps
from trainer.evaluate.musicality import mean_figures, mel_figures
from trainer.train.common import load_checkpoint
from trainer.train.stage1 import Stage1Config, Stage1Data, build_model

ROOT = Path(__file__).resolve().parents[1]


def decodings(model, data: Stage1Data, idx: np.ndarray, own_latents: bool, seed: int = 0
              ) -> dict[str, np.ndarray]:
    """The mels ``[N, n_mels, T]`` of samples ``idx`` decoded each way (normalised);
    ``own_latents`` only where the windows' latents were trained (the training split)."""
    rows = np.array([data.candidates[i][0] for i in idx])
    text, image, target = data.batch(idx, rows, torch.device("cpu"))
    out = {"real": target}
    fused = model.projector(text, image)
    dec = model.decoder
    out["prior" if dec.cfg.latent_dim else "decoded"] = dec(fused)
    if dec.cfg.latent_dim and own_latents:
        out["own latent"] = dec(fused, model.latents(torch.as_tensor(rows)))
    if dec.cfg.latent_dim:
        prior = dec.latent_prior(fused)
        gen = torch.Generator().manual_seed(seed)
        for temp in (1.0, 2.0):
            noise = torch.randn(len(idx), dec.cfg.latent_dim, generator=gen)
            out[f"draw T{temp:g}"] = dec(fused, prior + temp * dec.latent_std * noise)
    return {k: v.clamp(-1, 1).transpose(1, 2).numpy() for k, v in out.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", type=Path, help="stage-1 last.pt (training state)")
    ap.add_argument("--dataset", type=Path, default=ROOT / "build" / "starter" / "dataset")
    ap.add_argument("--pairs", type=int, default=48, help="samples per split")
    ap.add_argument("--png", type=Path, help="also draw 4 test samples' mels, each way")
    args = ap.parse_args()
    ckpt = load_checkpoint(args.checkpoint)
    if "model" not in ckpt or "stage1_config" not in ckpt:
        raise SystemExit(f"{args.checkpoint}: not a stage-1 training checkpoint (last.pt)")
    ds = ArtiCaps.open(args.dataset)
    # Only the architecture matters here: settings of other versions' losses are ignored.
    known = Stage1Config.__dataclass_fields__
    model = build_model(ds, Stage1Config(**{k: v for k, v in ckpt["stage1_config"].items()
                                            if k in known}))
    model.load_state_dict(ckpt["model"])
    model.eval()
    train = Stage1Data(ds, "train", True)
    print(f"{args.checkpoint}: epoch {ckpt.get('epoch')}, step {ckpt.get('step')}")
    with torch.no_grad():
        model.fit_latent_spread(train, torch.device("cpu"))
        for split in ("train", "test"):
            data = train if split == "train" else Stage1Data(ds, split, False)
            if not len(data):
                continue
            idx = np.unique(np.linspace(0, len(data) - 1, min(args.pairs, len(data))
                                        ).astype(int))
            mels = decodings(model, data, idx, own_latents=split == "train")
            for name, m in mels.items():
                f = mean_figures([mel_figures(x, ds.mel_config) for x in m])
                print(f"{split:5s} {name:11s} band_std {f['band_std']:5.2f}  flux "
                      f"{f['flux']:.2f}  drift {f['drift']:.2f}")
            if args.png and split == "test":
                _draw(mels, args.png)
    return 0


def _draw(mels: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names, n = list(mels), min(4, len(next(iter(mels.values()))))
    fig, axes = plt.subplots(n, len(names), figsize=(3.2 * len(names), 1.5 * n),
                             squeeze=False)
    for j, name in enumerate(names):
        axes[0, j].set_title(name, fontsize=9)
        for i in range(n):
            axes[i, j].imshow(mels[name][i * (len(mels[name]) // n)], origin="lower",
                              aspect="auto", vmin=-1, vmax=1, cmap="magma")
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=70)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
