"""Gated residual projector (paper eq. 1): CLIP text + image features -> one fused vector.

Parameter names follow the authors' reference module (``linear.0``, ``linear.2``, ``gate.0``,
``residual``) so their checkpoints load unchanged.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import nn


@dataclass(frozen=True)
class ProjectorConfig:
    text_dim: int = 1024  # CLIP text embedding size (ViT-H-14: 1024)
    image_dim: int = 1024  # CLIP image embedding size
    hidden: int = 512  # fused size (paper)
    # "ref": gate = sigmoid(W out), as the authors' code does (default).
    # "paper": gate = sigmoid(W [out; res]), as the paper's equation writes it.
    gate_input: Literal["ref", "paper"] = "ref"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class GatedResidualProjector(nn.Module):
    """``fused = g * out + (1 - g) * res`` with ``out = MLP([t; i])``, ``res = W_r t``."""

    def __init__(self, cfg: ProjectorConfig) -> None:
        super().__init__()
        if cfg.gate_input not in ("ref", "paper"):
            raise ValueError(f"gate_input must be 'ref' or 'paper', got {cfg.gate_input!r}")
        self.cfg = cfg
        self.linear = nn.Sequential(
            nn.Linear(cfg.text_dim + cfg.image_dim, cfg.hidden),
            nn.ReLU(),
            nn.Linear(cfg.hidden, cfg.hidden),
        )
        gate_in = cfg.hidden if cfg.gate_input == "ref" else 2 * cfg.hidden
        self.gate = nn.Sequential(nn.Linear(gate_in, cfg.hidden), nn.Sigmoid())
        self.residual = nn.Linear(cfg.text_dim, cfg.hidden)

    def forward(self, text: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        # text [B, text_dim], image [B, image_dim] -> fused [B, hidden]
        out = self.linear(torch.cat([text, image], dim=-1))
        res = self.residual(text)
        gate_x = out if self.cfg.gate_input == "ref" else torch.cat([out, res], dim=-1)
        g = self.gate(gate_x)
        return g * out + (1.0 - g) * res
