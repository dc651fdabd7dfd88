"""Atomic file writes: a crash or a full disk never leaves a half-written file under its name.

Every writer in the project (bundles, clips, dataset arrays, checkpoints, PNGs) goes through
:func:`atomic_path`: write to a temp file in the target's folder, then rename over the target.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Temp files carry this mark (".<name>.a2m-tmp.<random><suffix>"), so whatever a kill -9
# left behind is recognisable and :func:`remove_stale_temps` can clear it on the next start.
TEMP_MARK = ".a2m-tmp."
_STALE = re.compile(r"^\..+" + re.escape(TEMP_MARK))


@contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temp path beside ``path``; when the block succeeds, rename it over ``path``.

    ``suffix`` matters to writers that pick a format or append an extension from the name
    (``np.save`` adds ``.npy`` unless the name ends with it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}", suffix=suffix,
                               dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a player or another user may read it
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Delete the temp files interrupted writes left in ``folder`` (not recursive); returns
    them. Call it only when nothing in this process is writing there (at start-up)."""
    removed = []
    for entry in Path(folder).iterdir() if Path(folder).is_dir() else ():
        if _STALE.match(entry.name) and entry.is_file() and not entry.is_symlink():
            try:
                entry.unlink()
                removed.append(entry)
            except OSError:
                pass
    return removed


_hash_cache: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


def sha256_of(path: str | Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime) so a process hashes it once
    (a 148 MB SoundFont costs ~0.15 s)."""
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _hash_lock:
        if key in _hash_cache:
            return _hash_cache[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    with _hash_lock:
        _hash_cache[key] = h.hexdigest()
    return _hash_cache[key]
