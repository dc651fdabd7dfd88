"""Start, before torch is imported, the loads that do not need it.

Importing torch costs a 2-core machine one to two seconds of a new process; reading and
checking the notes starter's SoundFont (148 MB: its sha256, then tinysoundfont's read) costs
~0.3 s more and needs no torch. ``start(bundle)`` reads the bundle's header (plain JSON at
the head of the file) and begins that work in a background thread, so the two overlap;
``Art2Music.load`` then finds it done. Anything wrong is left for the real load to say.
"""
from __future__ import annotations

import json
import logging
import struct
from pathlib import Path

log = logging.getLogger(__name__)


def bundle_header(path: Path) -> dict:
    """A bundle's config from its header alone (no tensors read, no torch imported)."""
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        if not 0 < size < 50_000_000:
            raise ValueError(f"{path.name} is not a bundle")
        header = json.loads(f.read(size))
    return json.loads(header["__metadata__"]["config"])


def start(bundle: str | Path | None = None) -> None:
    """Begin what loading ``bundle`` (a path, an installed model's name or None: the
    default) can do before torch: a notes bundle's SoundFont."""
    try:
        from .defaults import resolve

        config = bundle_header(resolve(bundle))
        if config.get("kind") == "notes" and config.get("sampler"):
            from .notes.sampler import SamplerConfig, preload

            preload(SamplerConfig.from_dict(config["sampler"]))
    except Exception as err:  # noqa: BLE001 - the real load says what is wrong, in one line
        log.debug("no warm-up for %s: %s", bundle, err)
