"""Faster runtimes give the same music: the ONNX Runtime vocoder and the int8 encoder."""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from a2m_core import Art2Music, GenerationRequest
from a2m_core.acceleration import RuntimeOptions

from .conftest import EXAMPLE_PAINTING

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")


def test_the_onnx_vocoder_plays_the_same_clip_and_is_exported_once(tiny_bundle):
    plain = Art2Music.load(tiny_bundle, device="cpu", runtime=RuntimeOptions.plain())
    # the default vocoder on a CPU, with float encoders: only the vocoder differs from plain
    fast = Art2Music.load(tiny_bundle, device="cpu", runtime=RuntimeOptions(encoder_int8=False))
    assert plain.vocoder_name == "HiFi-GAN"
    assert fast.vocoder_name == "HiFi-GAN, ONNX Runtime"
    assert Art2Music.load(tiny_bundle, device="cpu").vocoder_name == fast.vocoder_name
    a = plain.generate(EXAMPLE_PAINTING, "a quiet harbour at dawn", seed=3)
    b = fast.generate(EXAMPLE_PAINTING, "a quiet harbour at dawn", seed=3)
    assert np.abs(a.audio - b.audio).max() < 1e-3
    # Streaming runs through the same runtime: the same chunks as PyTorch's.
    def streamed(engine):
        return np.concatenate([c.audio for c in engine.generate_stream(
            EXAMPLE_PAINTING, "a quiet harbour at dawn", seed=3)])

    assert np.abs(streamed(plain) - streamed(fast)).max() < 1e-3
    stamps = [p.stat().st_mtime_ns for p in fast._vocoder_fn.paths]
    again = Art2Music.load(tiny_bundle, device="cpu",
                           runtime=RuntimeOptions(vocoder_backend="onnx"))
    assert again._vocoder_fn.paths == fast._vocoder_fn.paths
    # exported once (the generator's two parts), reused
    assert [p.stat().st_mtime_ns for p in again._vocoder_fn.paths] == stamps
    front = again._vocoder_fn.paths[0]
    assert front.with_name(front.name.replace("-front.onnx", ".verified.json")).is_file()


def test_a_default_install_without_onnxruntime_runs_pytorch_quietly(tiny_bundle, monkeypatch,
                                                                    caplog):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    engine = Art2Music.load(tiny_bundle, device="cpu")
    assert engine.vocoder_name == "HiFi-GAN"
    assert "onnxruntime" not in caplog.text  # nothing asked for it: nothing to warn about


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
    plain = Art2Music.load(bundle, device="cpu", runtime=RuntimeOptions.plain())
    if plain.encoder.model is None:
        pytest.skip("the debug bundle has no OpenCLIP tower")
    int8 = Art2Music.load(bundle, device="cpu", runtime=RuntimeOptions(encoder_int8=True))
    quantised = [type(m).__module__ for m in int8.encoder.model.modules()]
    assert sum("quantized" in q for q in quantised) >= 2  # both towers' MLPs
    a = plain.encoder.encode_images([EXAMPLE_PAINTING])
    b = int8.encoder.encode_images([EXAMPLE_PAINTING])
    cos = float((a * b).sum() / (a.norm() * b.norm()))
    assert cos > 0.98
    ta = plain.encoder.encode_texts(["a storm at sea"])
    tb = int8.encoder.encode_texts(["a storm at sea"])
    assert float(torch.cosine_similarity(ta, tb).item()) > 0.98
    clip = int8.generate(EXAMPLE_PAINTING, "a storm at sea", seed=1)  # texts encode too
    assert np.isfinite(clip.audio).all()
    # int8 embeddings are kept apart from float ones in the persistent cache.
    assert plain.encoder.disk_cache != int8.encoder.disk_cache


def test_unknown_runtime_choices_are_refused():
    with pytest.raises(ValueError, match="vocoder_backend"):
        RuntimeOptions(vocoder_backend="tensorrt")
    assert RuntimeOptions().wants_int8(on_cpu=True)  # the CPU default (bench_generate.py)
    assert not RuntimeOptions().wants_int8(on_cpu=False)  # never on a GPU
    assert not RuntimeOptions.plain().wants_int8(on_cpu=True)
    assert not RuntimeOptions.plain().wants_onnx(on_cpu=True)


def test_reduced_precision_is_for_gpus_and_a_cpu_says_so(tiny_bundle):
    from a2m_core.errors import BadInputError

    with pytest.raises(BadInputError, match="precision 'bf16' is for CUDA devices"):
        Art2Music.load(tiny_bundle, device="cpu", runtime=RuntimeOptions(precision="bf16"))
    with pytest.raises(ValueError, match="precision"):
        RuntimeOptions(precision="int4")


def test_a_batch_is_vocoded_in_one_call_on_a_gpu_with_the_same_samples(tiny_bundle):
    from types import SimpleNamespace

    engine = Art2Music.load(tiny_bundle, device="cpu", runtime=RuntimeOptions.plain())
    mels = torch.from_numpy(engine.generate_mels([
        GenerationRequest(EXAMPLE_PAINTING, "a storm at sea", seed=s) for s in (1, 2, 3)]))
    one_by_one = engine._vocode_many(mels, [1, 2, 3])
    calls = []
    real = engine._vocoder_fn
    engine._vocoder_fn = lambda x: calls.append(x.shape) or real(x)
    engine.device = SimpleNamespace(type="cuda")  # the batched branch, run on the CPU
    batched = engine._vocode_many(mels, [1, 2, 3])
    assert calls == [torch.Size([3, mels.shape[1], mels.shape[2]])]
    assert all(np.abs(x - y).max() < 1e-4 for x, y in zip(one_by_one, batched))
