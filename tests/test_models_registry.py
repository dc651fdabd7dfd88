"""A user fetches a published model with `a2m models`: from a mirror on this machine (an HTTP
server on 127.0.0.1 started here) or a folder, with hash checks, resumption and clear errors.

The files served are small checkpoints in the authors' layout made in the test; their ids go
into a registry file named by $A2M_REGISTRY (the real ids live only in the built-in registry).
"""
from __future__ import annotations

import http.server
import json
import shutil
import threading
from pathlib import Path

import pytest
import torch

from a2m_app.cli import main
from a2m_core import Art2Music
from a2m_core.debug import TINY_CLIP_CONFIG, TINY_CLIP_NAME
from a2m_core.defaults import default_bundle_path
from a2m_core.mel import (
    DecoderConfig,
    HiFiGANConfig,
    HiFiGANGenerator,
    MelDecoder,
)
from a2m_core.model_store import git_blob_id
from a2m_core.registry import BUILTIN
from tests.conftest import EXAMPLE_PAINTING

DECODER = "Art2Music_model/checkpoints/best_model_epoch.pt"
VOCODER = "Art2Music_model/checkpoints/hifigan_g_00411810.pth"


class Mirror(http.server.ThreadingHTTPServer):
    """Serves a folder with Range support; counts bytes; can cut one response short."""

    def __init__(self, root: Path) -> None:
        self.root, self.sent = root, 0
        self.cut: tuple[str, int] | None = None  # (path, bytes): drop after that many, once
        self.stall: tuple[str, int] | None = None  # (path, bytes): then go quiet, once
        self.quiet = threading.Event()  # set to end a stall
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/repo"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Mirror

    def log_message(self, *args) -> None:  # keep pytest's output clean
        pass

    def do_GET(self) -> None:  # noqa: N802
        rel = self.path.removeprefix("/repo/")
        path = self.server.root / rel
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.server.stall and rel == self.server.stall[0]:  # then nothing more comes
            body, self.server.stall = body[:self.server.stall[1]], None
            self.wfile.write(body)
            self.wfile.flush()
            self.server.sent += len(body)
            self.server.quiet.wait(10)
            self.close_connection = True
            return
        if self.server.cut and rel == self.server.cut[0]:  # the connection drops, once
            body, self.server.cut = body[:self.server.cut[1]], None
            self.wfile.write(body)
            self.server.sent += len(body)
            self.close_connection = True
            return
        self.wfile.write(body)
        self.server.sent += len(body)


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """A tiny model in the authors' layout: a bare decoder state dict (as their notebook
    saves it, no projector) and an official-layout HiFi-GAN generator."""
    root = tmp_path_factory.mktemp("published")
    torch.manual_seed(5)
    decoder = MelDecoder(DecoderConfig(input_dim=24, hidden=16, layers=2, n_frames=64))
    vocoder = HiFiGANGenerator(HiFiGANConfig.preset("v2"))
    (root / DECODER).parent.mkdir(parents=True)
    torch.save(decoder.state_dict(), root / DECODER)
    torch.save({"generator": vocoder.state_dict()}, root / VOCODER)
    return root


@pytest.fixture()
def mirror(published):
    server = Mirror(published)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def tiny_entry(root: Path, name: str = "tiny-paper", **encoder) -> dict:
    return {
        "name": name, "description": "a paper-layout model, tiny",
        "files": [{"path": DECODER, "git_blob": git_blob_id(root / DECODER), "role": "decoder"},
                  {"path": VOCODER, "git_blob": git_blob_id(root / VOCODER), "role": "vocoder",
                   "size": (root / VOCODER).stat().st_size}],
        "build": {"kind": "reference", "decoder": "decoder", "vocoder": "vocoder",
                  "hifigan": "v2", "random_projector_seed": 0},
        "encoder": {"name": TINY_CLIP_NAME, "pretrained": None, "embed_dim": 32,
                    "model_config": TINY_CLIP_CONFIG, **encoder},
    }


