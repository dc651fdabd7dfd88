"""Detail flow: samples the note-scale detail that the L1-fitted decoder averages away.

Why: the BiLSTM decoder is fitted with an L1 loss, so wherever a rendition's timing is not
certain it emits the stretch's average texture. Even given a training window's own latent its
mels move at a third of the real flux (0.31-0.37 against 1.1), and a lively comment comes out
loud and smeared rather than busy (benchmarks/README.md). No loss on one aligned
target fixes that: the average *is* the L1 optimum.

So a small conditional flow (rectified flow / flow matching: Liu et al. 2022, Lipman et al.
2023) learns the *distribution* of what the decoder misses: the residual between a real mel
and the decoder's rendition of it, given that rendition and the fused feeling vector.
Generation draws seeded noise and integrates the learned velocity from noise (t=0) to a
residual (t=1) in a few Euler steps, then adds it to the decoder's mel. The sampled detail is
the model's own: it is conditioned on the clip and the feeling, not added noise.

The network is a stack of dilated 1-D convolutions over time (mel bands as channels), each
block modulated by the fused vector and the flow time (FiLM), so one clip's detail is drawn
jointly over the whole clip (no seams) and costs a few convolutions per Euler step.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

TIME_FEATURES = 16  # sinusoid pairs encoding the flow time t


class DetailFlow(nn.Module):
    def __init__(self, n_mels: int, cond_dim: int, channels: int, blocks: int,
                 kernel: int = 5) -> None:
        super().__init__()
        self.blocks = blocks
        self.inp = nn.Conv1d(2 * n_mels, channels, 1)  # current sample + decoder's mel
        self.film = nn.Sequential(nn.Linear(cond_dim + 2 * TIME_FEATURES, channels), nn.SiLU(),
                                  nn.Linear(channels, 2 * channels * blocks))
        # dilations 1, 2, 4, 8 repeated: ~0.7 s of context each side after 8 blocks
        self.convs = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, dilation=2 ** (i % 4),
                      padding=(kernel - 1) // 2 * 2 ** (i % 4)) for i in range(blocks))
        self.mixes = nn.ModuleList(nn.Conv1d(channels, channels, 1) for _ in range(blocks))
        self.norms = nn.ModuleList(nn.GroupNorm(1, channels, affine=False)
                                   for _ in range(blocks))
        self.out = nn.Conv1d(channels, n_mels, 1)
        nn.init.zeros_(self.out.weight)  # starts as "no velocity": training begins calm
        nn.init.zeros_(self.out.bias)
        # the residuals' spread (normalised-mel units), set by training: the flow works on
        # unit-variance residuals whatever the data's scale
        self.register_buffer("scale", torch.ones(()))

    def velocity(self, x: torch.Tensor, mel: torch.Tensor, cond: torch.Tensor,
                 t: torch.Tensor) -> torch.Tensor:
        """x, mel ``[B, n_mels, T]``, cond ``[B, cond_dim]``, t ``[B]`` -> ``[B, n_mels, T]``."""
        freqs = torch.exp(torch.arange(TIME_FEATURES, device=t.device, dtype=t.dtype)
                          * (-math.log(1000.0) / TIME_FEATURES)) * 1000.0
        angle = t[:, None] * freqs
        film = self.film(torch.cat([cond, angle.sin(), angle.cos()], 1))
        film = film.reshape(len(x), self.blocks, 2, -1, 1)  # [B, blocks, 2, C, 1]
        h = self.inp(torch.cat([x, mel], 1))
        for i in range(self.blocks):
            y = self.norms[i](h) * (1 + film[:, i, 0]) + film[:, i, 1]
            h = h + self.mixes[i](F.gelu(self.convs[i](y)))
        return self.out(F.gelu(h))

    def loss(self, mel: torch.Tensor, cond: torch.Tensor, target: torch.Tensor,
             generator: torch.Generator | None = None, cond_dropout: float = 0.0
             ) -> torch.Tensor:
        """Flow-matching loss: mel, target ``[B, n_mels, T]`` (decoder's rendition, real).
        ``cond_dropout``: share of samples trained without the fused vector (zeros), so
        generation can weigh the feeling's part of the velocity (``guidance``)."""
        x1 = (target - mel) / self.scale
        x0 = torch.randn(x1.shape, generator=generator).to(x1)
        t = torch.rand(len(x1), generator=generator).to(x1)
        if cond_dropout:
            drop = torch.rand(len(x1), generator=generator).to(x1.device) < cond_dropout
            cond = torch.where(drop[:, None], torch.zeros_like(cond), cond)
        xt = (1 - t[:, None, None]) * x0 + t[:, None, None] * x1
        return (self.velocity(xt, mel, cond, t) - (x1 - x0)).pow(2).mean()

    def sample(self, mel: torch.Tensor, cond: torch.Tensor,
               generators: Sequence[torch.Generator] | None, steps: int,
               guidance: float = 1.0) -> torch.Tensor:
        """A residual ``[B, n_mels, T]`` for the decoder's mel; seeded noise per clip (no
        generators: zero noise, the flow's deterministic answer).

        ``guidance`` w != 1 is classifier-free guidance (Ho & Salimans 2022; MusicGen uses
        3): the velocity without the fused vector plus w times what the fused vector adds,
        for a flow trained with ``cond_dropout``."""
        if generators is None:
            x = torch.zeros_like(mel)
        else:
            x = torch.stack([torch.randn(mel.shape[1:], generator=g) for g in generators]
                            ).to(mel)
        b = len(mel)
        if guidance != 1.0:  # both velocities in one batch
            mel, cond = torch.cat([mel, mel]), torch.cat([cond, torch.zeros_like(cond)])
        for k in range(steps):
            t = torch.full((len(mel),), k / steps, device=mel.device, dtype=mel.dtype)
            if guidance == 1.0:
                v = self.velocity(x, mel, cond, t)
            else:
                v_cond, v_free = self.velocity(torch.cat([x, x]), mel, cond, t).split(b)
                v = v_free + guidance * (v_cond - v_free)
            x = x + v / steps
        return x * self.scale
