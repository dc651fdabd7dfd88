"""Shared fixtures: the real data beside the repo, and tiny bundles built once per session."""
from __future__ import annotations

import os
from pathlib import Path

# Qt without a display would abort the whole pytest process (see ENVIRONMENT.md).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
EXAMPLE_PAINTING = REPO / "examples" / "vincent-van-gogh_the-starry-night-1889.jpg"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.is_dir():
        why = "../shared/data (the fixture data) is not beside this checkout"
        if os.environ.get("CI") == "true":  # in CI it must be there: fail, never skip
            pytest.fail(f"{why}, and CI=true", pytrace=False)
        pytest.skip(why)
    return SHARED


@pytest.fixture(scope="session")
def paintings(shared_data: Path) -> list[Path]:
    return sorted(shared_data.glob("wikiart/*/*.jpg"))


@pytest.fixture(scope="session")
def music_clips(shared_data: Path) -> list[Path]:
    return sorted(shared_data.glob("music_clips/*.ogg"))


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from a2m_core.debug import build_debug_bundle

    return build_debug_bundle(tmp_path_factory.mktemp("bundles") / "tiny.safetensors", seed=0)


@pytest.fixture(scope="session")
def tiny_gl_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from a2m_core.debug import build_debug_bundle

    return build_debug_bundle(tmp_path_factory.mktemp("bundles") / "tiny-gl.safetensors",
                              seed=1, vocoder="griffin-lim")


@pytest.fixture(scope="session")
def engine(tiny_bundle: Path):
    from a2m_core import Art2Music

    return Art2Music.load(tiny_bundle, device="cpu")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    # Never build or read a default bundle in the user's real cache during tests.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
    monkeypatch.delenv("A2M_BUNDLE", raising=False)
    # Nor fetch into, or read a default model from, the user's real model folder.
    monkeypatch.setenv("A2M_HOME", str(tmp_path_factory.getbasetemp() / "a2m-home"))
    monkeypatch.delenv("A2M_REGISTRY", raising=False)
