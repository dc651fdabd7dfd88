"""Model bundles: one safetensors file, validated on load, written atomically."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from a2m_core.bundle import (
    FORMAT,
    BundleConfig,
    build_modules,
    load_bundle,
    read_config,
    save_bundle,
)
from a2m_core.debug import tiny_config
from a2m_core.errors import BundleError
from a2m_core.mel import DecoderConfig


def _rewrite(src: Path, dst: Path, tensors=None, config=None) -> Path:
    """Copy a bundle, replacing some tensors and/or its config (a tampered file)."""
    with safe_open(str(src), framework="pt") as f:
        meta = f.metadata()
        data = {k: f.get_tensor(k) for k in f.keys()}
    data.update(tensors or {})
    if config is not None:
        meta = {**meta, "config": json.dumps(config)}
    save_file(data, str(dst), metadata=meta)
    return dst


def test_a_saved_bundle_reloads_with_identical_weights(tiny_bundle, tmp_path):
    bundle = load_bundle(tiny_bundle)
    assert bundle.config.untrained and bundle.config.encoder.weights_in_bundle
    mods = bundle.modules()
    copy = save_bundle(tmp_path / "copy.safetensors", bundle.config, mods,
                       encoder_state=bundle.part("encoder"))
    again = load_bundle(copy)
    assert again.config == bundle.config
    assert set(again.tensors) == set(bundle.tensors)
    assert all(torch.equal(again.tensors[k], bundle.tensors[k]) for k in bundle.tensors)


def test_the_same_bundle_saved_by_two_processes_is_the_same_bytes(tiny_bundle, tmp_path):
    # safetensors orders the metadata by a hash map seeded per process: a rebuilt starter
    # must still be byte-identical, so that git sees no change
    import subprocess
    import sys

    save = ("import sys; from a2m_core.bundle import load_bundle, save_bundle; "
            "b = load_bundle(sys.argv[1]); "
            "save_bundle(sys.argv[2], b.config, b.modules(), encoder_state=b.part('encoder'))")
    copies = [tmp_path / f"copy{k}.safetensors" for k in range(3)]
    for copy in copies:
        subprocess.run([sys.executable, "-c", save, str(tiny_bundle), str(copy)], check=True)
    assert len({c.read_bytes() for c in copies}) == 1
    assert load_bundle(copies[0]).config == load_bundle(tiny_bundle).config


def test_config_is_readable_without_the_tensors(tiny_bundle):
    assert read_config(tiny_bundle).name == "debug-tiny"


def test_wrong_tensor_shape_is_named_with_both_shapes(tiny_bundle, tmp_path):
    bad = _rewrite(tiny_bundle, tmp_path / "bad.safetensors",
                   tensors={"decoder.out_proj.weight": torch.zeros(80, 10)})
    with pytest.raises(BundleError) as err:
        load_bundle(bad).modules()
    msg = str(err.value)
    assert "out_proj.weight is [80, 10], expected [80, 64]" in msg and "bad.safetensors" in msg


def test_missing_and_stray_tensors_are_named(tiny_bundle, tmp_path):
    with safe_open(str(tiny_bundle), framework="pt") as f:
        meta = f.metadata()
        data = {k: f.get_tensor(k) for k in f.keys() if k != "projector.gate.0.bias"}
    data["mystery.weight"] = torch.zeros(1)
    save_file(data, str(tmp_path / "holes.safetensors"), metadata=meta)
    with pytest.raises(BundleError, match="missing: gate.0.bias"):
        load_bundle(tmp_path / "holes.safetensors").modules()


def test_unknown_format_version_is_refused(tiny_bundle, tmp_path):
    cfg = {**read_config(tiny_bundle).to_dict(), "format_version": 99}
    with pytest.raises(BundleError, match="version 99 is not supported"):
        load_bundle(_rewrite(tiny_bundle, tmp_path / "v99.safetensors", config=cfg))


def test_inconsistent_config_names_the_numbers(tiny_bundle, tmp_path):
    cfg = read_config(tiny_bundle).to_dict()
    cfg["decoder"]["n_frames"] = 500
    with pytest.raises(BundleError, match="decoder n_frames 500 != mel n_frames 896"):
        load_bundle(_rewrite(tiny_bundle, tmp_path / "odd.safetensors", config=cfg))


def test_corrupt_and_foreign_files_are_refused(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(BundleError, match="corrupt or not a safetensors file"):
        load_bundle(junk)
    foreign = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(BundleError, match=f"not an Art2Music bundle .*{FORMAT}"):
        load_bundle(foreign)
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "absent.safetensors")


def test_a_failed_save_leaves_the_existing_bundle_untouched(tiny_bundle, tmp_path):
    target = tmp_path / "keep.safetensors"
    target.write_bytes(tiny_bundle.read_bytes())
    before = target.read_bytes()
    good = tiny_config()
    broken = replace(good, decoder=DecoderConfig(input_dim=32, hidden=32, layers=1,
                                                 n_frames=100))
    with pytest.raises(BundleError):
        save_bundle(target, broken, build_modules(good))
    with pytest.raises(ValueError, match="encoder weights"):
        save_bundle(target, good, build_modules(good))  # config says weights_in_bundle
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.safetensors"]  # no temp files left


def test_griffin_lim_bundles_carry_no_vocoder_tensors(tiny_gl_bundle):
    bundle = load_bundle(tiny_gl_bundle)
    assert bundle.config.vocoder.kind == "griffin-lim"
    assert not bundle.part("vocoder") and bundle.modules().vocoder is None


def test_config_round_trips_through_json():
    cfg = tiny_config()
    assert BundleConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
