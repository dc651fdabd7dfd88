"""Tiny random bundles: for tests, and as the default until a trained starter bundle exists.

Like audiocraft's ``'debug'`` model: the real architecture at toy width, seeded, so every test
exercises the same code paths as the paper-size model in milliseconds. Its output is not
music (random weights) and every bundle built here says so in ``untrained``.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Literal

import torch

from .audio import MelConfig
from .bundle import (
    BundleConfig,
    GenerationConfig,
    VocoderConfig,
    build_modules,
    save_bundle,
)
from .encoders import EncoderConfig
from .mel import DecoderConfig, HiFiGANConfig
from .notes.model import NotesConfig
from .notes.sampler import SamplerConfig
from .projector import ProjectorConfig

# A two-layer OpenCLIP ViT/text transformer; the tokenizer's vocabulary ships with open_clip.
TINY_CLIP_NAME = "a2m-tiny-clip"
TINY_CLIP_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32,
                   "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2,
                 "layers": 2},
}


def tiny_config(
    vocoder: Literal["hifigan", "griffin-lim"] = "hifigan",
    mel: MelConfig | None = None,
    name: str = "debug-tiny",
    text_model: str | None = None,
    text_dim: int | None = None,
) -> BundleConfig:
    """A consistent toy-size config: real mel convention, tiny encoder/decoder/vocoder
    (optionally with a sentence encoder for the text side)."""
    mel = mel or MelConfig()
    embed = TINY_CLIP_CONFIG["embed_dim"]
    hifi = HiFiGANConfig(upsample_initial_channel=16, resblock_kernel_sizes=(3,),
                         resblock_dilation_sizes=((1, 3),), n_mels=mel.n_mels,
                         upsample_rates=(8, 8, 2, 2), upsample_kernel_sizes=(16, 16, 4, 4))
    return BundleConfig(
        name=name,
        description="tiny random model for tests and first runs; its output is not music",
        untrained=True,
        mel=mel,
        encoder=EncoderConfig(name=TINY_CLIP_NAME, pretrained=None, weights_in_bundle=True,
                              model_config=TINY_CLIP_CONFIG, embed_dim=embed,
                              text_model=text_model, text_dim=text_dim),
        projector=ProjectorConfig(text_dim=text_dim if text_model else embed, image_dim=embed,
                                  hidden=32),
        decoder=DecoderConfig(input_dim=32, hidden=32, layers=1, n_frames=mel.n_frames,
                              n_mels=mel.n_mels),
        vocoder=VocoderConfig(kind=vocoder, hifigan=hifi if vocoder == "hifigan" else None,
                              griffin_lim_iters=8),
        generation=GenerationConfig(),
        provenance={"built_by": "a2m_core.debug.build_debug_bundle"},
    )


def tiny_notes_config(sampler: SamplerConfig | None = None, name: str = "debug-notes"
                      ) -> BundleConfig:
    """A toy-size notes bundle config: the tiny encoder and projector, a one-layer GRU, and
    the real sampler (the SoundFont is referenced, as in the starter)."""
    base = tiny_config(name=name)
    notes = NotesConfig(input_dim=base.projector.hidden, embed=16, hidden=32, layers=1,
                        head_hidden=16, max_tokens=600)
    return replace(base, kind="notes", notes=notes, sampler=sampler or SamplerConfig(),
                   description="tiny random notes model for tests; its notes are random",
                   generation=GenerationConfig(variation=0.0))


def build_debug_bundle(
    path: str | Path,
    seed: int = 0,
    vocoder: Literal["hifigan", "griffin-lim"] = "hifigan",
    config: BundleConfig | None = None,
) -> Path:
    """Write a seeded tiny random bundle to ``path`` (same seed -> same file contents)."""
    from .encoders import build_clip_model

    config = config or tiny_config(vocoder)
    torch.manual_seed(seed)
    modules = build_modules(config)
    if modules.vocoder is not None:
        # Random HiFi-GAN init is nearly silent; scale the last conv so tests hear something.
        modules.vocoder.conv_post.weight.data.mul_(20.0)
    # Random encoder weights are the point here: keep open_clip's "no pretrained weights"
    # warning out of the user's terminal.
    logging.disable(logging.WARNING)
    try:
        clip, _ = build_clip_model(
            EncoderConfig(**{**config.encoder.to_dict(), "weights_in_bundle": False,
                         "text_model": None, "text_dim": None}), "cpu"
        )
    finally:
        logging.disable(logging.NOTSET)
    return save_bundle(path, config, modules, encoder_state=clip.state_dict())
