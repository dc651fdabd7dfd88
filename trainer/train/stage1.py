"""Stage 1: train the gated residual projector and the BiLSTM mel decoder together.

From an ArtiCaps folder's cached OpenCLIP embeddings and mels: Adam (lr 1e-4), batch 32,
10 epochs, frequency-weighted L1 (paper eq. 2), validation every epoch, best checkpoint by
validation loss. Unlike the reference code, the optimiser updates the projector too.

Resume: ``last.pt`` is written atomically every ``checkpoint_every`` steps and at each epoch
end, with the model, optimiser, epoch, position within the epoch and best loss. An epoch's
batch order and its tie choices are drawn from ``(seed, epoch)`` alone, so a resumed run on
the CPU repeats an uninterrupted one exactly; on CUDA, cuDNN's LSTM kernels and AMP make runs
agree only to float tolerance.

Multi-GPU: launch with ``torchrun --nproc_per_node N -m trainer.cli stage1 ...``; each rank
takes every N-th sample of the epoch order (DistributedDataParallel, gloo on CPU, NCCL on
CUDA); rank 0 writes logs and checkpoints.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from a2m_core.fileio import remove_stale_temps
from a2m_core.mel import (
    DecoderConfig,
    MelDecoder,
)
from a2m_core.mel.losses import (
    form_correlation_l1,
    frequency_weighted_l1,
    movement_statistics_l1,
    temporal_difference_l1,
)
from a2m_core.projector import GatedResidualProjector, ProjectorConfig

from ..data.dataset import ArtiCaps
from .common import (
    Callback,
    Dist,
    RunLog,
    load_checkpoint,
    pick_device,
    refuse_other_settings,
    save_checkpoint,
)

CHECKPOINT_KIND = "art2music-stage1"


@dataclass
class Stage1Config:
    epochs: int = 10  # paper
    batch_size: int = 32  # paper (per process under torchrun)
    lr: float = 1e-4  # paper, Adam
    seed: int = 0
    hidden: int = 512  # projector hidden = decoder input (paper)
    decoder_hidden: int = 512  # LSTM hidden per direction (paper)
    decoder_layers: int = 4  # paper
    frames_per_step: int = 1  # mel frames per LSTM step (paper: 1; CPU-sized models: 8)
    latent_dim: int = 0  # per-window performance latent (0: none, the paper's model)
    latent_segments: int = 1  # stretches of time the latent is split into (decoder.py)
    latent_dropout: float = 0.5  # share of steps a sample's latent is replaced by the mean
    latent_lr_scale: float = 10.0  # latents learn faster: each is seen a few times an epoch
    prior_weight: float = 0.1  # weight of the latent prior's regression loss
    # Weight of an L1 on frame-to-frame mel changes (losses.temporal_difference_l1); 0 is the
    # paper's loss. Meant against the L1's pull towards a static average, but at 1.0 the
    # starter measured less movement, not more (benchmarks/README.md): kept as an option.
    delta_weight: float = 0.0
    # Weight of losses.movement_statistics_l1: the distributions of each band's values and
    # changes over time, at note, phrase and bar scales, matched to the target's without
    # aligning frames (with a latent: on the samples that use their window's latent). 0 is
    # the paper's loss; tried at 2 for the starter (benchmarks/README.md).
    movement_weight: float = 0.0
    # Weight of losses.form_correlation_l1 on the same samples: the clips of a batch must
    # differ in loud-quiet form as much as their targets do, so the movement loss can't be
    # met by one form for every input. 0: off.
    form_weight: float = 0.0
    # "val_loss" keeps the lowest validation L1 (paper). "last" keeps the final epoch: an L1
    # on unseen windows rewards the blurriest (most average) checkpoint, a drone.
    keep: str = "val_loss"
    gate_input: str = "ref"  # projector gate form: "ref" (default) or "paper"
    tie_sampling: bool = True  # pick among equally matched clips (windows of one caption)
    checkpoint_every: int = 200  # steps between last.pt writes (and at each epoch end)
    log_every: int = 10  # steps between step log lines
    max_steps: int | None = None  # stop after this many steps in total (smoke tests)
    device: str = "auto"
    amp: bool = True  # autocast fp16 + GradScaler on CUDA; ignored on CPU

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Stage1Model(nn.Module):
    """Projector + decoder (+ one learned latent per training window, when the decoder takes
    one), so DDP and the optimiser see one module."""

    def __init__(self, projector: GatedResidualProjector, decoder: MelDecoder,
                 n_windows: int = 0) -> None:
        super().__init__()
        self.projector = projector
        self.decoder = decoder
        d = decoder.cfg.latent_dim
        self.latents = nn.Embedding(n_windows, d) if d else None
        if self.latents is not None:
            nn.init.normal_(self.latents.weight, std=0.1)

    def forward(self, text: torch.Tensor, image: torch.Tensor,
                rows: torch.Tensor | None = None, keep: torch.Tensor | None = None
                ) -> torch.Tensor:
        """``rows``: the windows' latent indices ``[B]``; ``keep``: ``[B]`` bool, False where
        the latent is replaced by its prior. Without rows: the prior (average rendition).

        With rows, ``self.prior_loss`` holds the prior's regression loss to the latents."""
        fused = self.projector(text, image)
        z = None
        if self.latents is not None and rows is not None:
            prior = self.decoder.latent_prior(fused)
            z = self.latents(rows)
            self.prior_loss = (prior - z.detach()).pow(2).mean()
            if keep is not None:
                z = torch.where(keep[:, None], z, prior)
        return self.decoder(fused, z)  # [B, T, n_mels]

    @torch.no_grad()
    def fit_latent_spread(self, data: Stage1Data, device: torch.device) -> None:
        """Set the decoder's ``latent_std``: the learned latents' spread around the prior."""
        if self.latents is None or len(data) == 0:
            return
        rows = np.array([c[0] for c in data.candidates])
        resid = []
        for start in range(0, len(data), 256):
            idx = np.arange(start, min(start + 256, len(data)))
            text, image, _ = data.batch(idx, rows[idx], device, with_targets=False)
            prior = self.decoder.latent_prior(self.projector(text, image))
            resid.append(self.latents(torch.as_tensor(rows[idx], device=device)) - prior)
        r = torch.cat(resid)
        self.decoder.latent_std.copy_(r.std(0).clamp_min(1e-4) if len(r) > 1 else
                                      torch.ones_like(r[0]))


