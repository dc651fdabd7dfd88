"""Where the default bundle comes from when the user names none.

Order: ``$A2M_BUNDLE`` (a path or a model name) -> the model ``a2m models fetch NAME
--set-default`` chose (``a2m_core/registry.py``) -> the starter bundle shipped in the package
(``a2m_core/assets/starter.safetensors``) -> a tiny untrained debug bundle built once into the
user cache (with a warning: it makes noise).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

STARTER = Path(__file__).parent / "assets" / "starter.safetensors"
# The earlier starter (BiLSTM mel decoder + HiFi-GAN), kept for comparison and as a mel
# bundle that runs on a CPU: `a2m generate --bundle <this path>`.
STARTER_MEL = Path(__file__).parent / "assets" / "starter-mel.safetensors"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "art2music"


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
