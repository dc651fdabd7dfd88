"""HiFi-GAN's multi-period and multi-scale discriminators, with the official parameter names.

Only stage-2 training uses them; they live beside the generator so that an official
``do_XXXXXXXX`` checkpoint (``mpd``/``msd`` state dicts) loads into the same module tree.
"""
from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from .hifigan import LRELU_SLOPE, get_padding

FeatureMaps = list[torch.Tensor]


def _norm(module: nn.Module, spectral: bool) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if spectral:
            return nn.utils.spectral_norm(module)
        return nn.utils.weight_norm(module)


class DiscriminatorP(nn.Module):
    """Looks at the wave folded into ``period`` columns (2-D convs over [T/p, p])."""

    def __init__(self, period: int, kernel_size: int = 5, stride: int = 3,
                 use_spectral_norm: bool = False) -> None:
        super().__init__()
        self.period = period
        pad = (get_padding(kernel_size, 1), 0)
        chans = [1, 32, 128, 512, 1024]
        self.convs = nn.ModuleList(
            _norm(nn.Conv2d(cin, cout, (kernel_size, 1), (stride, 1), padding=pad),
                  use_spectral_norm)
            for cin, cout in zip(chans[:-1], chans[1:])
        )
        self.convs.append(
            _norm(nn.Conv2d(1024, 1024, (kernel_size, 1), 1, padding=(2, 0)), use_spectral_norm)
        )
        self.conv_post = _norm(nn.Conv2d(1024, 1, (3, 1), 1, padding=(1, 0)), use_spectral_norm)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, FeatureMaps]:
        # x [B, 1, N] -> score [B, *], feature maps
        b, c, t = x.shape
        if t % self.period:
            n_pad = self.period - t % self.period
            x = F.pad(x, (0, n_pad), "reflect")
            t = t + n_pad
        x = x.view(b, c, t // self.period, self.period)
        fmap = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        return torch.flatten(x, 1, -1), fmap


class DiscriminatorS(nn.Module):
    """Looks at the raw wave (or an average-pooled version of it) with grouped 1-D convs."""

    def __init__(self, use_spectral_norm: bool = False) -> None:
        super().__init__()
        spec = [  # (in, out, kernel, stride, groups, padding)
            (1, 128, 15, 1, 1, 7),
            (128, 128, 41, 2, 4, 20),
            (128, 256, 41, 2, 16, 20),
            (256, 512, 41, 4, 16, 20),
            (512, 1024, 41, 4, 16, 20),
            (1024, 1024, 41, 1, 16, 20),
            (1024, 1024, 5, 1, 1, 2),
        ]
        self.convs = nn.ModuleList(
            _norm(nn.Conv1d(i, o, k, s, groups=g, padding=p), use_spectral_norm)
            for i, o, k, s, g, p in spec
        )
        self.conv_post = _norm(nn.Conv1d(1024, 1, 3, 1, padding=1), use_spectral_norm)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, FeatureMaps]:
        fmap = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        return torch.flatten(x, 1, -1), fmap


DiscOut = tuple[list[torch.Tensor], list[torch.Tensor], list[FeatureMaps], list[FeatureMaps]]


class MultiPeriodDiscriminator(nn.Module):
    def __init__(self, periods: tuple[int, ...] = (2, 3, 5, 7, 11)) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(DiscriminatorP(p) for p in periods)

    def forward(self, y: torch.Tensor, y_hat: torch.Tensor) -> DiscOut:
        """Scores and feature maps for real ``y`` and generated ``y_hat`` (both [B, 1, N])."""
        return _score((d, y, y_hat) for d in self.discriminators)


class MultiScaleDiscriminator(nn.Module):
    def __init__(self, scales: int = 3) -> None:
        super().__init__()
        # The first scale (raw wave) uses spectral norm, the pooled ones weight norm (official).
        self.discriminators = nn.ModuleList(
            DiscriminatorS(use_spectral_norm=(i == 0)) for i in range(scales)
        )
        self.meanpools = nn.ModuleList(nn.AvgPool1d(4, 2, padding=2) for _ in range(scales - 1))

    def forward(self, y: torch.Tensor, y_hat: torch.Tensor) -> DiscOut:
        def scales():
            yy, yh = y, y_hat
            for i, d in enumerate(self.discriminators):
                if i:  # each further scale sees the previous one average-pooled by 2
                    yy, yh = self.meanpools[i - 1](yy), self.meanpools[i - 1](yh)
                yield d, yy, yh

        return _score(scales())


def _score(jobs) -> DiscOut:
    """Run each (discriminator, real, fake) and gather scores and feature maps by kind."""
    real, fake, fmap_r, fmap_g = [], [], [], []
    for d, y, y_hat in jobs:
        r, fr = d(y)
        g, fg = d(y_hat)
        real.append(r)
        fake.append(g)
        fmap_r.append(fr)
        fmap_g.append(fg)
    return real, fake, fmap_r, fmap_g
