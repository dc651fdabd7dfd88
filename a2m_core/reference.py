"""Import the authors' reference checkpoints into a bundle.

Inputs, as the reference code and official HiFi-GAN write them:
- the decoder state dict (``best_model_epoch.pt``), bare or wrapped in
  ``{'model_state_dict': ...}`` / ``{'state_dict': ...}``, optionally with ``module.``
  (DataParallel) or ``decoder.``/``projector.`` prefixes, and possibly holding the projector;
- the projector state dict, when it lives in its own file;
- the fine-tuned vocoder (``hifigan_g_00411810.pth``): ``{'generator': state_dict}`` with
  weight norm (``weight_g``/``weight_v``), plus the official config JSON or a V1/V2/V3 preset.

Everything is read with ``torch.load(weights_only=True)``: tensors and plain containers only,
never arbitrary pickled objects. Architecture sizes are inferred from the tensor shapes.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

from .audio import MelConfig
from .bundle import BundleConfig, BundleModules, VocoderConfig, check_state, save_bundle
from .encoders import EncoderConfig
from .errors import BundleError
from .mel import (
    DecoderConfig,
    HiFiGANConfig,
    HiFiGANGenerator,
    MelDecoder,
)
from .projector import GatedResidualProjector, ProjectorConfig

log = logging.getLogger(__name__)

DECODER_KEYS = ("feat_proj.", "pos_emb", "lstm.", "out_proj.")
PROJECTOR_KEYS = ("linear.0.", "linear.2.", "gate.0.", "residual.")
_WRAPPERS = ("model_state_dict", "state_dict", "model", "decoder", "generator", "net")


def load_torch_file(path: str | Path) -> Any:
    """``torch.load`` restricted to tensors and plain containers."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001
        raise BundleError(
            f"cannot read {path.name} safely: it is corrupt or holds pickled objects beyond "
            f"tensors and plain containers, which are refused ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''})"
        ) from err


def _tensor_dict(obj: Any, where: str) -> dict[str, torch.Tensor]:
    """Find the state dict inside a checkpoint object."""
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    if isinstance(obj, dict):
        for key in _WRAPPERS:
            if key in obj:
                return _tensor_dict(obj[key], where)
    raise BundleError(f"{where} holds no state dict (looked for tensors at the top level and "
                      f"under {', '.join(_WRAPPERS)})")


def _strip(sd: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in sd.items()}


