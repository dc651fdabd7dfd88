"""numba's compiled-code cache in a folder the project owns, written by one process at a time.

librosa compiles a few of its functions with numba (beat tracking, peak picking) and numba
caches the machine code beside the package, in site-packages. Two processes compiling into
one cache at once (a test run beside a trainer, say) each number their entries on their own,
so an index can end up naming another process's code, and every later run that loads it
crashes. So the cache lives in the project's cache folder (``NUMBA_CACHE_DIR``, unless the
user chose one), per numba version, and :func:`warm_librosa` compiles what the project uses
under an exclusive file lock, once per process, before any real call needs it.
"""
from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from .paths import cache_dir

_warm = threading.Lock()
_warmed = False


def configure() -> Path:
    """Point numba at the project's cache folder (unless ``NUMBA_CACHE_DIR`` is set); must
    run before numba is imported. Returns the folder."""
    folder = Path(os.environ.get("NUMBA_CACHE_DIR") or cache_dir() / "numba")
    os.environ.setdefault("NUMBA_CACHE_DIR", str(folder))
    return folder


@contextlib.contextmanager
def exclusive() -> Iterator[None]:
    """Hold the cache folder's lock: no other process compiles into it meanwhile."""
    folder = configure()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: numba's cache there is per user and rarely shared
        yield
        return
    with open(folder / ".lock", "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def warm_librosa() -> None:
    """Compile (or load from the cache) the numba code of the librosa calls the project
    makes, under :func:`exclusive`; later calls in this process cost nothing."""
    global _warmed
    with _warm:
        if _warmed:
            return
        with exclusive():
            import librosa
            import numpy as np

            sr = 22050
            t = np.arange(2 * sr, dtype=np.float32) / sr
            y = (0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(
                np.float32)
            librosa.beat.beat_track(y=y, sr=sr)
            env = librosa.onset.onset_strength(y=y, sr=sr, hop_length=512)
            librosa.beat.beat_track(onset_envelope=env, sr=sr, hop_length=512)
            librosa.onset.onset_detect(y=y, sr=sr, hop_length=256, units="time")
            librosa.onset.onset_detect(y=y, sr=sr, hop_length=512, units="time")
        _warmed = True
