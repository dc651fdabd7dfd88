"""Loss functions: the stage-1 frequency-weighted L1 (paper eq. 2) and HiFi-GAN's LSGAN losses.

Small pure functions, as in the official HiFi-GAN, so tests can check them by hand.
"""
from __future__ import annotations

import torch


def frequency_weights(n_mels: int, device: torch.device | str | None = None) -> torch.Tensor:
    """``w_f = 1 + 0.5 * (f - 1) / (F - 1)`` for f = 1..F: 1.0 at the lowest bin, 1.5 at the top."""
    if n_mels < 2:
        return torch.ones(n_mels, device=device)
    return 1.0 + 0.5 * torch.arange(n_mels, device=device, dtype=torch.float32) / (n_mels - 1)


def frequency_weighted_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Paper eq. 2 on mels ``[B, T, F]``: mean over B, T and F of ``w_f * |pred - target|``."""
    if pred.shape != target.shape:
        raise ValueError(f"pred {list(pred.shape)} and target {list(target.shape)} differ")
    w = frequency_weights(pred.shape[-1], pred.device).to(pred.dtype)  # [F]
    return ((pred - target).abs() * w).mean()


def temporal_difference_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Frequency-weighted L1 between frame-to-frame changes of mels ``[B, T, F]``.

    A plain L1 on values is minimised by the time-average of the possible renditions: a
    smooth, static mel (a drone). Matching the changes too is meant to reward onsets and
    movement (``Stage1Config.delta_weight``; the paper's loss is eq. 2 alone, weight 0).
    """
    return frequency_weighted_l1(pred.diff(dim=1), target.diff(dim=1))


def movement_statistics_l1(pred: torch.Tensor, target: torch.Tensor,
                           scales: tuple[int, ...] = (1, 4, 16, 64)) -> torch.Tensor:
    """How each band moves, matched in distribution rather than frame by frame.

    Mels ``[B, T, F]``. At each time scale ``s`` (frames averaged in blocks of ``s``: notes at
    1-4 frames, phrases at 16, bars and chord changes at 64 = 0.74 s), two distributions per
    band are compared with the target's: the block values over time and the |changes|
    between successive blocks, each as the 1-D Wasserstein distance (mean |difference| of the
    sorted values), frequency-weighted.

    Why: when the exact timing of notes can't be known from the painting and the comment, a
    frame-aligned L1 (and an aligned L1 on changes) is minimised by smearing them into a
    static average: a drone. Sorting drops the alignment, so the loss asks only that the
    music moves as much, as often and over the same range as real music does. Matching whole
    distributions, not just a spread, leaves no cheap way out (a std alone is met by a few
    loud frames at the end of a clip, which is what a first version of this loss taught).
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {list(pred.shape)} and target {list(target.shape)} differ")
    w = frequency_weights(pred.shape[-1], pred.device).to(pred.dtype)  # [F]

    def w1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:  # [B, n, F] -> [B, F]
        # time last and contiguous: sorting along it is the cheap direction
        a, b = a.transpose(1, 2).contiguous(), b.transpose(1, 2).contiguous()
        return (a.sort(dim=-1).values - b.sort(dim=-1).values).abs().mean(-1)

    loss = pred.new_zeros(())
    for s in scales:
        n = pred.shape[1] // s * s
        p = pred[:, :n].reshape(pred.shape[0], n // s, s, -1).mean(2)  # [B, T/s, F]
        t = target[:, :n].reshape(target.shape[0], n // s, s, -1).mean(2)
        dp, dt = p.diff(dim=1).abs(), t.diff(dim=1).abs()
        if s == 1:
            # Frame-level distributions from every 4th frame: sorting all 896 frames of
            # every band was most of a CPU training step. Levels are the same distribution
            # at 4 frames (the next scale), so only the changes are kept here.
            loss = loss + (w1(dp[:, ::4], dt[:, ::4]) * w).mean()
        else:
            loss = loss + ((w1(p, t) + w1(dp, dt)) * w).mean()
    return loss / len(scales)


def form_correlation_l1(pred: torch.Tensor, target: torch.Tensor, smooth: int = 43,
                        stride: int = 8, floor: float = 0.01) -> torch.Tensor:
    """How alike the clips of a batch are in their loud-quiet form, matched to the targets'.

    Mels ``[B, T, F]``. Each clip's loudness envelope (band mean per frame, averaged over
    ``smooth`` frames = 0.5 s, every ``stride`` frames) is correlated with every other
    clip's; the loss is the mean |difference| between the off-diagonal correlations of the
    predictions and those of the targets (two windows of one piece may share a form, two
    unrelated ones seldom do). ``floor`` is an envelope std (in normalised mel units; the
    starter's real windows: median 0.03, 5th percentile 0.01) below which an envelope counts
    as flat: it softens the normalisation, so a nearly flat envelope correlates ~0 with
    everything instead of amplifying its noise. Without it the gradient of a flat start
    exploded and a first run collapsed to one drone for every input (val L1 0.31 vs 0.21).

    Why: ``movement_statistics_l1`` ignores alignment, and a decoder met it by drawing one
    loud-quiet form from its positional embedding for every input (clips correlated 0.89,
    held-out real windows 0.07). Asking the batch to differ as the real windows differ
    leaves the form to what differs between samples: the latent and the inputs.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {list(pred.shape)} and target {list(target.shape)} differ")
    b = pred.shape[0]
    if b < 2:
        return pred.new_zeros(())

    def correlations(m: torch.Tensor) -> torch.Tensor:  # [B, T, F] -> [B, B]
        env = torch.nn.functional.avg_pool1d(m.mean(-1)[:, None], smooth, stride)[:, 0]
        env = env - env.mean(1, keepdim=True)
        env = env / (env.square().sum(1, keepdim=True) + env.shape[1] * floor**2).sqrt()
        return env @ env.T

    off = ~torch.eye(b, dtype=torch.bool, device=pred.device)
    return (correlations(pred) - correlations(target)).abs()[off].mean()


def feature_loss(
    fmap_r: list[list[torch.Tensor]], fmap_g: list[list[torch.Tensor]]
) -> torch.Tensor:
    """Feature matching: 2 * sum over discriminators and layers of mean |real - fake|."""
    loss = torch.zeros(())
    for dr, dg in zip(fmap_r, fmap_g):
        for rl, gl in zip(dr, dg):
            loss = loss + torch.mean(torch.abs(rl.detach() - gl))
    return loss * 2


def discriminator_loss(
    real: list[torch.Tensor], fake: list[torch.Tensor]
) -> tuple[torch.Tensor, list[float], list[float]]:
    """LSGAN discriminator loss: sum of mean (1 - D(real))^2 + mean D(fake)^2."""
    loss = torch.zeros(())
    r_losses, g_losses = [], []
    for dr, dg in zip(real, fake):
        r_loss = torch.mean((1 - dr) ** 2)
        g_loss = torch.mean(dg**2)
        loss = loss + r_loss + g_loss
        r_losses.append(r_loss.item())
        g_losses.append(g_loss.item())
    return loss, r_losses, g_losses


def generator_loss(fake: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """LSGAN generator loss: sum of mean (1 - D(fake))^2."""
    loss = torch.zeros(())
    parts = []
    for dg in fake:
        part = torch.mean((1 - dg) ** 2)
        parts.append(part)
        loss = loss + part
    return loss, parts