def split_reference_state(
    sd: dict[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """One state dict (any of the layouts above) -> (decoder part, projector part)."""
    sd = _strip(sd, "module.")
    decoder, projector = {}, {}
    for k, v in sd.items():
        bare = k.split(".", 1)[1] if k.startswith(("decoder.", "projector.")) else k
        if k.startswith("projector.") or bare.startswith(PROJECTOR_KEYS):
            projector[bare] = v
        elif k.startswith("decoder.") or bare.startswith(DECODER_KEYS):
            decoder[bare] = v
    return decoder, projector


def infer_decoder_config(sd: dict[str, torch.Tensor]) -> DecoderConfig:
    try:
        layers = sum(1 for k in sd if k.startswith("lstm.weight_ih_l") and "reverse" not in k)
        return DecoderConfig(
            input_dim=sd["feat_proj.weight"].shape[1],
            hidden=sd["feat_proj.weight"].shape[0],
            layers=layers,
            n_frames=sd["pos_emb"].shape[1],
            n_mels=sd["out_proj.weight"].shape[0],
        )
    except KeyError as err:
        raise BundleError(f"decoder checkpoint lacks {err.args[0]}: not the reference "
                          f"decoder layout (feat_proj, pos_emb, lstm, out_proj)") from err


def infer_projector_config(sd: dict[str, torch.Tensor]) -> ProjectorConfig:
    try:
        hidden, cat_dim = sd["linear.0.weight"].shape
        text_dim = sd["residual.weight"].shape[1]
        gate_in = sd["gate.0.weight"].shape[1]
    except KeyError as err:
        raise BundleError(f"projector checkpoint lacks {err.args[0]}: not the reference "
                          f"projector layout (linear.0/2, gate.0, residual)") from err
    return ProjectorConfig(text_dim=text_dim, image_dim=cat_dim - text_dim, hidden=hidden,
                           gate_input="ref" if gate_in == hidden else "paper")


def hifigan_config(spec: str | Path, n_mels: int) -> HiFiGANConfig:
    """``v1``/``v2``/``v3`` or the path of an official config JSON."""
    if str(spec).lower() in ("v1", "v2", "v3"):
        return HiFiGANConfig.preset(str(spec), n_mels=n_mels)
    path = Path(spec)
    if not path.is_file():
        raise BundleError(f"HiFi-GAN config not found: {path} (or use v1, v2, v3)")
    data = json.loads(path.read_text())
    data.setdefault("n_mels", data.get("num_mels", n_mels))
    return HiFiGANConfig.from_dict(data)


def load_official_generator(path: str | Path, cfg: HiFiGANConfig) -> HiFiGANGenerator:
    """An official ``g_XXXXXXXX`` checkpoint -> generator with weight norm removed."""
    sd = _tensor_dict(load_torch_file(path), Path(path).name)
    gen = HiFiGANGenerator(cfg)
    check_state(gen.state_dict(), sd, f"vocoder {Path(path).name}")
    gen.load_state_dict(sd, strict=True)
    return gen.remove_weight_norm().eval()


def import_reference(
    decoder_path: str | Path,
    out_path: str | Path,
    vocoder_path: str | Path | None = None,
    projector_path: str | Path | None = None,
    hifigan: str | Path = "v1",
    encoder: EncoderConfig | None = None,
    mel: MelConfig | None = None,
    random_projector_seed: int | None = None,
    name: str = "art2music-reference",
) -> Path:
    """Turn the authors' checkpoints into one bundle file.

    Raises:
        BundleError: a file is missing, unsafe, or not in the expected layout; or the
            projector's weights are nowhere and no ``random_projector_seed`` was given.
    """
    mel = mel or MelConfig()
    encoder = encoder or EncoderConfig()
    dec_sd, proj_sd = split_reference_state(
        _tensor_dict(load_torch_file(decoder_path), Path(decoder_path).name))
    if projector_path is not None:
        _, proj_sd = split_reference_state(
            _tensor_dict(load_torch_file(projector_path), Path(projector_path).name))
    dec_cfg = infer_decoder_config(dec_sd)
    if proj_sd:
        proj_cfg = infer_projector_config(proj_sd)
        projector = GatedResidualProjector(proj_cfg)
        check_state(projector.state_dict(), proj_sd, "projector checkpoint")
        projector.load_state_dict(proj_sd)
    elif random_projector_seed is not None:
        # The reference optimiser never updated the projector: its output depends on the
        # random init alone. A seeded init at least makes the import reproducible.
        proj_cfg = ProjectorConfig(text_dim=encoder.embed_dim, image_dim=encoder.embed_dim,
                                   hidden=dec_cfg.input_dim)
        torch.manual_seed(random_projector_seed)
        projector = GatedResidualProjector(proj_cfg)
        log.warning("no projector weights: using a seeded random projector (seed %d)",
                    random_projector_seed)
    else:
        raise BundleError(
            "no projector weights found (linear.0.*, gate.0.*, residual.*) in the decoder file; "
            "pass the projector's file, or a seed for a random projector (the reference code "
            "never trained it)"
        )
    decoder = MelDecoder(dec_cfg)
    check_state(decoder.state_dict(), dec_sd, "decoder checkpoint")
    decoder.load_state_dict(dec_sd)

    if vocoder_path is not None:
        voc_cfg = hifigan_config(hifigan, mel.n_mels)
        vocoder = load_official_generator(vocoder_path, voc_cfg)
        vocoder_config = VocoderConfig(kind="hifigan", hifigan=voc_cfg)
    else:
        vocoder = None
        vocoder_config = VocoderConfig(kind="griffin-lim", hifigan=None)
    mel = MelConfig.from_dict({**mel.to_dict(), "n_frames": dec_cfg.n_frames,
                               "n_mels": dec_cfg.n_mels})
    config = BundleConfig(
        name=name,
        description="imported from the Art2Music authors' reference checkpoints",
        mel=mel,
        encoder=encoder,
        projector=proj_cfg,
        decoder=dec_cfg,
        vocoder=vocoder_config,
        provenance={
            "decoder": Path(decoder_path).name,
            "projector": Path(projector_path).name if projector_path else
            ("in decoder file" if proj_sd else f"random, seed {random_projector_seed}"),
            "vocoder": Path(vocoder_path).name if vocoder_path else "griffin-lim fallback",
        },
    )
    return save_bundle(out_path, config, BundleModules(projector, decoder, vocoder))
