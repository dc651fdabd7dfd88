"""Export trained stages into a model bundle the engine loads."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from a2m_core.audio import MelConfig
from a2m_core.bundle import (
    BundleConfig,
    BundleModules,
    GenerationConfig,
    VocoderConfig,
    load_packaged_vocoder,
    save_bundle,
)
from a2m_core.encoders import EncoderConfig
from a2m_core.mel import HiFiGANConfig, HiFiGANGenerator
from a2m_core.packaged import PackagedFile

from .train.stage1 import load_stage1


def load_generator(path: str | Path) -> tuple[HiFiGANGenerator, HiFiGANConfig]:
    """A stage-2 ``g_XXXXXXXX`` file (official layout plus its config) -> inference model."""
    from a2m_core.reference import load_torch_file

    ckpt = load_torch_file(path)
    if not isinstance(ckpt, dict) or "config" not in ckpt:
        raise ValueError(f"{path} has no HiFi-GAN config: export official checkpoints with "
                         f"`a2m import-reference` instead")
    cfg = HiFiGANConfig.from_dict(ckpt["config"])
    gen = HiFiGANGenerator(cfg)
    gen.load_state_dict(ckpt["generator"])
    return gen.remove_weight_norm().eval(), cfg


def export_bundle(
    stage1: str | Path,
    out: str | Path,
    generator: str | Path | None = None,
    name: str = "art2music",
    description: str = "",
    starter: bool = False,
    griffin_lim_iters: int = 32,
    generation: GenerationConfig | None = None,
    provenance: dict[str, Any] | None = None,
    packaged_vocoder: PackagedFile | None = None,
) -> Path:
    """Stage-1 ``best.pt`` (+ stage-2 generator, a packaged HiFi-GAN V1 referenced by
    sha256, else Griffin-Lim) -> a bundle file.

    The encoder comes from the dataset the stage was trained on; weights that exist only
    there (``encoder.safetensors``, for tiny or custom encoders) are copied into the bundle.
    """
    projector, decoder, meta = load_stage1(stage1)
    encoder = EncoderConfig(**meta["encoder"])
    encoder_state = None
    if encoder.weights_in_bundle:
        from safetensors.torch import load_file

        weights = Path(meta["dataset"]) / "encoder.safetensors"
        if not weights.is_file():
            raise FileNotFoundError(f"the encoder's weights are not in {weights}; rebuild the "
                                    f"dataset with --clip-from-bundle")
        encoder_state = load_file(str(weights))
    if generator is not None:
        vocoder, hcfg = load_generator(generator)
        vocoder_cfg = VocoderConfig(kind="hifigan", hifigan=hcfg)
    elif packaged_vocoder is not None:
        vocoder_cfg = VocoderConfig(kind="hifigan", hifigan=HiFiGANConfig.preset("v1"),
                                    packaged=packaged_vocoder)
        vocoder = load_packaged_vocoder(vocoder_cfg)  # checks it loads before we promise it
    else:
        vocoder, vocoder_cfg = None, VocoderConfig(kind="griffin-lim", hifigan=None,
                                                   griffin_lim_iters=griffin_lim_iters)
    config = BundleConfig(
        name=name, description=description, starter=starter,
        mel=MelConfig.from_dict(meta["mel"]), encoder=encoder,
        projector=projector.cfg, decoder=decoder.cfg, vocoder=vocoder_cfg,
        generation=generation or GenerationConfig(),
        provenance={"stage1": str(stage1), "stage1_epoch": meta["epoch"],
                    "stage1_val_loss": round(float(meta["val_loss"]), 5),
                    **({"detail_val_flow_loss": round(float(meta["detail_val_loss"]), 5)}
                       if "detail_val_loss" in meta else {}),
                    "vocoder": str(generator) if generator else packaged_vocoder.describe()
                    if packaged_vocoder else "griffin-lim",
                    **(provenance or {})})
    return save_bundle(out, config, BundleModules(projector, decoder, vocoder),
                       encoder_state=encoder_state)
