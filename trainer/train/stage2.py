"""Stage 2: fine-tune (or train from scratch) the HiFi-GAN vocoder on the dataset's clips.

Inputs per step: random ``segment``-sample windows of the real audio and the matching mel
frames, taken either from the real mel or, with probability ``predicted_share``, from the
stage-1 prediction for a pair matched to that clip (paper: fine-tuned on both, so the vocoder
learns to voice the decoder's blurrier mels). Losses as in HiFi-GAN: LSGAN for the MPD and
MSD, feature matching, and mel L1 x 45 (mel of the generated vs the real segment, full band).
AdamW (lr 2e-4, betas 0.8/0.99) with a 0.999 per-epoch decay; the reference fine-tune used
lr 4e-4 — set ``lr``.

Files in the run folder: ``g_XXXXXXXX`` (generator only, official layout + our config: what
export reads), ``last.pt`` (generator, discriminators, optimisers, schedulers, step: what a
resume reads), ``samples/`` (validation clips written every ``sample_every`` steps).
"""
from __future__ import annotations

import itertools
import math
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from a2m_core.audio import MelConfig, denormalize, log_mel_torch
from a2m_core.fileio import atomic_path
from a2m_core.mel import HiFiGANConfig, HiFiGANGenerator
from a2m_core.mel.discriminators import MultiPeriodDiscriminator, MultiScaleDiscriminator
from a2m_core.mel.losses import discriminator_loss, feature_loss, generator_loss
from a2m_core.reference import hifigan_config, load_torch_file

from ..data.dataset import ArtiCaps
from .common import Callback, RunLog, load_checkpoint, pick_device, save_checkpoint


@dataclass
class Stage2Config:
    hifigan: str = "v1"  # v1/v2/v3 or an official config JSON
    hifigan_overrides: dict | None = None  # e.g. a smaller upsample_initial_channel
    init_generator: str | None = None  # official g_ checkpoint to start from
    init_discriminator: str | None = None  # official do_ checkpoint (mpd, msd)
    stage1: str | None = None  # stage-1 best.pt: enables predicted mels
    predicted_share: float = 0.5  # share of steps on predicted mels (when stage1 given)
    segment: int = 8192  # samples per training window (ref)
    batch_size: int = 16  # ref
    lr: float = 2e-4  # ref V1 (fine-tune config: 4e-4)
    betas: tuple[float, float] = (0.8, 0.99)
    lr_decay: float = 0.999  # per epoch
    mel_loss_weight: float = 45.0
    steps_per_epoch: int = 500
    max_steps: int = 10_000
    checkpoint_every: int = 1000
    sample_every: int = 1000
    log_every: int = 10
    seed: int = 0
    device: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def generator_config(self, n_mels: int) -> HiFiGANConfig:
        base = hifigan_config(self.hifigan, n_mels)
        if self.hifigan_overrides:
            base = HiFiGANConfig.from_dict({**base.to_dict(), **self.hifigan_overrides})
        return base


def _loss_mel_config(cfg: MelConfig) -> MelConfig:
    # HiFi-GAN's mel loss looks at the full band (fmax_for_loss = None).
    return MelConfig.from_dict({**cfg.to_dict(), "fmax": cfg.sample_rate / 2})


