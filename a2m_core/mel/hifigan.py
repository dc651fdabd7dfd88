"""HiFi-GAN generator (Kong et al. 2020), V1/V2/V3, with the official parameter names.

The module tree mirrors jik876/hifi-gan's ``Generator`` (``conv_pre``, ``ups.{i}``,
``resblocks.{k}.convs1/convs2/convs``, ``conv_post``) and uses the classic ``weight_norm``
(``weight_g``/``weight_v``), so an official ``{'generator': state_dict}`` checkpoint loads with
``strict=True``. Inference calls :meth:`HiFiGANGenerator.remove_weight_norm`, after which the
names are the plain ``.weight``/``.bias`` that bundles store.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

LRELU_SLOPE = 0.1


def get_padding(kernel_size: int, dilation: int = 1) -> int:
    return (kernel_size * dilation - dilation) // 2


def _wn(module: nn.Module) -> nn.Module:
    # The classic hook-based weight_norm is what produces the official weight_g / weight_v
    # names; the parametrize version would rename them. Silence its deprecation notice.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nn.utils.weight_norm(module)


def _remove_wn(module: nn.Module) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nn.utils.remove_weight_norm(module)


@dataclass(frozen=True)
class HiFiGANConfig:
    """Generator architecture, named as in the official ``config_v*.json`` files."""

    resblock: str = "1"
    upsample_rates: tuple[int, ...] = (8, 8, 2, 2)
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 4, 4)
    upsample_initial_channel: int = 512
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = field(
        default=((1, 3, 5), (1, 3, 5), (1, 3, 5))
    )
    n_mels: int = 80  # input channels; must equal the mel config's n_mels

    @property
    def hop_length(self) -> int:
        """Samples produced per mel frame (product of the upsample rates)."""
        out = 1
        for r in self.upsample_rates:
            out *= r
        return out

    def _reaches(self) -> list[float]:
        """Each part's receptive-field radius in mel frames: conv_pre, then each upsampling
        stage (its upsampler and its widest residual block), conv_post last.

        Each layer adds its kernel's reach at its own resolution, divided by the samples per
        frame there: conv_pre 3 frames; each upsampler about half its kernel over its rate
        in input steps; each multi-receptive-field stage the widest of its parallel residual
        blocks (dilated convs in series); conv_post 3 samples."""
        reaches, per_frame = [3.0], 1  # conv_pre: kernel 7 at the frame rate
        for rate, kernel in zip(self.upsample_rates, self.upsample_kernel_sizes):
            reach = math.ceil(kernel / rate / 2) / per_frame
            per_frame *= rate
            widest = 0
            for k, dilations in zip(self.resblock_kernel_sizes, self.resblock_dilation_sizes):
                # ResBlock1: a dilated conv then an undilated one per dilation; ResBlock2:
                # the dilated conv alone
                undilated = len(dilations) if self.resblock == "1" else 0
                widest = max(widest, (k - 1) * (sum(dilations) + undilated) // 2)
            reaches.append(reach + widest / per_frame)
        reaches.append(3 / per_frame)  # conv_post: kernel 7 at the sample rate
        return reaches

    @property
    def context_frames(self) -> int:
        """Mel frames on each side that can change a frame's samples: the generator's
        receptive-field radius, rounded up. A chunk vocoded with this much context on each
        side gives the whole-clip samples (streaming.py). V1: 13.3 -> 14 frames (measured:
        13 frames of right context already equal the whole-clip samples bit for bit)."""
        return math.ceil(sum(self._reaches()))

    @property
    def split_context_frames(self) -> tuple[int, int]:
        """``(front, back)``: the reach in mel frames of the generator's two parts
        (``HiFiGANGenerator.front`` and ``back``, split after the first upsampling stage).
        V1: 11.5 -> 12 and 1.8 -> 2. Streaming gives the back part, which does ~85 % of the
        work, only its own 2 frames of context a side instead of all 14 (streaming.py)."""
        reaches = self._reaches()
        return math.ceil(sum(reaches[:2])), math.ceil(sum(reaches[2:]))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HiFiGANConfig:
        d = dict(data)
        for key in ("upsample_rates", "upsample_kernel_sizes", "resblock_kernel_sizes"):
            if key in d:
                d[key] = tuple(d[key])
        if "resblock_dilation_sizes" in d:
            d["resblock_dilation_sizes"] = tuple(tuple(x) for x in d["resblock_dilation_sizes"])
        known = set(cls.__dataclass_fields__)
        # Official config files also hold training and mel keys; keep only the architecture.
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def preset(cls, name: str, n_mels: int = 80) -> HiFiGANConfig:
        """The official V1, V2 and V3 generator configurations."""
        presets = {
            "v1": cls(n_mels=n_mels),
            "v2": cls(upsample_initial_channel=128, n_mels=n_mels),
            "v3": cls(
                resblock="2",
                upsample_rates=(8, 8, 4),
                upsample_kernel_sizes=(16, 16, 8),
                upsample_initial_channel=256,
                resblock_kernel_sizes=(3, 5, 7),
                resblock_dilation_sizes=((1, 2), (2, 6), (3, 12)),
                n_mels=n_mels,
            ),
        }
        try:
            return presets[name.lower()]
        except KeyError:
            raise ValueError(f"unknown HiFi-GAN preset {name!r}; choose v1, v2 or v3") from None


class ResBlock1(nn.Module):
    def __init__(self, channels: int, kernel_size: int, dilation: tuple[int, ...]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            _wn(nn.Conv1d(channels, channels, kernel_size, 1, dilation=d,
                          padding=get_padding(kernel_size, d)))
            for d in dilation
        )
        self.convs2 = nn.ModuleList(
            _wn(nn.Conv1d(channels, channels, kernel_size, 1, dilation=1,
                          padding=get_padding(kernel_size, 1)))
            for _ in dilation
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2):
            xt = c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
            x = xt + x
        return x

    def convs(self) -> list[nn.Module]:
        return [*self.convs1, *self.convs2]


class ResBlock2(nn.Module):
    def __init__(self, channels: int, kernel_size: int, dilation: tuple[int, ...]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            _wn(nn.Conv1d(channels, channels, kernel_size, 1, dilation=d,
                          padding=get_padding(kernel_size, d)))
            for d in dilation
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c in self.convs:
            x = c(F.leaky_relu(x, LRELU_SLOPE)) + x
        return x


class HiFiGANGenerator(nn.Module):
    """Mel ``[B, n_mels, T]`` (log-mel, HiFi-GAN scale) -> wave ``[B, 1, T * hop]`` in [-1, 1]."""

    def __init__(self, cfg: HiFiGANConfig) -> None:
        super().__init__()
        if cfg.resblock not in ("1", "2"):
            raise ValueError(f"resblock must be '1' or '2', got {cfg.resblock!r}")
        if len(cfg.upsample_rates) != len(cfg.upsample_kernel_sizes):
            raise ValueError("upsample_rates and upsample_kernel_sizes differ in length")
        self.cfg = cfg
        self.num_kernels = len(cfg.resblock_kernel_sizes)
        ch = cfg.upsample_initial_channel
        self.conv_pre = _wn(nn.Conv1d(cfg.n_mels, ch, 7, 1, padding=3))
        self.ups = nn.ModuleList(
            _wn(nn.ConvTranspose1d(ch // 2**i, ch // 2 ** (i + 1), k, u, padding=(k - u) // 2))
            for i, (u, k) in enumerate(zip(cfg.upsample_rates, cfg.upsample_kernel_sizes))
        )
        block = ResBlock1 if cfg.resblock == "1" else ResBlock2
        self.resblocks = nn.ModuleList()
        for i in range(len(self.ups)):
            block_ch = ch // 2 ** (i + 1)
            for k, d in zip(cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes):
                self.resblocks.append(block(block_ch, k, tuple(d)))
        self.conv_post = _wn(nn.Conv1d(ch // 2 ** len(self.ups), 1, 7, 1, padding=3))
        self.apply(_init_weights)
        self.weight_norm_applied = True

    def _stage(self, i: int, x: torch.Tensor) -> torch.Tensor:
        x = self.ups[i](F.leaky_relu(x, LRELU_SLOPE))
        xs = self.resblocks[i * self.num_kernels](x)
        for j in range(1, self.num_kernels):
            xs = xs + self.resblocks[i * self.num_kernels + j](x)
        return xs / self.num_kernels

    def front(self, mel: torch.Tensor) -> torch.Tensor:
        """The first part: mel ``[B, n_mels, T]`` -> ``[B, C, T * upsample_rates[0]]``
        (conv_pre and the first upsampling stage: ~15 % of the work, 12 frames of reach)."""
        return self._stage(0, self.conv_pre(mel))

    def back(self, x: torch.Tensor) -> torch.Tensor:
        """The rest: :meth:`front`'s output -> wave ``[B, 1, T * hop]``."""
        for i in range(1, len(self.ups)):
            x = self._stage(i, x)
        # The official model uses leaky_relu's default slope (0.01) here, not LRELU_SLOPE.
        x = self.conv_post(F.leaky_relu(x))
        return torch.tanh(x)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.back(self.front(mel))

    def remove_weight_norm(self) -> HiFiGANGenerator:
        """Fold weight norm into plain weights for inference (official layout, minus g/v)."""
        if not self.weight_norm_applied:
            return self
        for m in [self.conv_pre, *self.ups, self.conv_post]:
            _remove_wn(m)
        for block in self.resblocks:
            for m in block.convs() if isinstance(block, ResBlock1) else block.convs:
                _remove_wn(m)
        self.weight_norm_applied = False
        return self


def _init_weights(m: nn.Module, std: float = 0.01) -> None:
    if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d)):
        # Weight-normed modules keep the direction in weight_v; init that like the original.
        target = getattr(m, "weight_v", None)
        if target is None:
            target = m.weight
        target.data.normal_(0.0, std)
