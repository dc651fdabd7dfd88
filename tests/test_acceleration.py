"""Faster runtimes give the same music: the ONNX Runtime vocoder and the int8 encoder."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from a2m_core import Art2Music
from a2m_core.acceleration import RuntimeOptions

from .conftest import EXAMPLE_PAINTING

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")


def test_the_onnx_vocoder_plays_the_same_clip_and_is_exported_once(tiny_bundle):
    plain = Art2Music.load(tiny_bundle, device="cpu")
    fast = Art2Music.load(tiny_bundle, device="cpu",
                          runtime=RuntimeOptions(vocoder_backend="onnx"))
    assert fast.vocoder_name == "HiFi-GAN, ONNX Runtime"
    a = plain.generate(EXAMPLE_PAINTING, "a quiet harbour at dawn", seed=3)
    b = fast.generate(EXAMPLE_PAINTING, "a quiet harbour at dawn", seed=3)
    assert np.abs(a.audio - b.audio).max() < 1e-3
    # Streaming runs through the same runtime: the same chunks as PyTorch's.
    def streamed(engine):
        return np.concatenate([c.audio for c in engine.generate_stream(
            EXAMPLE_PAINTING, "a quiet harbour at dawn", seed=3)])

    assert np.abs(streamed(plain) - streamed(fast)).max() < 1e-3
    stamp = fast._vocoder_fn.path.stat().st_mtime_ns
    again = Art2Music.load(tiny_bundle, device="cpu",
                           runtime=RuntimeOptions(vocoder_backend="onnx"))
    assert again._vocoder_fn.path == fast._vocoder_fn.path
    assert again._vocoder_fn.path.stat().st_mtime_ns == stamp  # exported once, reused


def test_without_onnxruntime_the_engine_keeps_pytorch_and_says_so(tiny_bundle, monkeypatch,
                                                                  caplog):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    engine = Art2Music.load(tiny_bundle, device="cpu",
                            runtime=RuntimeOptions(vocoder_backend="onnx"))
    assert engine.vocoder_name == "HiFi-GAN"
    assert "needs the onnxruntime package" in caplog.text


def test_an_int8_encoder_gives_nearly_the_same_embeddings(tmp_path):
    from a2m_core.debug import build_debug_bundle

    bundle = build_debug_bundle(tmp_path / "clip.safetensors", seed=2)
    plain = Art2Music.load(bundle, device="cpu")
    if plain.encoder.model is None:
        pytest.skip("the debug bundle has no OpenCLIP tower")
    int8 = Art2Music.load(bundle, device="cpu", runtime=RuntimeOptions(encoder_int8=True))
    a = plain.encoder.encode_images([EXAMPLE_PAINTING])
    b = int8.encoder.encode_images([EXAMPLE_PAINTING])
    cos = float((a * b).sum() / (a.norm() * b.norm()))
    assert cos > 0.98
    clip = int8.generate(EXAMPLE_PAINTING, "a storm at sea", seed=1)  # texts encode too
    assert np.isfinite(clip.audio).all()
    # int8 embeddings are kept apart from float ones in the persistent cache.
    assert plain.encoder.disk_cache != int8.encoder.disk_cache


def test_unknown_runtime_choices_are_refused():
    with pytest.raises(ValueError, match="vocoder_backend"):
        RuntimeOptions(vocoder_backend="tensorrt")
