"""Stage 1b: train the detail flow (a2m_core/mel/detail.py) on a finished stage-1 run.

The stage-1 projector and decoder stay frozen. For every training pair the decoder renders
the pair's window from the window's own learned latent (where the decoder knows as much as it
can about that rendition); the flow learns the distribution of what is left, the real mel
minus that rendition, given the rendition and the pair's fused vector. It trains on random
crops of the clip (the convolutions see ~1.4 s, so a crop of 3 s teaches what the whole clip
needs, at a third of the cost).

Memory: every training pair's rendition is computed once and held in float16 (0.14 MB a
pair at 896 x 80: 160 MB for the starter's 1,140 pairs, ~7 GB for 50,000).

Resume: ``last.pt`` holds the flow, its optimiser and the step, written atomically every
``checkpoint_every`` steps; a step's crops and noise are drawn from ``(seed, step)`` alone,
so a resumed run repeats an uninterrupted one on the CPU. The result is a stage-1 weights
file (``best.pt``) whose decoder carries the flow, so ``export`` needs nothing new.
"""
from __future__ import annotations

import dataclasses
import math
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from a2m_core.fileio import remove_stale_temps
from a2m_core.mel import DecoderConfig, MelDecoder

from ..data.dataset import ArtiCaps
from .common import (
    Callback,
    RunLog,
    load_checkpoint,
    pick_device,
    refuse_other_settings,
    save_checkpoint,
)
from .stage1 import Stage1Config, Stage1Data, Stage1Model, build_model, save_best

CHECKPOINT_KIND = "art2music-detail"


@dataclass
class DetailConfig:
    channels: int = 128  # width of the flow's convolutions
    blocks: int = 8  # dilated convolution blocks (dilations 1, 2, 4, 8, ...)
    euler_steps: int = 8  # generation: integration steps from noise to detail
    # share of samples trained without the fused vector, so generation can guide the detail
    # towards the feeling (classifier-free guidance; 0: off)
    cond_dropout: float = 0.0
    guidance: float = 1.0  # generation: the guidance weight stored in the decoder config
    steps: int = 2000  # optimiser steps
    batch_size: int = 16
    crop_frames: int = 256  # frames of each training crop (~3 s)
    lr: float = 1e-3
    seed: int = 0
    checkpoint_every: int = 200
    log_every: int = 25
    device: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _frozen_stage1(stage1_dir: Path, ds: ArtiCaps) -> tuple[Stage1Model, Stage1Config]:
    """The finished stage-1 run of ``stage1_dir/last.pt`` (with its learned latents)."""
    last = stage1_dir / "last.pt"
    ckpt = load_checkpoint(last)
    cfg = Stage1Config(**{k: v for k, v in ckpt.get("stage1_config", {}).items()
                          if k in Stage1Config.__dataclass_fields__})
    if not cfg.latent_dim:
        raise ValueError(f"{last}: the detail flow needs a decoder with a performance latent")
    if ckpt.get("epoch", 0) < cfg.epochs:
        raise ValueError(f"{last} stopped at epoch {ckpt.get('epoch')} of {cfg.epochs}: "
                         f"finish stage 1 first")
    model = build_model(ds, cfg)
    model.load_state_dict(ckpt["model"])
    return model.eval(), cfg


@torch.no_grad()
def _renditions(model: Stage1Model, data: Stage1Data) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray]:
    """Each pair's fused vector ``[N, D]``, its window's row ``[N]`` and the decoder's
    rendition of it from the window's own latent ``[N, n_mels, T]`` (float16)."""
    rows = np.array([c[0] for c in data.candidates])
    fused, mels = [], []
    for start in range(0, len(data), 64):
        idx = np.arange(start, min(start + 64, len(data)))
        text, image, _ = data.batch(idx, rows[idx], torch.device("cpu"), with_targets=False)
        f = model.projector(text, image)
        mel = model.decoder(f, model.latents(torch.as_tensor(rows[idx]))).clamp(-1, 1)
        fused.append(f.numpy())
        mels.append(mel.transpose(1, 2).numpy().astype(np.float16))
    return np.concatenate(fused), rows, np.concatenate(mels)