class Stage1Data:
    """Embeddings and targets of one dataset split, read from the memory-mapped arrays."""

    def __init__(self, ds: ArtiCaps, split: str, tie_sampling: bool) -> None:
        if ds.image_emb is None or ds.text_emb is None:
            raise ValueError(f"{ds.root} has no OpenCLIP embeddings: build it with "
                             f"--clip-model or --clip-from-bundle")
        self.ds = ds
        self.pairs = ds.split(split)
        row_of = {c["ytid"]: int(c["mel_row"]) for c in ds.clips}
        self.candidates: list[list[int]] = []
        for i in self.pairs:
            p = ds.pairs[i]
            ytids, scores = p["topk_ytids"].split("; "), [float(s) for s in
                                                          p["topk_scores"].split("; ")]
            best = scores[0]
            tied = [row_of[y] for y, s in zip(ytids, scores) if s >= best - 1e-6]
            self.candidates.append(tied if tie_sampling else tied[:1])
        self.painting = np.array([int(ds.pairs[i]["painting_index"]) for i in self.pairs])

    def __len__(self) -> int:
        return len(self.pairs)

    def targets(self, epoch_gen: torch.Generator) -> np.ndarray:
        """The mel row each sample trains on this epoch (ties drawn from the epoch's RNG)."""
        picks = torch.randint(0, 1 << 30, (len(self.pairs),), generator=epoch_gen).numpy()
        return np.array([c[p % len(c)] for c, p in zip(self.candidates, picks)])

    def batch(self, idx: np.ndarray, rows: np.ndarray, device: torch.device,
              with_targets: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pair_ids = np.asarray(self.pairs)[idx]
        text = torch.from_numpy(np.asarray(self.ds.text_emb[pair_ids]))
        image = torch.from_numpy(np.asarray(self.ds.image_emb[self.painting[idx]]))
        if not with_targets:
            return text.to(device), image.to(device), torch.empty(0)
        mels = np.stack([np.asarray(self.ds.mels[r], dtype=np.float32) for r in rows])
        target = torch.from_numpy(mels).transpose(1, 2)  # [B, T, n_mels]
        return text.to(device), image.to(device), target.to(device)


def _epoch_gen(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 100_003 + epoch)


def build_model(ds: ArtiCaps, cfg: Stage1Config) -> Stage1Model:
    from a2m_core.encoders import EncoderConfig

    enc = EncoderConfig(**ds.manifest["config"]["encoder"])
    mel = ds.mel_config
    proj = ProjectorConfig(text_dim=enc.text_embed_dim, image_dim=enc.embed_dim,
                           hidden=cfg.hidden, gate_input=cfg.gate_input)  # type: ignore[arg-type]
    dec = DecoderConfig(input_dim=cfg.hidden, hidden=cfg.decoder_hidden,
                        layers=cfg.decoder_layers, n_frames=mel.n_frames, n_mels=mel.n_mels,
                        frames_per_step=cfg.frames_per_step, latent_dim=cfg.latent_dim,
                        latent_segments=cfg.latent_segments)
    return Stage1Model(GatedResidualProjector(proj), MelDecoder(dec), n_windows=len(ds.mels))


@torch.no_grad()
def evaluate_loss(model: nn.Module, data: Stage1Data, batch_size: int,
                  device: torch.device) -> float:
    if len(data) == 0:
        return float("nan")
    model.eval()
    rows = np.array([c[0] for c in data.candidates])
    total = 0.0
    for start in range(0, len(data), batch_size):
        idx = np.arange(start, min(start + batch_size, len(data)))
        text, image, target = data.batch(idx, rows[idx], device)
        total += frequency_weighted_l1(model(text, image).float(), target).item() * len(idx)
    model.train()
    return total / len(data)


def train_stage1(
    dataset: str | Path,
    out: str | Path,
    cfg: Stage1Config | None = None,
    callback: Callback | None = None,
    stop: threading.Event | None = None,
) -> Path:
    """Train (or resume) stage 1; returns the path of ``best.pt``."""
    cfg = cfg or Stage1Config()
    out = Path(out)
    device = pick_device(cfg.device)
    dist_env = Dist.setup(device)
    log = RunLog(out, callback, enabled=dist_env.main)
    if dist_env.main:
        out.mkdir(parents=True, exist_ok=True)
        # what a killed run was writing (a half checkpoint under a temp name) goes first
        remove_stale_temps(out)
    ds = ArtiCaps.open(dataset)
    train, val = Stage1Data(ds, "train", cfg.tie_sampling), Stage1Data(ds, "val", False)
    if len(train) == 0:
        raise ValueError(f"{ds.root} has no training pairs")

    torch.manual_seed(cfg.seed)
    model = build_model(ds, cfg).to(device)
    if cfg.keep not in ("val_loss", "last"):
        raise ValueError(f"keep must be 'val_loss' or 'last', got {cfg.keep!r}")
    latent_params = list(model.latents.parameters()) if model.latents is not None else []
    others = [p for n, p in model.named_parameters() if not n.startswith("latents.")]
    opt = torch.optim.Adam([{"params": others}] + (
        [{"params": latent_params, "lr": cfg.lr * cfg.latent_lr_scale}] if latent_params
        else []), lr=cfg.lr)
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    start_epoch, start_batch, step, best = 0, 0, 0, math.inf
    last = out / "last.pt"
    if last.exists():
        ckpt = load_checkpoint(last)
        if not {"model", "optimizer", "epoch", "batch", "step", "best_val"} <= ckpt.keys():
            raise ValueError(f"{last} is not a stage-1 resume checkpoint: delete it or use "
                             "another output folder")
        arch = ("hidden", "decoder_hidden", "decoder_layers", "frames_per_step", "latent_dim",
                "latent_segments")
        saved = {**Stage1Config().to_dict(), **ckpt.get("stage1_config", {})}
        if any(saved[k] != getattr(cfg, k) for k in arch):
            raise ValueError(f"{last} was trained with another architecture: use another "
                             f"output folder or delete it")
        # A resumed run must train the same recipe: resuming a finished run whose losses
        # differ would silently hand back the old model as the new one. Only how long and
        # where it runs may change.
        free = {"epochs", "max_steps", "checkpoint_every", "log_every", "device", "amp",
                "keep"}
        wanted = cfg.to_dict()
        refuse_other_settings(f"{last} was trained", saved, wanted,
                              [k for k in wanted if k not in free],
                              "use another output folder or delete it")
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        start_epoch, start_batch = ckpt["epoch"], ckpt["batch"]
        step, best = ckpt["step"], ckpt["best_val"]
        log("resumed", stage="stage1", epoch=start_epoch, batch=start_batch, step=step)
    ddp_model: nn.Module = model
    if dist_env.world > 1:
        ddp_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)

    per_rank = math.ceil(len(train) / dist_env.world)
    batches_per_epoch = math.ceil(per_rank / cfg.batch_size)
    total_steps = batches_per_epoch * cfg.epochs
    if cfg.max_steps:
        total_steps = min(total_steps, cfg.max_steps)

    def checkpoint(epoch: int, batch: int) -> None:
        if dist_env.main:
            save_checkpoint(last, {"kind": CHECKPOINT_KIND, "model": model.state_dict(),
                                   "optimizer": opt.state_dict(), "epoch": epoch,
                                   "batch": batch, "step": step, "best_val": best,
                                   "stage1_config": cfg.to_dict()})
            log("checkpoint", stage="stage1", epoch=epoch, batch=batch, step=step)

    model.train()
    t_start, steps_this_run = time.perf_counter(), 0
    for epoch in range(start_epoch, cfg.epochs):
        gen = _epoch_gen(cfg.seed, epoch)
        order = torch.randperm(len(train), generator=gen).numpy()
        rows = train.targets(gen)
        mine = order[dist_env.rank::dist_env.world]
        for b in range(start_batch if epoch == start_epoch else 0, batches_per_epoch):
            if (stop is not None and stop.is_set()) or (cfg.max_steps and step >= cfg.max_steps):
                checkpoint(epoch, b)
                log("stopped", stage="stage1", epoch=epoch, step=step)
                dist_env.close()
                return out / "best.pt"
            idx = mine[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            if len(idx) == 0:
                continue
            text, image, target = train.batch(idx, rows[idx], device)
            win = torch.as_tensor(rows[idx], device=device)
            # drawn from (seed, step) alone, so a resumed run drops the same latents
            keep = torch.rand(len(idx), generator=_epoch_gen(cfg.seed + 7, step)).to(
                device) >= cfg.latent_dropout
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                pred = ddp_model(text, image, win, keep)
            loss = frequency_weighted_l1(pred.float(), target)
            if cfg.delta_weight:
                loss = loss + cfg.delta_weight * temporal_difference_l1(pred.float(), target)
            # With a latent, the movement and form losses see only the samples that use
            # their window's own latent: there the timing is knowable, so they ask for real
            # detail instead of a blur. On the prior's samples (no timing to know) the
            # movement loss taught one fixed loud-quiet envelope for every clip (mean
            # envelope correlation 0.95 between clips, vs 0.39).
            sel = keep if model.latents is not None else slice(None)
            n_sel = int(keep.sum()) if model.latents is not None else len(idx)
            if cfg.movement_weight and n_sel:
                loss = loss + cfg.movement_weight * movement_statistics_l1(
                    pred[sel].float(), target[sel])
            if cfg.form_weight and n_sel > 1:
                loss = loss + cfg.form_weight * form_correlation_l1(pred[sel].float(),
                                                                     target[sel])
            if model.latents is not None:
                loss = loss + cfg.prior_weight * model.prior_loss
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            step += 1
            steps_this_run += 1
            if step % cfg.log_every == 0 or step == 1:
                elapsed = time.perf_counter() - t_start
                rate = steps_this_run / elapsed if elapsed else 0.0
                log("step", stage="stage1", epoch=epoch, step=step, total_steps=total_steps,
                    loss=round(dist_env.mean(loss.item()), 6),
                    samples_per_s=round(rate * len(idx) * dist_env.world, 2),
                    eta_s=round((total_steps - step) / rate, 1) if rate else None)
            if step % cfg.checkpoint_every == 0:
                checkpoint(epoch, b + 1)
        model.fit_latent_spread(train, device)
        val_loss = dist_env.mean(evaluate_loss(model, val, cfg.batch_size, device))
        improved = not math.isnan(val_loss) and val_loss < best
        best = val_loss if improved else best
        last_epoch = epoch == cfg.epochs - 1
        if (improved and cfg.keep == "val_loss") or (last_epoch and (
                cfg.keep == "last" or math.isnan(val_loss))):
            if dist_env.main:
                save_best(out / "best.pt", model, ds, cfg, epoch, val_loss)
        log("val", stage="stage1", epoch=epoch, step=step, val_loss=round(val_loss, 6),
            best=round(best, 6) if math.isfinite(best) else None, improved=improved)
        checkpoint(epoch + 1, 0)
    log("done", stage="stage1", step=step, best_val=best if math.isfinite(best) else None,
        best_checkpoint=str(out / "best.pt"))
    dist_env.close()
    return out / "best.pt"


def save_best(path: Path, model: Stage1Model, ds: ArtiCaps, cfg: Stage1Config, epoch: int,
              val_loss: float, extra: dict[str, Any] | None = None) -> None:
    """Inference weights only (no optimiser), with everything export needs."""
    save_checkpoint(path, {
        **(extra or {}),
        "kind": CHECKPOINT_KIND + "-weights",
        "projector": model.projector.state_dict(),  # decoder: with its latent Gaussian
        "decoder": model.decoder.state_dict(),
        "projector_config": model.projector.cfg.to_dict(),
        "decoder_config": model.decoder.cfg.to_dict(),
        "mel": ds.mel_config.to_dict(),
        "encoder": ds.manifest["config"]["encoder"],
        "dataset": str(ds.root),
        "epoch": epoch,
        "val_loss": val_loss,
        "stage1_config": cfg.to_dict(),
    })


def load_stage1(path: str | Path) -> tuple[GatedResidualProjector, MelDecoder, dict[str, Any]]:
    """Projector and decoder from a ``best.pt``, in eval mode, and the checkpoint's metadata."""
    ckpt = load_checkpoint(Path(path))
    if ckpt.get("kind") != CHECKPOINT_KIND + "-weights" or not {
            "projector_config", "decoder_config", "projector", "decoder"} <= ckpt.keys():
        raise ValueError(f"{path} is not a stage-1 weights checkpoint (best.pt)")
    projector = GatedResidualProjector(ProjectorConfig(**ckpt["projector_config"]))
    decoder = MelDecoder(DecoderConfig(**ckpt["decoder_config"]))
    projector.load_state_dict(ckpt["projector"])
    decoder.load_state_dict(ckpt["decoder"])
    return projector.eval(), decoder.eval(), ckpt
