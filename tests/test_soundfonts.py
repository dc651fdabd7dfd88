"""A SoundFont where no system package installs one: `a2m models fetch` takes it out of
Debian's package from a mirror, checked, and the notes sampler finds it."""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
from pathlib import Path

import pytest

from a2m_app.cli import main
from a2m_core.errors import ModelLoadError
from a2m_core.notes.sampler import FLUID_R3_GM, SoundFontRef
from a2m_core.soundfonts import extract_from_deb
from tests.test_models_registry import Mirror

MEMBER = "usr/share/sounds/sf2/Tiny.sf2"


def _deb(folder: Path, payload: bytes) -> Path:
    """A Debian package (ar archive) whose data.tar.xz holds ``MEMBER``."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w:xz") as tar:
        info = tarfile.TarInfo("./" + MEMBER)
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    members = [(b"debian-binary", b"2.0\n"), (b"control.tar.xz", b"x" * 3),
               (b"data.tar.xz", tar_bytes.getvalue())]
    out = io.BytesIO()
    out.write(b"!<arch>\n")
    for name, data in members:
        head = name.ljust(16) + b"0".ljust(12) + b"0".ljust(6) + b"0".ljust(6) + \
            b"100644".ljust(8) + str(len(data)).encode().ljust(10) + b"`\n"
        out.write(head + data + (b"\n" if len(data) % 2 else b""))
    path = folder / "pool" / "tiny-soundfont_1_all.deb"
    path.parent.mkdir(parents=True)
    path.write_bytes(out.getvalue())
    return path


@pytest.fixture()
def served(tmp_path, monkeypatch):
    payload = b"sfbk" + bytes(range(256)) * 64
    deb = _deb(tmp_path / "debian", payload)
    server = Mirror(tmp_path / "debian")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    entry = {"name": "tiny-sf", "description": "a tiny SoundFont in a Debian package",
             "base_url": server.url,
             "files": [{"path": "pool/tiny-soundfont_1_all.deb", "role": "deb",
                        "sha256": hashlib.sha256(deb.read_bytes()).hexdigest()}],
             "build": {"kind": "soundfont", "deb": "deb", "member": MEMBER,
                       "sha256": hashlib.sha256(payload).hexdigest()}}
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps({"models": [entry]}))
    monkeypatch.setenv("A2M_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("A2M_REGISTRY", str(registry))
    yield tmp_path, payload, entry
    server.shutdown()
    server.server_close()


def test_fetch_takes_the_soundfont_out_of_the_package_and_checks_it(served, capsys):
    tmp_path, payload, _ = served
    assert main(["models", "fetch", "tiny-sf", "-q"]) == 0
    out = capsys.readouterr().out
    installed = tmp_path / "home" / "models" / "tiny-sf" / "Tiny.sf2"
    assert installed.read_bytes() == payload and "SoundFont" in out
    assert main(["models", "verify", "tiny-sf"]) == 0
    # it is not a model: it cannot be the default, nor a bundle to generate with
    assert main(["models", "fetch", "tiny-sf", "--set-default", "-q"]) == 1
    assert "not a model" in capsys.readouterr().err


def test_a_package_whose_soundfont_is_not_the_expected_one_is_refused(served, tmp_path):
    deb = Path(served[0]) / "debian" / "pool" / "tiny-soundfont_1_all.deb"
    with pytest.raises(ModelLoadError, match="expected"):
        extract_from_deb(deb, MEMBER, tmp_path / "x.sf2", "0" * 64)
    assert not (tmp_path / "x.sf2").exists()
    with pytest.raises(ModelLoadError, match="holds no"):
        extract_from_deb(deb, "usr/share/other.sf2", tmp_path / "y.sf2", "0" * 64)
    text = tmp_path / "not-a-deb"
    text.write_text("hello")
    with pytest.raises(ModelLoadError, match="not a Debian package"):
        extract_from_deb(text, MEMBER, tmp_path / "z.sf2", "0" * 64)


def test_a_missing_soundfont_says_in_one_line_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("A2M_HOME", str(tmp_path / "home"))
    ref = SoundFontRef(str(tmp_path / "nowhere" / "FluidR3_GM.sf2"), FLUID_R3_GM.sha256,
                       FLUID_R3_GM.package)
    with pytest.raises(ModelLoadError) as err:
        ref.verified_path()
    line = str(err.value)
    assert "\n" not in line and "apt-get install fluid-soundfont-gm" in line
    assert "a2m models fetch fluidr3-gm" in line
    if Path(FLUID_R3_GM.path).is_file():  # fetched: found in the models folder by sha256
        home = tmp_path / "home" / "models" / "fluidr3-gm"
        home.mkdir(parents=True)
        (home / "FluidR3_GM.sf2").symlink_to(FLUID_R3_GM.path)
        assert ref.verified_path() == home / "FluidR3_GM.sf2"


def test_the_catalogue_fetches_fluidr3_from_debian_by_the_index_s_sha256():
    from a2m_core.registry import BUILTIN

    entry = BUILTIN["fluidr3-gm"]
    assert entry.base_url == "https://deb.debian.org/debian"
    assert entry.files[0].sha256 == ("6f531493ac4e4d9772fd96b2488ea1790af81c196135fbdd2599"
                                     "7da0781fc60e")
    assert entry.build["sha256"] == FLUID_R3_GM.sha256
