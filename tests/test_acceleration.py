"""Faster runtimes give the same music: the ONNX Runtime vocoder and the int8 encoder."""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from a2m_core import Art2Music, GenerationRequest
from a2m_core.mel.acceleration import RuntimeOptions, cpu_has_native_bf16

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
    stamps = [p.stat().st_mtime_ns for p in fast._voice.vocoding.runner.paths]
    again = Art2Music.load(tiny_bundle, device="cpu",
                           runtime=RuntimeOptions(vocoder_backend="onnx"))
    assert again._voice.vocoding.runner.paths == fast._voice.vocoding.runner.paths
    # exported once (the generator's two parts), reused
    assert [p.stat().st_mtime_ns for p in again._voice.vocoding.runner.paths] == stamps
    front = again._voice.vocoding.runner.paths[0]
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
    # Every Linear layer of both towers is int8, the attention projections included (as
    # nn.MultiheadAttention they stayed float32 and took 60 % of ViT-H-14's int8 time).
    model = int8.encoder.model
    for tower in (model.visual.transformer, model.transformer):
        assert not any(type(m) in (torch.nn.Linear, torch.nn.MultiheadAttention)
                       for m in tower.modules())
        assert any("quantized" in type(m).__module__ for m in tower.modules())
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


def test_reduced_precision_on_a_cpu_without_bf16_instructions_says_so(tiny_bundle,
                                                                       monkeypatch):
    from a2m_core.errors import BadInputError
    from a2m_core.mel import acceleration

    monkeypatch.setattr(acceleration, "cpu_has_native_bf16", lambda: False)
    with pytest.raises(BadInputError, match="precision 'bf16' is for CUDA devices and CPUs "
                                            "with bf16 instructions"):
        Art2Music.load(tiny_bundle, device="cpu", runtime=RuntimeOptions(precision="bf16"))
    with pytest.raises(BadInputError, match="precision 'fp16'"):
        Art2Music.load(tiny_bundle, device="cpu", runtime=RuntimeOptions(precision="fp16"))
    with pytest.raises(ValueError, match="precision"):
        RuntimeOptions(precision="int4")
    # The default asks nothing of such a CPU: every stage in float32.
    engine = Art2Music.load(tiny_bundle, device="cpu")
    assert set(engine._dtypes.values()) == {None}


def test_the_default_decodes_in_bf16_only_where_the_cpu_has_bf16_instructions(monkeypatch):
    from a2m_core.mel import acceleration

    assert acceleration.native_bf16_in("flags\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n")
    assert acceleration.native_bf16_in("flags : sse2 amx_bf16 amx_tile\n")
    assert not acceleration.native_bf16_in("flags\t: fpu avx2 fma f16c avx512f avx512bw\n")
    auto = RuntimeOptions()
    for native in (True, False):
        monkeypatch.setattr(acceleration, "cpu_has_native_bf16", lambda n=native: n)
        expect = torch.bfloat16 if native else None
        assert auto.stage_dtype("decoder", "cpu") is expect
        assert auto.stage_dtype("vocoder", "cpu") is None  # bf16 samples moved by 0.09
        assert auto.stage_dtype("encoder", "cpu") is None
        assert auto.stage_dtype("decoder", "cuda") is None
    bf16 = RuntimeOptions(precision="bf16")
    assert bf16.stage_dtype("vocoder", "cpu") is torch.bfloat16
    assert bf16.stage_dtype("encoder", "cpu", int8_encoder=True) is None  # int8 is float-only
    assert not bf16.wants_onnx(on_cpu=True)  # bf16 asked for: the vocoder runs in PyTorch
    assert RuntimeOptions.plain().stage_dtype("decoder", "cpu") is None


@pytest.mark.skipif(not cpu_has_native_bf16(),
                    reason="this CPU has no bf16 instructions (AVX512-BF16 / AMX)")
def test_a_bf16_decoder_makes_nearly_the_same_mel_and_the_same_clip_length(tiny_bundle):
    from trainer.evaluate.musicality import mel_db_change

    plain = Art2Music.load(tiny_bundle, device="cpu", runtime=RuntimeOptions(precision="fp32"))
    fast = Art2Music.load(tiny_bundle, device="cpu")
    assert fast._dtypes["decoder"] is torch.bfloat16
    requests = [GenerationRequest(EXAMPLE_PAINTING, "a storm at sea", seed=3)]
    a, b = plain.generate_mels(requests), fast.generate_mels(requests)
    assert b.dtype == np.float32 and a.shape == b.shape
    assert mel_db_change(a[0], b[0], plain.mel_config) < 0.5
    clip = fast.generate(EXAMPLE_PAINTING, "a storm at sea", seed=3)
    assert np.isfinite(clip.audio).all() and clip.audio.size == plain.generate(
        EXAMPLE_PAINTING, "a storm at sea", seed=3).audio.size


