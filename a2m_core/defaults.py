"""The one place that turns "a model name, a bundle path or nothing" into a bundle file
(:func:`resolve`), used by the engine, ``a2m``, ``a2m-osc`` and the desktop app alike.

With nothing named, the order is: ``$A2M_BUNDLE`` (a path or a model name) -> the model
``a2m models fetch NAME --set-default`` chose (``registry.py``) -> the starter bundle shipped
in the package (``assets/starter.safetensors``) -> a tiny untrained debug bundle built once
into the user cache (with a warning: it makes noise).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from .paths import STARTER, STARTER_MEL, cache_dir

log = logging.getLogger(__name__)

__all__ = ["STARTER", "STARTER_MEL", "cache_dir", "default_bundle_path", "resolve"]


def resolve(source: str | Path | None) -> Path:
    """The bundle file for a model name (``starter``, ``paper``, ...), a path, or None (the
    default, see the module's docstring).

    Raises:
        ModelLoadError: a model name that is not installed (with the command to fetch it).
    """
    from .registry import resolve_bundle

    return resolve_bundle(source) if source else default_bundle_path()


def default_bundle_path() -> Path:
    from .registry import bundle_path, default_model, resolve_bundle

    env = os.environ.get("A2M_BUNDLE")
    if env:
        return resolve_bundle(env)
    chosen = default_model()
    if chosen:
        path = bundle_path(chosen)
        if path.is_file():
            return path
        log.warning("the default model '%s' is not installed any more: using the starter "
                    "(`a2m models fetch %s` brings it back)", chosen, chosen)
    if STARTER.is_file():
        return STARTER
    from .debug import build_debug_bundle

    path = cache_dir() / "debug-tiny.safetensors"
    if not path.is_file():
        log.warning("no trained bundle installed: building a tiny untrained debug bundle at %s",
                    path)
        build_debug_bundle(path)
    return path
