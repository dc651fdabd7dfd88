"""BiLSTM mel decoder (paper, ref): one fused vector -> a normalised mel ``[B, T, n_mels]``.

Parameter names follow the authors' reference module (``feat_proj``, ``pos_emb``, ``lstm``,
``out_proj``) so their ``best_model_epoch.pt`` loads unchanged. Three options, all off in the
paper's weights (and in bundles without the fields):

- ``frames_per_step`` > 1: one LSTM step emits several consecutive frames (``out_proj``
  gives ``frames_per_step * n_mels`` numbers, unfolded in time), so a CPU-sized LSTM runs 8x
  fewer steps; 896 steps from one repeated vector teach a small LSTM the average spectrum.
- ``latent_dim`` > 0: a "performance" latent ``z`` (how this rendition goes: which chord
  when, where the notes fall) beside the fused vector, because a regression from (painting,
  comment) to a mel learns the average of all music that fits. Stage 1 learns one ``z`` per
  training window and a prior ``latent_prior(fused)``, trained half the time in ``z``'s
  place; generation draws ``z = latent_prior(fused) + latent_std * noise`` (``latent_std``:
  the learned latents' spread around their prior, stored with the weights), so a seed picks
  a rendition that still follows the painting and the comment.
- ``latent_segments`` > 1: the latent split in time, ``latent_dim / latent_segments``
  numbers per equal stretch of the clip, each projected and held over its stretch of LSTM
  steps, so the decoder need not infer every chord's place from one vector. The prior, the
  spread and the sampling see the flat ``[B, latent_dim]`` vector.

``detail_channels`` > 0 adds a detail flow (``detail.py``) that samples, on top of the
decoder's mel, the note-scale detail an L1 fit averages away; :meth:`MelDecoder.render` is
the mel generation plays. What each option measured is in ``benchmarks/README.md``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from .detail import DetailFlow


@dataclass(frozen=True)
class DecoderConfig:
    input_dim: int = 512  # fused vector size (= projector hidden)
    hidden: int = 512  # LSTM hidden size per direction (paper)
    layers: int = 4  # stacked bidirectional LSTM layers (paper)
    n_frames: int = 896  # T, must equal the mel config's n_frames
    n_mels: int = 80  # output bands, must equal the mel config's n_mels
    frames_per_step: int = 1  # mel frames emitted per LSTM step (paper: 1); divides n_frames
    latent_dim: int = 0  # size of the seeded "performance" latent (paper: none)
    latent_segments: int = 1  # stretches of time the latent is split into (1: one per clip)
    detail_channels: int = 0  # width of the detail flow (0: none; detail.py)
    detail_blocks: int = 8  # its dilated convolution blocks
    detail_steps: int = 8  # Euler steps when generation samples it
    detail_guidance: float = 1.0  # classifier-free guidance of its feeling (1: none)

    def __post_init__(self) -> None:
        if self.frames_per_step < 1 or self.n_frames % self.frames_per_step:
            raise ValueError(f"frames_per_step {self.frames_per_step} must divide n_frames "
                             f"{self.n_frames}")
        if self.latent_segments < 1 or (self.latent_dim and (
                self.latent_dim % self.latent_segments or self.steps % self.latent_segments)):
            raise ValueError(f"latent_segments {self.latent_segments} must divide latent_dim "
                             f"{self.latent_dim} and the {self.steps} LSTM steps")

    @property
    def steps(self) -> int:
        """LSTM steps per clip."""
        return self.n_frames // self.frames_per_step

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class MelDecoder(nn.Module):
    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.feat_proj = nn.Linear(cfg.input_dim, cfg.hidden)
        self.pos_emb = nn.Parameter(torch.randn(1, cfg.steps, cfg.hidden) * 0.02)
        self.lstm = nn.LSTM(
            cfg.hidden, cfg.hidden, num_layers=cfg.layers, batch_first=True, bidirectional=True
        )
        self.out_proj = nn.Linear(2 * cfg.hidden, cfg.frames_per_step * cfg.n_mels)
        if cfg.latent_dim:
            self.latent_proj = nn.Linear(cfg.latent_dim // cfg.latent_segments, cfg.hidden)
            self.latent_prior = nn.Linear(cfg.input_dim, cfg.latent_dim)
            # spread of the learned latents around the prior, set by stage 1
            self.register_buffer("latent_std", torch.ones(cfg.latent_dim))
        self.detail = DetailFlow(cfg.n_mels, cfg.input_dim, cfg.detail_channels,
                                 cfg.detail_blocks) if cfg.detail_channels else None

    def sample_latents(self, fused: torch.Tensor, generators: list[torch.Generator],
                       temperature: float = 1.0) -> torch.Tensor:
        """``[B, latent_dim]``: the prior of each fused vector plus seeded noise, scaled by
        the learned latents' spread times ``temperature``."""
        noise = torch.stack([torch.randn(self.cfg.latent_dim, generator=g) for g in generators])
        return self.latent_prior(fused) + temperature * self.latent_std * noise.to(
            fused.device, fused.dtype)

    def render(self, fused: torch.Tensor, latent: torch.Tensor | None = None,
               generators: list[torch.Generator] | None = None) -> torch.Tensor:
        """The mel generation plays, ``[B, T, n_mels]``: the decoder's rendition plus, with a
        detail flow, detail sampled from ``generators`` (None: its zero-noise answer)."""
        mel = self(fused, latent)
        if self.detail is None:
            return mel
        m = mel.transpose(1, 2)
        return (m + self.detail.sample(m, fused, generators, self.cfg.detail_steps,
                                       self.cfg.detail_guidance)).transpose(1, 2)

    def forward(self, fused: torch.Tensor, latent: torch.Tensor | None = None) -> torch.Tensor:
        # fused [B, input_dim], latent [B, latent_dim] or None (the prior: the average
        # rendition) -> mel [B, T, n_mels]
        cfg = self.cfg
        x = self.feat_proj(fused).unsqueeze(1)  # [B, 1, H]
        if cfg.latent_dim:
            if latent is None:
                latent = self.latent_prior(fused)
            z = latent.reshape(len(latent), cfg.latent_segments, -1)  # [B, K, latent_dim / K]
            # each segment's projection held over its S / K steps: [B, K, H] -> [B, S, H]
            x = x + self.latent_proj(z).repeat_interleave(cfg.steps // cfg.latent_segments, 1)
        x = x.expand(-1, cfg.steps, -1) + self.pos_emb  # [B, S, H], S = T / frames_per_step
        x, _ = self.lstm(x)  # [B, S, 2H]
        x = self.out_proj(x)  # [B, S, frames_per_step * n_mels]
        return x.reshape(x.shape[0], cfg.n_frames, cfg.n_mels)  # [B, T, n_mels]
