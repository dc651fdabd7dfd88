"""BiLSTM mel decoder (paper, ref): one fused vector -> a normalised mel ``[B, T, n_mels]``.

Parameter names follow the authors' reference module (``feat_proj``, ``pos_emb``, ``lstm``,
``out_proj``) so their ``best_model_epoch.pt`` loads unchanged.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class DecoderConfig:
    input_dim: int = 512  # fused vector size (= projector hidden)
    hidden: int = 512  # LSTM hidden size per direction (paper)
    layers: int = 4  # stacked bidirectional LSTM layers (paper)
    n_frames: int = 896  # T, must equal the mel config's n_frames
    n_mels: int = 80  # output bands, must equal the mel config's n_mels

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class MelDecoder(nn.Module):
    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.feat_proj = nn.Linear(cfg.input_dim, cfg.hidden)
        self.pos_emb = nn.Parameter(torch.randn(1, cfg.n_frames, cfg.hidden) * 0.02)
        self.lstm = nn.LSTM(
            cfg.hidden, cfg.hidden, num_layers=cfg.layers, batch_first=True, bidirectional=True
        )
        self.out_proj = nn.Linear(2 * cfg.hidden, cfg.n_mels)

    def forward(self, fused: torch.Tensor) -> torch.Tensor:
        # fused [B, input_dim] -> mel [B, T, n_mels]
        x = self.feat_proj(fused).unsqueeze(1)  # [B, 1, H]
        x = x.expand(-1, self.cfg.n_frames, -1) + self.pos_emb  # [B, T, H]
        x, _ = self.lstm(x)  # [B, T, 2H]
        return self.out_proj(x)  # [B, T, n_mels]
