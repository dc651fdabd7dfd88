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