@pytest.fixture()
def home(tmp_path, monkeypatch, published) -> Path:
    monkeypatch.setenv("A2M_HOME", str(tmp_path / "home"))
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps({"models": [tiny_entry(published)]}))
    monkeypatch.setenv("A2M_REGISTRY", str(registry))
    return tmp_path / "home"


def test_fetch_from_a_mirror_installs_a_bundle_that_generates(home, mirror, capsys, paintings):
    assert main(["models", "fetch", "tiny-paper", "--from", mirror.url, "-q"]) == 0
    out = capsys.readouterr().out
    assert "2 file(s) verified" in out and "a2m generate --bundle tiny-paper" in out
    bundle = home / "models" / "tiny-paper" / "tiny-paper.safetensors"
    assert bundle.is_file()
    clip = Art2Music.load("tiny-paper", device="cpu").generate(paintings[0], "calm sea", seed=1)
    assert clip.audio.size > 0 and abs(clip.audio).max() > 0

    assert main(["models", "list"]) == 0
    listing = capsys.readouterr().out
    assert "* starter" in listing and "  tiny-paper  installed" in listing
    assert main(["models", "verify", "tiny-paper"]) == 0
    assert "tiny-paper: ok" in capsys.readouterr().out

    sent = mirror.sent
    assert main(["models", "fetch", "tiny-paper", "--from", mirror.url, "-q"]) == 0
    assert mirror.sent == sent  # already verified: nothing is downloaded again


