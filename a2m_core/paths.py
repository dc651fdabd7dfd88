"""Where things live, with the standard library alone: the shipped starters, the user cache
and the models home. Every other module may import this one; it imports none of them."""
from __future__ import annotations

import os
import sys
from pathlib import Path

ASSETS = Path(__file__).parent / "assets"
STARTER_NAME = "starter"  # the packaged model's name in the registry and on the CLI
STARTER = ASSETS / "starter.safetensors"
# The earlier starter (BiLSTM mel decoder + HiFi-GAN), kept for comparison and as a mel
# bundle that runs on a CPU: `a2m generate --bundle <this path>`.
STARTER_MEL = ASSETS / "starter-mel.safetensors"


def cache_dir() -> Path:
    """The user cache (embeddings, ONNX exports, open_clip configs, ratings)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "art2music"


def models_home() -> Path:
    """Where fetched models live: ``$A2M_HOME``, else the platform's user data folder."""
    env = os.environ.get("A2M_HOME")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "Art2Music"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Art2Music"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "art2music"
