"""Art2Music runtime: the mel convention, encoders, models, bundles and the engine.

One obvious way in::

    from a2m_core import Art2Music
    clip = Art2Music.load().generate("painting.jpg", "the sky feels alive", seed=1)
    clip.save("out.wav")

This package never imports Qt, sounddevice or python-osc: the apps build on it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import A2MError, BadInputError, BundleError, GenerationCancelled, ModelLoadError
from .numba_cache import configure as _numba_cache
from .prompt import MusicHints, build_prompt

_numba_cache()  # before anything imports numba: its cache lives in our folder, not site-packages

if TYPE_CHECKING:
    from .audio import MelConfig
    from .bundle import BundleConfig, load_bundle, save_bundle
    from .clip import Clip, StreamChunk
    from .engine import Art2Music
    from .request import GenerationRequest

__version__ = "0.1.0"

# The torch-backed names load on first use, so `a2m --help` and the CLIs' input checks
# answer before torch's ~1.2 s import (a bad `-o clip.mp3` is refused at once).
_LAZY = {
    "MelConfig": "audio", "BundleConfig": "bundle", "load_bundle": "bundle",
    "save_bundle": "bundle", "Art2Music": "engine", "Clip": "clip",
    "GenerationRequest": "request", "StreamChunk": "clip",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "A2MError",
    "Art2Music",
    "BadInputError",
    "BundleConfig",
    "BundleError",
    "Clip",
    "GenerationCancelled",
    "GenerationRequest",
    "MelConfig",
    "ModelLoadError",
    "MusicHints",
    "build_prompt",
    "load_bundle",
    "save_bundle",
    "StreamChunk",
]
