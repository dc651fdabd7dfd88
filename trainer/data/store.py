"""Crash-safe files for a resumable build: atomic JSON/arrays and per-row filled arrays.

A killed build must never leave a half-written file under its final name, and a re-run must
redo only what was not finished. Small outputs are written whole (temp file + rename); large
per-row arrays are memory-mapped ``.npy`` files with a ``.done.npy`` mask beside them that is
saved (atomically) only after the rows it marks were flushed.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from a2m_core.fileio import atomic_path, atomic_write_bytes  # noqa: F401 - re-exported


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=2, sort_keys=True).encode("utf-8"))


def atomic_write_csv(path: Path, rows: list[dict[str, Any]],
                     columns: list[str] | None = None) -> None:
    """A CSV of dict rows (columns: the first row's keys unless given), written whole."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns or list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(path, buf.getvalue().encode("utf-8"))


def atomic_save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, array)


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


class RowArray:
    """A ``[rows, *shape]`` array filled row by row across runs.

    Beside it, ``<name>.status.npy`` holds one code per row: 0 = not done yet, anything
    else = done with that outcome (the caller's codes, e.g. 1 ok, 2 corrupt). ``fill``
    computes only rows still at 0, in batches, and saves the codes after each batch has been
    flushed, so a kill loses at most one batch and never marks an unwritten row done.
    """

    TODO = 0
    OK = 1

    def __init__(self, path: Path, rows: int, shape: tuple[int, ...], dtype: str) -> None:
        self.path = path
        self.status_path = path.with_suffix(".status.npy")
        expected = (rows, *shape)
        if path.exists():
            self.array = np.load(path, mmap_mode="r+")
            if self.array.shape != expected or str(self.array.dtype) != dtype:
                raise ValueError(f"{path.name} has shape {self.array.shape} {self.array.dtype}, "
                                 f"expected {expected} {dtype}: remove it to rebuild")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".partial.npy")
            arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=expected)
            arr.flush()
            del arr
            os.replace(tmp, path)  # only a fully created file gets the final name
            self.array = np.load(path, mmap_mode="r+")
        self.status = (np.load(self.status_path) if self.status_path.exists()
                       else np.zeros(rows, dtype=np.int8))

    @property
    def complete(self) -> bool:
        return bool((self.status != self.TODO).all())

    def todo(self) -> np.ndarray:
        return np.flatnonzero(self.status == self.TODO)

    def fill(
        self,
        compute: Callable[[np.ndarray], Iterable[tuple[int, np.ndarray | None, int]]],
        batch: int,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """``compute(row_ids)`` yields ``(row, value, status)``; ``value`` None leaves the
        row zero (a failed row, recorded by its status code)."""
        todo = self.todo()
        total = len(self.status)
        done = total - len(todo)
        for start in range(0, len(todo), batch):
            ids = todo[start : start + batch]
            codes = {}
            for row, value, code in compute(ids):
                if value is not None:
                    self.array[row] = value
                codes[row] = code
            self.array.flush()
            for row, code in codes.items():
                self.status[row] = code
            atomic_save_npy(self.status_path, self.status)
            done += len(ids)
            if progress:
                progress(done, total)