def test_an_altered_file_is_refused_and_nothing_is_kept(home, published, tmp_path, capsys):
    bad = tmp_path / "bad-mirror"
    shutil.copytree(published, bad)
    with open(bad / VOCODER, "r+b") as f:
        f.seek(100)
        f.write(b"\x00tampered")
    assert main(["models", "fetch", "tiny-paper", "--from", str(bad), "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    expected = git_blob_id(published / VOCODER)
    assert f"{VOCODER}: expected git blob {expected}, got {git_blob_id(bad / VOCODER)}" in err
    files = home / "models" / "tiny-paper" / "files"
    assert not (files / VOCODER).exists() and not list(files.rglob("*.part"))
    assert not (home / "models" / "tiny-paper" / "tiny-paper.safetensors").exists()
    assert main(["models", "verify", "tiny-paper"]) == 1  # not installed: said, not crashed
    assert "not installed" in capsys.readouterr().err


def test_a_cut_connection_resumes_where_it_stopped(home, mirror, published, capsys):
    size = (published / VOCODER).stat().st_size
    mirror.cut = (VOCODER, size // 2)
    assert main(["models", "fetch", "tiny-paper", "--from", mirror.url, "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert "run the same command again to resume" in err and len(err.splitlines()) == 1
    part = home / "models" / "tiny-paper" / "files" / (VOCODER + ".part")
    assert part.stat().st_size == size // 2
    first = mirror.sent
    assert first == (published / DECODER).stat().st_size + size // 2

    assert main(["models", "fetch", "tiny-paper", "--from", mirror.url, "-q"]) == 0
    assert mirror.sent - first == size - size // 2  # only the missing half the second time
    assert not part.exists() and main(["models", "verify", "tiny-paper"]) == 0


def test_a_stalled_download_keeps_what_arrived(home, mirror, published, capsys,
                                              monkeypatch):
    import a2m_core.model_store as store

    monkeypatch.setattr(store, "TIMEOUT_S", 0.5)
    mirror.stall = (VOCODER, 50_000)
    try:
        assert main(["models", "fetch", "tiny-paper", "--from", mirror.url, "-q"]) == 1
    finally:
        mirror.quiet.set()
    assert "run the same command again to resume" in capsys.readouterr().err
    part = home / "models" / "tiny-paper" / "files" / (VOCODER + ".part")
    assert part.stat().st_size == 50_000  # what arrived before the stall is kept
    assert main(["models", "fetch", "tiny-paper", "--from", mirror.url, "-q"]) == 0
    assert not part.exists() and main(["models", "verify", "tiny-paper"]) == 0


def test_fetch_from_a_local_folder_then_default_then_remove(home, published, capsys):
    assert main(["models", "fetch", "tiny-paper", "--from", str(published), "--set-default",
                 "-q"]) == 0
    bundle = home / "models" / "tiny-paper" / "tiny-paper.safetensors"
    assert default_bundle_path() == bundle  # a2m, the desktop app and the bridge use it now
    assert "* tiny-paper" in (main(["models", "list"]), capsys.readouterr().out)[1]

    # Damage an installed file: verify names it and fails.
    with open(home / "models" / "tiny-paper" / "files" / DECODER, "ab") as f:
        f.write(b"!")
    assert main(["models", "verify"]) == 1
    assert f"tiny-paper: {DECODER}: expected git blob" in capsys.readouterr().out

    assert main(["models", "remove", "tiny-paper"]) == 0
    assert "removed" in capsys.readouterr().out
    assert not (home / "models" / "tiny-paper").exists()
    assert default_bundle_path().name == "starter.safetensors"  # back to the starter
    assert main(["models", "remove", "starter"]) == 1
    assert "cannot be removed" in capsys.readouterr().err
    assert main(["models", "remove", "tiny-paper"]) == 1
    assert "not installed" in capsys.readouterr().err


def test_bad_sources_and_names_are_one_line(home, tmp_path, capsys):
    cases = [
        (["models", "fetch", "nope"], "unknown model 'nope'"),
        (["models", "fetch", "tiny-paper", "--from", str(tmp_path / "missing")],
         "neither an http(s) URL nor a folder"),
        (["models", "fetch", "tiny-paper", "--from", "http://127.0.0.1:9/repo"],
         "cannot reach http://127.0.0.1:9/repo"),
        (["models", "fetch", "tiny-paper", "--from", str(tmp_path)],
         f"{DECODER} is not in {tmp_path}"),
        (["generate", "--bundle", "tiny-paper", "--image", str(EXAMPLE_PAINTING),
          "--comment", "c", "-o", str(tmp_path / "c.wav")],
         "model 'tiny-paper' is not installed: run `a2m models fetch tiny-paper`"),
    ]
    for argv, message in cases:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err, err


def test_missing_encoder_weights_offline_say_how_to_supply_them(home, published, tmp_path,
                                                               monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps([tiny_entry(published, name="needs-weights",
                                               pretrained="laion2b_s32b_b79k")]))
    monkeypatch.setenv("A2M_REGISTRY", str(registry))
    assert main(["models", "fetch", "needs-weights", "--from", str(published), "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert "not in open_clip's cache" in err and "--from FOLDER" in err
    assert "open_clip_pytorch_model.bin" in err and len(err.splitlines()) == 1

    # Supplied beside the repository files, the weights are installed with the model and
    # the encoder loads from them.
    from a2m_core.encoders import EncoderConfig, build_clip_model

    model, _ = build_clip_model(EncoderConfig(name=TINY_CLIP_NAME, pretrained=None,
                                              model_config=TINY_CLIP_CONFIG, embed_dim=32))
    folder = tmp_path / "with-weights"
    shutil.copytree(published, folder)
    torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
    assert main(["models", "fetch", "needs-weights", "--from", str(folder), "-q"]) == 0
    installed = home / "models" / "needs-weights" / "open_clip_pytorch_model.bin"
    assert installed.is_file()
    engine = Art2Music.load("needs-weights", device="cpu")
    assert engine.config.encoder.weights_file == str(installed)
    assert engine.generate(EXAMPLE_PAINTING, "bright morning", seed=2).audio.size > 0


def test_the_paper_entry_names_the_authors_files_by_blob_id():
    paper = BUILTIN["paper"]
    ids = {f.path: f.git_blob for f in paper.files}
    assert ids == {
        DECODER: "3683fac78df6662d241c7a0bc330f8c1e9c74b34",
        VOCODER: "22a7905d7d52ca08cc1bc673684baae51c5eb1e7",
        "Art2Music_model/LJ_FT_T2_V1/LJ_FT_T2_V1/generator_v1":
            "ce949df590a130ead138048d279214153d211ff7",
    }
    assert paper.base_url == "https://raw.githubusercontent.com/hh-jy/Art2Music/main"
    assert paper.encoder == {"name": "ViT-H-14", "pretrained": "laion2b_s32b_b79k",
                             "embed_dim": 1024}


def test_git_blob_id_matches_git(tmp_path):
    (tmp_path / "f").write_bytes(b"hello\n")
    assert git_blob_id(tmp_path / "f") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_a_paper_shaped_import_from_the_authors_layout(tmp_path):
    """Full-size checkpoints with the key names of the authors' generation_model.py
    (TextImage2Mel saved bare, no projector) and the official HiFi-GAN V1 generator."""
    from a2m_core.bundle import load_bundle
    from a2m_core.model_store import _build
    from a2m_core.registry import ModelEntry

    g = torch.Generator().manual_seed(0)
    h, layers = 512, 4
    state = {"feat_proj.weight": torch.randn(h, 512, generator=g) * 0.02,
             "feat_proj.bias": torch.zeros(h),
             "pos_emb": torch.randn(1, 896, h, generator=g)}
    for k in range(layers):
        for suffix in ("", "_reverse"):
            inp = h if k == 0 else 2 * h
            state[f"lstm.weight_ih_l{k}{suffix}"] = torch.randn(4 * h, inp, generator=g) * 0.02
            state[f"lstm.weight_hh_l{k}{suffix}"] = torch.randn(4 * h, h, generator=g) * 0.02
            state[f"lstm.bias_ih_l{k}{suffix}"] = torch.zeros(4 * h)
            state[f"lstm.bias_hh_l{k}{suffix}"] = torch.zeros(4 * h)
    state["out_proj.weight"] = torch.randn(80, 2 * h, generator=g) * 0.02
    state["out_proj.bias"] = torch.zeros(80)
    files = tmp_path / "files"
    (files / DECODER).parent.mkdir(parents=True)
    torch.save(state, files / DECODER)
    torch.save({"generator": HiFiGANGenerator(HiFiGANConfig.preset("v1")).state_dict()},
               files / VOCODER)

    bundle = _build(BUILTIN["paper"], files, dict(BUILTIN["paper"].encoder),
                    tmp_path / "paper.safetensors")
    cfg = load_bundle(bundle).config
    assert (cfg.decoder.input_dim, cfg.decoder.hidden, cfg.decoder.layers) == (512, 512, 4)
    assert cfg.decoder.n_frames == 896 and cfg.mel.n_frames == 896
    assert (cfg.projector.text_dim, cfg.projector.image_dim, cfg.projector.hidden) == \
        (1024, 1024, 512)
    assert cfg.encoder.name == "ViT-H-14" and cfg.encoder.pretrained == "laion2b_s32b_b79k"
    assert cfg.vocoder.kind == "hifigan" and cfg.vocoder.hifigan.upsample_initial_channel == 512
    assert cfg.provenance["projector"] == "random, seed 0"
    assert ModelEntry.from_dict(BUILTIN["paper"].to_dict()) == BUILTIN["paper"]


def test_a_hostile_registry_cannot_write_or_delete_outside_the_models_home(
        home, published, tmp_path, monkeypatch, capsys):
    """Each escape a crafted $A2M_REGISTRY tried is refused in one line, and nothing appears
    (or disappears) outside A2M_HOME."""
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    good = tiny_entry(published)

    def with_registry(entry: dict) -> None:
        path = tmp_path / "hostile.json"
        path.write_text(json.dumps({"models": [entry]}))
        monkeypatch.setenv("A2M_REGISTRY", str(path))

    escapes = [
        ({**good, "files": [{**good["files"][0], "path": "../../../../../escaped.bin"}]},
         "file path"),
        ({**good, "files": [{**good["files"][0], "path": str(outside / "abs.bin")}]},
         "file path"),
        ({**good, "name": "../../../escape-name"}, "model name"),
        ({**good, "encoder_weights_file": "../../../../escape-encoder.bin"},
         "encoder_weights_file"),
        ({**good, "files": [{"path": "x.bin", "role": "decoder"}]}, "no git blob id or sha256"),
    ]
    for entry, message in escapes:
        with_registry(entry)
        assert main(["models", "fetch", entry["name"], "--from", str(published), "-q"]) == 1
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.rglob("*escape*")) == []
    assert list(outside.iterdir()) == []

    # remove refuses a name that is a path, and a model folder that is a symlink out
    with_registry(good)
    assert main(["models", "remove", "../../../victim"]) == 1
    assert "victim" in capsys.readouterr().err and (victim / "keep.txt").is_file()
    (home / "models").mkdir(parents=True, exist_ok=True)
    (home / "models" / "tiny-paper").symlink_to(victim, target_is_directory=True)
    assert main(["models", "remove", "tiny-paper"]) == 1
    assert "leads outside" in capsys.readouterr().err
    assert (victim / "keep.txt").read_text() == "mine"


def test_encoder_weights_from_a_mirror_are_taken_only_with_a_matching_sha256(
        home, published, tmp_path, monkeypatch, capsys):
    from a2m_core.model_store import sha256_file

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tmp_path / "mirror-root"
    shutil.copytree(published, folder)
    (folder / "open_clip_pytorch_model.bin").write_bytes(b"the bytes a mirror serves")
    server = Mirror(folder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    registry = tmp_path / "registry.json"
    try:
        for sha, expected in (("", "not in open_clip's cache"),  # unchecked: not taken
                              ("0" * 64, "not the registry's")):
            entry = tiny_entry(published, name="needs-weights", pretrained="laion2b_s32b_b79k")
            registry.write_text(json.dumps([{**entry, "encoder_weights_sha256": sha}]))
            monkeypatch.setenv("A2M_REGISTRY", str(registry))
            assert main(["models", "fetch", "needs-weights", "--from", server.url, "-q"]) == 1
            assert expected in capsys.readouterr().err
            weights = home / "models" / "needs-weights" / "open_clip_pytorch_model.bin"
            assert not weights.exists() and not weights.with_name(weights.name + ".part").exists()
        good = sha256_file(folder / "open_clip_pytorch_model.bin")
        registry.write_text(json.dumps([{**entry, "encoder_weights_sha256": good}]))
        assert main(["models", "fetch", "needs-weights", "--from", server.url, "-q"]) == 0
        assert weights.is_file() and sha256_file(weights) == good  # checked, then taken
    finally:
        server.shutdown()


def test_a_symlink_already_inside_the_home_leads_nothing_outside_it(
        home, published, tmp_path, capsys):
    """Two planted links: the models folder itself pointing elsewhere (remove must not
    delete there), and a .part file pointing at a file outside (fetch must not write it)."""
    victim = tmp_path / "victim"
    (victim / "tiny-paper").mkdir(parents=True)
    (victim / "tiny-paper" / "keep.txt").write_text("mine")
    home.mkdir(parents=True, exist_ok=True)
    (home / "models").symlink_to(victim, target_is_directory=True)
    assert main(["models", "remove", "tiny-paper"]) == 1
    assert "leads outside" in capsys.readouterr().err
    assert (victim / "tiny-paper" / "keep.txt").read_text() == "mine"

    (home / "models").unlink()
    target = tmp_path / "precious.bin"
    target.write_bytes(b"do not overwrite")
    part = home / "models" / "tiny-paper" / "files" / (DECODER + ".part")
    part.parent.mkdir(parents=True)
    part.symlink_to(target)
    assert main(["models", "fetch", "tiny-paper", "--from", str(published), "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert "symbolic link" in err and len(err.splitlines()) == 1
    assert target.read_bytes() == b"do not overwrite"
