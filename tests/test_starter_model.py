"""The parts the starter is made of: a vocoder referenced by sha256, a decoder that emits
several frames per step, packaged image features, and the fast Griffin-Lim choice."""
from __future__ import annotations

import dataclasses
import hashlib
import io
import sys

import numpy as np
import pytest
import torch

from a2m_core import Art2Music
from a2m_core.bundle import BundleModules, VocoderConfig, build_modules, load_bundle, save_bundle
from a2m_core.debug import tiny_config
from a2m_core.errors import ModelLoadError
from a2m_core.images import load_image
from a2m_core.mel import DecoderConfig, MelDecoder
from a2m_core.packaged import PackagedFile
from a2m_core.prompt import build_prompt

from .conftest import EXAMPLE_PAINTING


@pytest.fixture
def starry():
    return EXAMPLE_PAINTING


def test_a_decoder_with_8_frames_per_step_runs_112_lstm_steps_for_896_frames():
    dec = MelDecoder(DecoderConfig(input_dim=16, hidden=8, layers=1, frames_per_step=8))
    assert dec.pos_emb.shape == (1, 112, 8)
    assert dec(torch.randn(3, 16)).shape == (3, 896, 80)
    # The paper's layout (one frame per step) keeps the authors' tensor shapes.
    ref = MelDecoder(DecoderConfig(input_dim=16, hidden=8, layers=1))
    assert ref.pos_emb.shape == (1, 896, 8) and ref.out_proj.weight.shape == (80, 16)
    with pytest.raises(ValueError, match="must divide"):
        DecoderConfig(frames_per_step=5)


@pytest.fixture
def packaged_tiny_vocoder(tmp_path, monkeypatch):
    """A tiny HiFi-GAN generator file inside a fake installed package, and its reference."""
    cfg = tiny_config("hifigan")
    torch.manual_seed(0)
    from a2m_core.mel import HiFiGANGenerator

    gen = HiFiGANGenerator(cfg.vocoder.hifigan)  # weight-normed, as official files are
    buf = io.BytesIO()
    torch.save({"generator": gen.state_dict()}, buf)
    pkg = tmp_path / "a2m_fakevoc"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('never imported')\n")
    (pkg / "data" / "g.pth.tar").write_bytes(buf.getvalue())
    monkeypatch.syspath_prepend(str(tmp_path))
    yield PackagedFile("a2m_fakevoc", "data/g.pth.tar",
                       hashlib.sha256(buf.getvalue()).hexdigest()), pkg
    sys.modules.pop("a2m_fakevoc", None)


def _bundle_with(ref: PackagedFile, path, frames_per_step: int = 8):
    cfg = tiny_config("hifigan")
    cfg = dataclasses.replace(
        cfg, decoder=dataclasses.replace(cfg.decoder, frames_per_step=frames_per_step),
        vocoder=dataclasses.replace(cfg.vocoder, packaged=ref))
    from a2m_core.bundle import load_packaged_vocoder
    from a2m_core.debug import build_debug_bundle

    tiny = load_bundle(build_debug_bundle(path.with_name("enc.safetensors")))
    mods = build_modules(dataclasses.replace(cfg, vocoder=VocoderConfig(kind="griffin-lim",
                                                                       hifigan=None)))
    return save_bundle(path, cfg, BundleModules(mods.projector, mods.decoder,
                                                load_packaged_vocoder(cfg.vocoder)),
                       encoder_state=tiny.part("encoder"))


def test_a_bundle_references_its_vocoder_by_sha256_and_stores_none_of_it(
        packaged_tiny_vocoder, tmp_path, starry):
    ref, _ = packaged_tiny_vocoder
    path = _bundle_with(ref, tmp_path / "b.safetensors")
    bundle = load_bundle(path)
    assert not bundle.part("vocoder")  # nothing copied into the file
    assert bundle.config.vocoder.packaged == ref
    engine = Art2Music.load(path, device="cpu")
    assert engine.vocoder_name.startswith("HiFi-GAN")
    clip = engine.generate(starry, "a bright and lively sky", seed=1)
    assert clip.audio.size == 896 * 256 and np.isfinite(clip.audio).all()


def test_a_tampered_vocoder_file_stops_the_load_with_one_clear_line(
        packaged_tiny_vocoder, tmp_path):
    ref, pkg = packaged_tiny_vocoder
    path = _bundle_with(ref, tmp_path / "b.safetensors")
    (pkg / "data" / "g.pth.tar").write_bytes(b"not the weights")
    with pytest.raises(ModelLoadError) as err:
        Art2Music.load(path, device="cpu")
    assert "g.pth.tar" in str(err.value) and ref.sha256 in str(err.value)


def test_griffin_lim_is_an_explicit_fast_choice_that_loads_no_vocoder(
        packaged_tiny_vocoder, tmp_path, starry):
    ref, pkg = packaged_tiny_vocoder
    path = _bundle_with(ref, tmp_path / "b.safetensors")
    (pkg / "data" / "g.pth.tar").unlink()  # not even needed
    engine = Art2Music.load(path, device="cpu", vocoder="griffin-lim")
    assert engine.vocoder_name == "Griffin-Lim" and not engine.bundle.part("vocoder")
    assert engine.generate(starry, "quiet snow").audio.size == 896 * 256


def test_a_latent_decoder_varies_by_seed_and_repeats_without_one(tmp_path, starry):
    """Seeds pick different renditions; no seed is still the same clip every time."""
    from a2m_core.debug import build_debug_bundle

    cfg = tiny_config("griffin-lim")
    cfg = dataclasses.replace(cfg, decoder=dataclasses.replace(
        cfg.decoder, frames_per_step=8, latent_dim=4))
    engine = Art2Music.load(build_debug_bundle(tmp_path / "l.safetensors", config=cfg),
                            device="cpu")
    engine._voice.decoder.latent_std.fill_(3.0)  # a spread as wide as a trained one
    engine.set_generation_params(variation=0.0)  # only the latent draw differs
    a, b = (engine.generate(starry, "stormy sea", seed=s).mel for s in (1, 2))
    assert np.abs(a - b).mean() > 1e-3
    c, d = (engine.generate(starry, "stormy sea").mel for _ in range(2))
    assert np.array_equal(c, d)
    # No seed draws from the painting itself, not from its embedding's last bits: another
    # runtime (or CPU) whose embeddings differ a little plays the same performance.
    from a2m_core.mel.acceleration import RuntimeOptions
    from a2m_core.voice import painting_keys

    other = Art2Music.load(engine.bundle, device="cpu", runtime=RuntimeOptions.plain())
    other._voice.decoder.latent_std.fill_(3.0)
    img = load_image(starry)
    nudged = other.encoder.encode_images([img]) + 1e-6  # another CPU's rounding
    text = other.encoder.encode_texts([build_prompt("stormy sea", None, None,
                                                    other.config.prompt).text])
    e = other.generate_from_features(nudged, text, [None], painting_keys([img]))[0].mel
    f = other.generate_from_features(nudged, text, [None],
                                     painting_keys([img.rotate(90)]))[0].mel
    # the same draw (up to the runtimes' rounding); another painting's pixels draw another
    assert np.abs(e - c).mean() < 0.1 * np.abs(f - c).mean()


def test_generate_mels_previews_exactly_the_mel_a_clip_gets(engine, starry):
    from a2m_core import GenerationRequest

    clip = engine.generate(starry, "a storm at sea", seed=3)
    mels = engine.generate_mels([GenerationRequest(starry, "a storm at sea", seed=3)])
    assert mels.shape == (1, *clip.mel.shape) and np.allclose(mels[0], clip.mel, atol=1e-6)
