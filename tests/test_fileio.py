"""Atomic writes: the old file survives a failed write, and no temp file is left behind."""
from __future__ import annotations

import pytest

from a2m_core.fileio import atomic_path, atomic_write_bytes


def test_a_failed_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "clip.wav"
    atomic_write_bytes(target, b"first version")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half a fi")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"first version"
    assert [p.name for p in tmp_path.iterdir()] == ["clip.wav"]
    assert target.stat().st_mode & 0o777 == 0o644


def test_missing_folders_are_created(tmp_path):
    atomic_write_bytes(tmp_path / "a" / "b" / "x.bin", b"1")
    assert (tmp_path / "a" / "b" / "x.bin").read_bytes() == b"1"