def test_self_attention_as_linear_layers_is_multihead_attention():
    from a2m_core.mel.acceleration import SelfAttention

    torch.manual_seed(0)
    causal = torch.full((7, 7), float("-inf")).triu(1)
    for batch_first in (True, False):
        mha = torch.nn.MultiheadAttention(32, 4, batch_first=batch_first).eval()
        ours = SelfAttention(mha).eval()
        x = torch.randn(2, 7, 32) if batch_first else torch.randn(7, 2, 32)
        for mask in (None, causal):
            with torch.inference_mode():
                want = mha(x, x, x, need_weights=False, attn_mask=mask)[0]
                got = ours(x, x, x, need_weights=False, attn_mask=mask)[0]
            assert torch.allclose(got, want, atol=1e-5)
    with pytest.raises(ValueError, match="attends a sequence to itself"):
        ours(x, x.clone(), x)
    with pytest.raises(ValueError, match="no key_padding_mask"):
        ours(x, x, x, key_padding_mask=torch.zeros(7, 2, dtype=torch.bool))


def test_text_encoding_stops_at_the_end_token_with_the_same_embeddings(tmp_path):
    from a2m_core.debug import build_debug_bundle
    from a2m_core.encoders import encode_text_to_end

    bundle = build_debug_bundle(tmp_path / "clip.safetensors", seed=4)
    engine = Art2Music.load(bundle, device="cpu", runtime=RuntimeOptions.plain())
    if engine.encoder.model is None:
        pytest.skip("the debug bundle has no OpenCLIP tower")
    texts = ["a storm", "the swirling sky feels alive, restless and full of wonder",
             "waves " * 90]  # the last is cut at the tokenizer's 77 tokens
    tokens = engine.encoder.tokenizer(texts)
    assert engine.encoder.model.text_pool_type == "argmax"  # the path that stops early
    with torch.inference_mode():
        want = engine.encoder.model.encode_text(tokens)
        for i in range(len(texts)):  # alone (shortest run) and in a batch
            assert torch.allclose(encode_text_to_end(engine.encoder.model, tokens[i:i + 1]),
                                  want[i:i + 1], atol=1e-5)
        assert torch.allclose(encode_text_to_end(engine.encoder.model, tokens), want,
                              atol=1e-5)


def test_a_batch_is_vocoded_in_one_call_on_a_gpu_with_the_same_samples(tiny_bundle):
    from types import SimpleNamespace

    engine = Art2Music.load(tiny_bundle, device="cpu", runtime=RuntimeOptions.plain())
    mels = torch.from_numpy(engine.generate_mels([
        GenerationRequest(EXAMPLE_PAINTING, "a storm at sea", seed=s) for s in (1, 2, 3)]))
    finish = (mels, mels.numpy(), [1, 2, 3], engine.generation, None)
    one_by_one = engine._voice.vocoding.finished(*finish)
    calls = []
    real = engine._voice.vocoding.runner
    engine._voice.vocoding.runner = lambda x: calls.append(x.shape) or real(x)
    engine._voice.vocoding.device = SimpleNamespace(type="cuda")  # the batched branch, on the CPU
    batched = engine._voice.vocoding.finished(*finish)
    assert calls == [torch.Size([3, mels.shape[1], mels.shape[2]])]
    assert all(np.abs(x - y).max() < 1e-4 for x, y in zip(one_by_one, batched))


def test_a_gallery_engine_on_onnx_runtime_turns_telemetry_off_and_looks_up_no_host(
        tiny_bundle, monkeypatch):
    import socket

    import onnxruntime as ort

    events: list[str] = []
    real_off, real_session = ort.disable_telemetry_events, ort.InferenceSession

    def telemetry_off() -> None:
        events.append("telemetry off")
        real_off()

    def session(*args, **kwargs):
        events.append("session")
        return real_session(*args, **kwargs)

    def resolver(host, *args, **kwargs):
        events.append(f"lookup {host}")
        raise OSError("no lookups on a gallery machine")

    monkeypatch.setattr(ort, "disable_telemetry_events", telemetry_off)
    monkeypatch.setattr(ort, "InferenceSession", session)
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    monkeypatch.setattr(socket, "gethostbyname", resolver)
    engine = Art2Music.load(tiny_bundle, device="cpu",
                            runtime=RuntimeOptions(vocoder_backend="onnx"))
    engine.generate(EXAMPLE_PAINTING, "a quiet harbour at dawn", seed=1)
    assert engine.vocoder_name == "HiFi-GAN, ONNX Runtime"
    assert "session" in events and events.index("telemetry off") < events.index("session")
    assert not [e for e in events if e.startswith("lookup")]