def _batch(ds: ArtiCaps, fused: np.ndarray, rows: np.ndarray, mels: np.ndarray,
           idx: np.ndarray, starts: np.ndarray, crop: int
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    mel = np.stack([mels[i, :, s:s + crop] for i, s in zip(idx, starts)]).astype(np.float32)
    # crop in the memory map: read only the crop's frames from disk
    target = np.stack([np.asarray(ds.mels[rows[i], :, s:s + crop], dtype=np.float32)
                       for i, s in zip(idx, starts)])
    return (torch.from_numpy(fused[idx]), torch.from_numpy(mel), torch.from_numpy(target))


def train_detail(dataset: str | Path, stage1_dir: str | Path, out: str | Path,
                 cfg: DetailConfig | None = None, callback: Callback | None = None,
                 stop: threading.Event | None = None) -> Path:
    """Train (or resume) the detail flow on the finished stage-1 run in ``stage1_dir``;
    returns the path of a ``best.pt`` whose decoder carries it."""
    cfg = cfg or DetailConfig()
    if cfg.guidance != 1.0 and not cfg.cond_dropout:
        raise ValueError(f"guidance {cfg.guidance} needs cond_dropout > 0: a flow never "
                         f"trained without the painting and comment can't weigh their part")
    out, stage1_dir = Path(out), Path(stage1_dir)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out)  # what a killed run was writing
    log = RunLog(out, callback)
    ds = ArtiCaps.open(dataset)
    torch.manual_seed(cfg.seed)
    model, s1cfg = _frozen_stage1(stage1_dir, ds)
    train, val = Stage1Data(ds, "train", False), Stage1Data(ds, "val", False)
    t0 = time.perf_counter()
    fused, rows, mels = _renditions(model, train)
    val_set = _renditions(model, val) if len(val) else None
    log("renditions", stage="detail", pairs=len(rows), seconds=round(time.perf_counter() - t0, 1))

    decoder = MelDecoder(decoder_with_detail(model.decoder, cfg))
    missing, unexpected = decoder.load_state_dict(model.decoder.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("detail.") for k in missing)
    flow = decoder.detail
    assert flow is not None
    device = pick_device(cfg.device)
    n_frames = mels.shape[2]
    crop = min(cfg.crop_frames, n_frames)
    sample = np.random.default_rng(cfg.seed).choice(len(rows), min(len(rows), 64), replace=False)
    resid = [np.asarray(ds.mels[rows[i]], np.float32) - mels[i].astype(np.float32)
             for i in sample]
    flow.scale.fill_(float(np.std(resid)))
    flow.to(device)
    opt = torch.optim.Adam(flow.parameters(), lr=cfg.lr)
    step = 0
    last = out / "last.pt"
    if last.exists():
        ckpt = load_checkpoint(last)
        if ckpt.get("kind") != CHECKPOINT_KIND:
            raise ValueError(f"{last} is not a detail-flow checkpoint: delete it or use "
                             f"another output folder")
        free = {"steps", "checkpoint_every", "log_every", "device", "guidance", "euler_steps"}
        refuse_other_settings(f"{last} was trained", ckpt["config"], cfg.to_dict(),
                              [k for k in cfg.to_dict() if k not in free],
                              "use another output folder or delete it")
        flow.load_state_dict({k: v.to(device) for k, v in ckpt["flow"].items()})
        opt.load_state_dict(ckpt["optimizer"])
        step = ckpt["step"]
        log("resumed", stage="detail", step=step)

    def checkpoint() -> None:
        save_checkpoint(last, {"kind": CHECKPOINT_KIND, "flow": flow.state_dict(),
                               "optimizer": opt.state_dict(), "step": step,
                               "config": cfg.to_dict()})

    flow.train()
    t_start, done_here = time.perf_counter(), 0
    while step < cfg.steps:
        if stop is not None and stop.is_set():
            checkpoint()
            log("stopped", stage="detail", step=step)
            return out / "best.pt"
        gen = torch.Generator().manual_seed(cfg.seed * 100_003 + step)
        idx = torch.randint(0, len(rows), (cfg.batch_size,), generator=gen).numpy()
        starts = torch.randint(0, n_frames - crop + 1, (cfg.batch_size,), generator=gen).numpy()
        f, mel, target = (x.to(device) for x in _batch(ds, fused, rows, mels, idx, starts,
                                                         crop))
        loss = flow.loss(mel, f, target, gen, cfg.cond_dropout)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(flow.parameters(), 1.0)
        opt.step()
        step += 1
        done_here += 1
        if step % cfg.log_every == 0 or step == 1:
            rate = done_here / (time.perf_counter() - t_start)
            log("step", stage="detail", step=step, total_steps=cfg.steps,
                loss=round(loss.item(), 5), eta_s=round((cfg.steps - step) / rate, 1))
        if step % cfg.checkpoint_every == 0:
            checkpoint()
    checkpoint()
    flow.cpu().eval()
    val_loss = _validation_loss(flow, ds, val_set, crop) if val_set else math.nan
    model.decoder = decoder
    # the stage-1 figures stay stage 1's; the flow's own loss goes beside them
    s1_best = stage1_dir / "best.pt"
    s1_val = load_checkpoint(s1_best)["val_loss"] if s1_best.is_file() else math.nan
    save_best(out / "best.pt", model, ds, s1cfg, s1cfg.epochs - 1, s1_val,
              extra={"detail_val_loss": val_loss, "detail_config": cfg.to_dict()})
    log("done", stage="detail", step=step, val_flow_loss=round(val_loss, 5),
        best_checkpoint=str(out / "best.pt"))
    return out / "best.pt"


@torch.no_grad()
def _validation_loss(flow: torch.nn.Module, ds: ArtiCaps,
                     val_set: tuple[np.ndarray, np.ndarray, np.ndarray], crop: int) -> float:
    """The flow-matching loss on the validation pairs, with fixed noise and crops."""
    fused, rows, mels = val_set
    gen = torch.Generator().manual_seed(12345)
    total, n = 0.0, 0
    for start in range(0, len(rows), 16):
        idx = np.arange(start, min(start + 16, len(rows)))
        starts = torch.randint(0, mels.shape[2] - crop + 1, (len(idx),), generator=gen).numpy()
        f, mel, target = _batch(ds, fused, rows, mels, idx, starts, crop)
        total += flow.loss(mel, f, target, gen).item() * len(idx)
        n += len(idx)
    return total / n


def decoder_with_detail(decoder: MelDecoder, cfg: DetailConfig) -> DecoderConfig:
    """The config of ``decoder`` with this flow added."""
    return dataclasses.replace(decoder.cfg, detail_channels=cfg.channels,
                               detail_blocks=cfg.blocks, detail_steps=cfg.euler_steps,
                               detail_guidance=cfg.guidance)
