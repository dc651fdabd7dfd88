"""The authors' checkpoints (decoder .pt, official HiFi-GAN g_ file) become a bundle."""
from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from a2m_core import Art2Music
from a2m_core.debug import TINY_CLIP_CONFIG, TINY_CLIP_NAME
from a2m_core.encoders import EncoderConfig
from a2m_core.errors import BundleError
from a2m_core.mel import (
    DecoderConfig,
    HiFiGANConfig,
    HiFiGANGenerator,
    MelDecoder,
)
from a2m_core.projector import GatedResidualProjector, ProjectorConfig
from a2m_core.reference import import_reference, load_official_generator

TINY_ENCODER = EncoderConfig(name=TINY_CLIP_NAME, pretrained=None, model_config=TINY_CLIP_CONFIG,
                             embed_dim=32)


@pytest.fixture(scope="module")
def reference_files(tmp_path_factory):
    """Checkpoints laid out as the reference code and official HiFi-GAN save them."""
    d = tmp_path_factory.mktemp("reference")
    torch.manual_seed(3)
    projector = GatedResidualProjector(ProjectorConfig(text_dim=32, image_dim=32, hidden=24))
    decoder = MelDecoder(DecoderConfig(input_dim=24, hidden=16, layers=2))
    vocoder = HiFiGANGenerator(HiFiGANConfig.preset("v2"))  # with weight norm, as trained
    # The reference trainer saves a dict with the epoch and a DataParallel-prefixed state.
    state = {f"module.{k}": v for k, v in decoder.state_dict().items()}
    state.update({f"module.projector.{k}": v for k, v in projector.state_dict().items()})
    torch.save({"epoch": 7, "val_loss": 0.21, "model_state_dict": state},
               d / "best_model_epoch.pt")
    torch.save(decoder.state_dict(), d / "decoder_only.pt")
    torch.save(projector.state_dict(), d / "projector.pt")
    torch.save({"generator": vocoder.state_dict()}, d / "g_00411810")
    return d, projector, decoder, vocoder


def test_official_generator_checkpoint_loads_unchanged(reference_files):
    d, _, _, vocoder = reference_files
    loaded = load_official_generator(d / "g_00411810", HiFiGANConfig.preset("v2"))
    mel = torch.randn(1, 80, 10)
    with torch.no_grad():
        assert torch.allclose(loaded(mel), vocoder.eval()(mel), atol=1e-5)


def test_v1_checkpoint_refused_for_a_v2_config_names_the_tensor(reference_files):
    d = reference_files[0]
    with pytest.raises(BundleError, match=r"conv_pre.weight_v is \[128, 80, 7\], expected "
                                          r"\[512, 80, 7\]"):
        load_official_generator(d / "g_00411810", HiFiGANConfig.preset("v1"))


def test_reference_checkpoints_import_into_a_bundle_that_generates(reference_files, paintings,
                                                                   tmp_path):
    d, projector, decoder, vocoder = reference_files
    out = import_reference(d / "best_model_epoch.pt", tmp_path / "ref.safetensors",
                           vocoder_path=d / "g_00411810", hifigan="v2", encoder=TINY_ENCODER)
    engine = Art2Music.load(out, device="cpu")
    cfg = engine.config
    assert (cfg.decoder.hidden, cfg.decoder.layers, cfg.projector.hidden) == (16, 2, 24)
    assert cfg.vocoder.hifigan == HiFiGANConfig.preset("v2")
    fused = torch.randn(1, 24)
    with torch.no_grad():
        expected = decoder.eval()(fused).transpose(1, 2).clamp(-1, 1)
        assert torch.allclose(engine._voice.decode(fused), expected, atol=1e-6)
        t, i = torch.randn(1, 32), torch.randn(1, 32)
        assert torch.allclose(engine._projector(t, i), projector(t, i), atol=1e-6)
    clip = engine.generate(paintings[0], "a stormy sea of grief", seed=None)
    assert clip.audio.shape == (896 * 256,) and np.isfinite(clip.audio).all()


def test_projector_in_its_own_file_or_seeded_random(reference_files, tmp_path):
    d = reference_files[0]
    import_reference(d / "decoder_only.pt", tmp_path / "a.safetensors",
                     projector_path=d / "projector.pt", encoder=TINY_ENCODER)
    with pytest.raises(BundleError, match="no projector weights"):
        import_reference(d / "decoder_only.pt", tmp_path / "b.safetensors",
                         encoder=TINY_ENCODER)
    out = import_reference(d / "decoder_only.pt", tmp_path / "c.safetensors",
                           encoder=TINY_ENCODER, random_projector_seed=0)
    engine = Art2Music.load(out, device="cpu")
    assert engine.config.vocoder.kind == "griffin-lim"
    assert "random, seed 0" in engine.config.provenance["projector"]


def test_pickled_objects_are_never_unpickled(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"model_state_dict": {}, "args": argparse.Namespace(lr=1)}, evil)
    with pytest.raises(BundleError, match="refused"):
        import_reference(evil, tmp_path / "x.safetensors", encoder=TINY_ENCODER)


def test_a_file_that_is_not_a_decoder_is_named(tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"fc.weight": torch.zeros(2, 2)}, other)
    with pytest.raises(BundleError, match="feat_proj"):
        import_reference(other, tmp_path / "x.safetensors", encoder=TINY_ENCODER,
                         random_projector_seed=0)