class Stage2Data:
    """Real waves, real mels and (optionally) stage-1 mels of the clips of one split."""

    def __init__(self, ds: ArtiCaps, split: str, stage1: str | None) -> None:
        self.cfg = ds.mel_config
        pairs = ds.split(split)
        first_pair: dict[int, int] = {}
        for i in pairs:
            first_pair.setdefault(int(ds.pairs[i]["mel_row"]), i)
        self.rows = sorted(first_pair)
        self.waves = []
        for r in self.rows:
            w = ds.wave(first_pair[r])
            self.waves.append(np.pad(w, (0, max(0, self.cfg.n_samples - len(w)))))
        self.real = [denormalize(np.asarray(ds.mels[r], np.float32), self.cfg)
                     for r in self.rows]
        self.predicted = None
        if stage1:
            self.predicted = self._predict(ds, [first_pair[r] for r in self.rows], stage1)
        self.ytids = [ds.pairs[first_pair[r]]["ytid"] for r in self.rows]

    def _predict(self, ds: ArtiCaps, pairs: list[int], stage1: str) -> list[np.ndarray]:
        from .stage1 import load_stage1

        projector, decoder, _ = load_stage1(stage1)
        out = []
        with torch.no_grad():
            for i in pairs:
                t = torch.from_numpy(np.array(ds.text_emb[i]))[None]
                im = torch.from_numpy(np.array(
                    ds.image_emb[int(ds.pairs[i]["painting_index"])]))[None]
                mel = decoder(projector(t, im)).transpose(1, 2).clamp(-1, 1)[0].numpy()
                out.append(denormalize(mel, self.cfg))
        return out

    def __len__(self) -> int:
        return len(self.rows)

    def sample(self, batch: int, segment: int, predicted_share: float, gen: torch.Generator
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mel [B, n_mels, segment/hop], wave [B, 1, segment])``."""
        hop = self.cfg.hop_length
        frames = segment // hop
        mels, waves = [], []
        for _ in range(batch):
            k = int(torch.randint(len(self.rows), (1,), generator=gen))
            use_pred = self.predicted is not None and float(torch.rand(1, generator=gen)) < \
                predicted_share
            source = self.predicted[k] if use_pred else self.real[k]
            start = int(torch.randint(max(1, source.shape[1] - frames), (1,), generator=gen))
            mels.append(source[:, start : start + frames])
            waves.append(self.waves[k][start * hop : start * hop + segment])
        return (torch.from_numpy(np.stack(mels)).float(),
                torch.from_numpy(np.stack(waves)).float().unsqueeze(1))


def _init_from_official(gen: HiFiGANGenerator, mpd: MultiPeriodDiscriminator,
                        msd: MultiScaleDiscriminator, cfg: Stage2Config) -> None:
    if cfg.init_generator:
        state = load_torch_file(cfg.init_generator)
        gen.load_state_dict(state["generator"] if "generator" in state else state)
    if cfg.init_discriminator:
        state = load_torch_file(cfg.init_discriminator)
        mpd.load_state_dict(state["mpd"])
        msd.load_state_dict(state["msd"])


def train_stage2(
    dataset: str | Path,
    out: str | Path,
    cfg: Stage2Config | None = None,
    callback: Callback | None = None,
    stop: threading.Event | None = None,
) -> Path:
    """Train (or resume) the vocoder; returns the newest ``g_XXXXXXXX`` path."""
    cfg = cfg or Stage2Config()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    device = pick_device(cfg.device)
    log = RunLog(out, callback)
    ds = ArtiCaps.open(dataset)
    mel_cfg = ds.mel_config
    loss_cfg = _loss_mel_config(mel_cfg)
    train, val = Stage2Data(ds, "train", cfg.stage1), Stage2Data(ds, "val", None)
    if len(train) == 0:
        raise ValueError(f"{ds.root} has no training clips")
    if cfg.segment % mel_cfg.hop_length:
        raise ValueError(f"segment {cfg.segment} must be a multiple of the hop "
                         f"{mel_cfg.hop_length}")
    hcfg = cfg.generator_config(mel_cfg.n_mels)
    if hcfg.hop_length != mel_cfg.hop_length:
        raise ValueError(f"HiFi-GAN upsamples x{hcfg.hop_length}, the mels hop "
                         f"{mel_cfg.hop_length}")

    torch.manual_seed(cfg.seed)
    generator = HiFiGANGenerator(hcfg).to(device)
    mpd, msd = MultiPeriodDiscriminator().to(device), MultiScaleDiscriminator().to(device)
    _init_from_official(generator, mpd, msd, cfg)
    opt_g = torch.optim.AdamW(generator.parameters(), cfg.lr, betas=cfg.betas)
    opt_d = torch.optim.AdamW(itertools.chain(mpd.parameters(), msd.parameters()), cfg.lr,
                              betas=cfg.betas)
    sched_g = torch.optim.lr_scheduler.ExponentialLR(opt_g, gamma=cfg.lr_decay)
    sched_d = torch.optim.lr_scheduler.ExponentialLR(opt_d, gamma=cfg.lr_decay)
    step, best = 0, math.inf
    last = out / "last.pt"
    if last.exists():
        ckpt = load_checkpoint(last)
        if not {"hifigan_config", "generator", "mpd", "msd", "optim_g"} <= ckpt.keys():
            raise ValueError(f"{last} is not a stage-2 resume checkpoint: delete it or use "
                             "another output folder")
        if ckpt["hifigan_config"] != hcfg.to_dict():
            raise ValueError(f"{last} was trained with another HiFi-GAN config")
        generator.load_state_dict(ckpt["generator"])
        mpd.load_state_dict(ckpt["mpd"])
        msd.load_state_dict(ckpt["msd"])
        opt_g.load_state_dict(ckpt["optim_g"])
        opt_d.load_state_dict(ckpt["optim_d"])
        sched_g.load_state_dict(ckpt["sched_g"])
        sched_d.load_state_dict(ckpt["sched_d"])
        step, best = ckpt["step"], ckpt["best_val"]
        log("resumed", stage="stage2", step=step)

    def save(kind: str) -> Path:
        g_path = out / f"g_{step:08d}"
        save_checkpoint(g_path, {"generator": generator.state_dict(),
                                 "config": hcfg.to_dict(), "step": step})
        save_checkpoint(last, {
            "generator": generator.state_dict(), "mpd": mpd.state_dict(),
            "msd": msd.state_dict(), "optim_g": opt_g.state_dict(),
            "optim_d": opt_d.state_dict(), "sched_g": sched_g.state_dict(),
            "sched_d": sched_d.state_dict(), "step": step, "best_val": best,
            "hifigan_config": hcfg.to_dict(), "stage2_config": cfg.to_dict()})
        log("checkpoint", stage="stage2", step=step, generator=str(g_path), reason=kind)
        return g_path

    t_start, steps_run = time.perf_counter(), 0
    g_path = out / f"g_{step:08d}"
    while step < cfg.max_steps:
        if stop is not None and stop.is_set():
            g_path = save("stopped")
            log("stopped", stage="stage2", step=step)
            return g_path
        # Each step draws from its own generator, so a resumed run sees the same batches.
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        mel, wave = train.sample(cfg.batch_size, cfg.segment, cfg.predicted_share, gen)
        mel, wave = mel.to(device), wave.to(device)
        fake = generator(mel)
        fake_mel = log_mel_torch(fake.squeeze(1), loss_cfg)
        real_mel = log_mel_torch(wave.squeeze(1), loss_cfg)

        opt_d.zero_grad(set_to_none=True)
        r, g, _, _ = mpd(wave, fake.detach())
        loss_mpd, _, _ = discriminator_loss(r, g)
        r, g, _, _ = msd(wave, fake.detach())
        loss_msd, _, _ = discriminator_loss(r, g)
        (loss_mpd + loss_msd).backward()
        opt_d.step()

        opt_g.zero_grad(set_to_none=True)
        loss_mel = F.l1_loss(fake_mel, real_mel) * cfg.mel_loss_weight
        _, g_p, fr_p, fg_p = mpd(wave, fake)
        _, g_s, fr_s, fg_s = msd(wave, fake)
        loss_fm = feature_loss(fr_p, fg_p) + feature_loss(fr_s, fg_s)
        loss_adv = generator_loss(g_p)[0] + generator_loss(g_s)[0]
        loss_g = loss_adv + loss_fm + loss_mel
        loss_g.backward()
        opt_g.step()
        step += 1
        steps_run += 1
        if step % cfg.steps_per_epoch == 0:
            sched_g.step()
            sched_d.step()
        if step % cfg.log_every == 0 or step == 1:
            rate = steps_run / (time.perf_counter() - t_start)
            log("step", stage="stage2", step=step, total_steps=cfg.max_steps,
                loss_g=round(loss_g.item(), 5), loss_d=round((loss_mpd + loss_msd).item(), 5),
                mel_l1=round(loss_mel.item() / cfg.mel_loss_weight, 5),
                samples_per_s=round(rate * cfg.batch_size, 2),
                eta_s=round((cfg.max_steps - step) / rate, 1))
        if step % cfg.sample_every == 0 or step == cfg.max_steps:
            val_err = validate(generator, val if len(val) else train, mel_cfg, loss_cfg,
                               out / "samples", step, device)
            improved = val_err < best
            best = min(best, val_err)
            log("val", stage="stage2", step=step, val_mel_l1=round(val_err, 5),
                improved=improved)
        if step % cfg.checkpoint_every == 0 or step == cfg.max_steps:
            g_path = save("interval")
    log("done", stage="stage2", step=step, generator=str(g_path))
    return g_path


@torch.no_grad()
def validate(generator: HiFiGANGenerator, data: Stage2Data, mel_cfg: MelConfig,
             loss_cfg: MelConfig, folder: Path, step: int, device: torch.device) -> float:
    """Mean L1 between the real full-band log-mel and that of the vocoded clip; writes the
    first clip as a WAV sample."""
    import soundfile as sf

    generator.eval()
    errors = []
    for k in range(len(data)):
        mel = torch.from_numpy(data.real[k]).float()[None].to(device)
        audio = generator(mel).squeeze().cpu()
        real = torch.from_numpy(data.waves[k]).float()[: audio.shape[-1]]
        errors.append(F.l1_loss(log_mel_torch(audio, loss_cfg),
                                log_mel_torch(real, loss_cfg)).item())
        if k == 0:
            with atomic_path(folder / f"step{step:08d}_{data.ytids[k]}.wav", ".wav") as tmp:
                sf.write(str(tmp), audio.numpy(), mel_cfg.sample_rate, subtype="PCM_16")
    generator.train()
    return float(np.mean(errors))
