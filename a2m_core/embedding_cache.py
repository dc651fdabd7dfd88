"""Embeddings kept by content: in memory (least recently used first out) and, optionally, on
disk between processes, in one folder per encoder identity (:func:`cache_folder`)."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

log = logging.getLogger(__name__)


def cache_folder(encoder_config: dict[str, Any], weights_file: str | Path | None = None,
                 int8: bool = False, dtype: torch.dtype | None = None) -> Path | None:
    """Where an encoder's embeddings persist between runs (``$A2M_EMBED_CACHE=0``: nowhere).

    One folder per encoder identity: its config, and when its weights live in a bundle, that
    file itself (``weights_file``: path, size, time), so no two encoders share an entry.
    """
    if os.environ.get("A2M_EMBED_CACHE", "1").lower() in ("0", "false", "no"):
        return None
    from .paths import cache_dir

    ident = json.dumps(encoder_config, sort_keys=True, default=str)
    if int8:  # int8 embeddings differ a little from float ones: never mix the two
        ident += "|int8+attention"  # since the attention projections are int8 too
    if dtype is not None:  # reduced-precision embeddings differ a little too
        ident += f"|{dtype}"
    if weights_file is not None:
        st = Path(weights_file).stat()
        ident += f"|{Path(weights_file).resolve()}|{st.st_size}|{st.st_mtime_ns}"
    return cache_dir() / "embeddings" / hashlib.sha256(ident.encode()).hexdigest()[:16]


class EmbeddingCache:
    """``key -> [D]`` float32 tensor; keys are ``"img:<sha256>"`` or ``"txt:<sha256>"``.

    Thread-safe. A torn or foreign file on disk is a miss (encoded again and overwritten); a
    full or read-only disk costs speed, never the clip. ``folder`` may be changed (or set to
    None) at any time: a gallery that loops the same paintings never encodes them again
    after a restart.
    """

    def __init__(self, size: int = 1024, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder else None
        self._items: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()
        self.stats = {"hits": 0, "misses": 0, "disk_hits": 0}

    def _path(self, key: str) -> Path | None:
        if self.folder is None:
            return None
        kind, _, digest = key.partition(":")
        return self.folder / f"{kind}-{digest}.npy"

    def get(self, key: str) -> torch.Tensor | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                self.stats["hits"] += 1
                return hit
        path = self._path(key)
        if path is not None and path.is_file():
            try:
                hit = torch.from_numpy(np.load(path, allow_pickle=False))
            except (OSError, ValueError):
                hit = None
            if hit is not None:
                with self._lock:
                    self.stats["disk_hits"] += 1
                    self._remember(key, hit)
                return hit
        with self._lock:
            self.stats["misses"] += 1
        return None

    def put(self, key: str, value: torch.Tensor) -> None:
        with self._lock:
            self._remember(key, value)
        path = self._path(key)
        if path is not None:
            from .fileio import atomic_path

            try:
                with atomic_path(path, suffix=".npy") as tmp:
                    np.save(tmp, value.numpy())
            except OSError as err:
                log.warning("cannot keep an embedding in %s: %s", self.folder, err)

    def clear(self) -> None:
        """Forget what is kept in memory (the disk folder stays)."""
        with self._lock:
            self._items.clear()

    def _remember(self, key: str, value: torch.Tensor) -> None:
        self._items[key] = value
        while len(self._items) > self._size:
            self._items.popitem(last=False)
