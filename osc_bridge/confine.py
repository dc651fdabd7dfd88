"""Read an image from an allowed folder once, checking the file that was actually opened.

A path checked and read later can be swapped in between (a symlink to ``/etc`` put in place
of a queued ``allowed/swap.png``). So the bridge reads the bytes at acceptance: resolve the
path, refuse it outside the allowed folders or when it is not a regular file, open it
without following a final symlink, check that the opened file is the one that was checked
(same device and inode; on Linux also its real path through ``/proc/self/fd``), read it, and
hand the bytes to the worker. Nothing looks the path up again.
"""
from __future__ import annotations

import errno
import io
import os
import stat
from pathlib import Path

from .protocol import ErrorCode, ProtocolError

# Bigger files are refused before reading (a painting scan is rarely over 100 MB).
MAX_IMAGE_BYTES = 100_000_000


def _shown(path: Path | str, limit: int = 80) -> str:
    text = str(path)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _refuse(message: str, request_id: str) -> ProtocolError:
    return ProtocolError(ErrorCode.FILE_REFUSED, message, request_id)


def _why(err: OSError) -> str:
    if err.errno == errno.ELOOP:
        return "a symlink loop"
    if err.errno == errno.ENAMETOOLONG:
        return "the name is too long"
    return err.strerror or type(err).__name__


def _inside(path: Path, allowed: tuple[Path, ...]) -> bool:
    return any(path.is_relative_to(folder) for folder in allowed)


def _opened_path(fd: int) -> Path | None:
    """The real path of an open file where the OS tells it (Linux), else None."""
    link = f"/proc/self/fd/{fd}"
    try:
        return Path(os.readlink(link))
    except OSError:
        return None


def read_confined(path: Path, allowed: tuple[Path, ...], request_id: str) -> bytes:
    """The bytes of the image at ``path`` if it is a regular file inside ``allowed``.

    Raises:
        ProtocolError: FILE_REFUSED with a one-line reason naming what the path is.
    """
    # Confinement first, on the path with every symlink resolved: an outside path is refused
    # as outside whether or not it exists (no probing of other folders through replies).
    try:
        resolved = path.resolve()
    except RuntimeError:  # Python < 3.13 reports a symlink loop this way
        raise _refuse(f"image path {_shown(path)} is a symlink loop", request_id) from None
    except OSError as err:
        raise _refuse(f"image path {_shown(path)} cannot be used: {_why(err)}", request_id) \
            from None
    if not _inside(resolved, allowed):
        raise _refuse(f"image path {_shown(path)} is outside the allowed folders (start the "
                      "bridge with --allow DIR)", request_id)
    try:
        before = os.stat(resolved)
    except FileNotFoundError:
        raise _refuse(f"image not found: {_shown(path)}", request_id) from None
    except OSError as err:
        raise _refuse(f"image path {_shown(path)} cannot be used: {_why(err)}", request_id) \
            from None
    if not stat.S_ISREG(before.st_mode):
        kind = ("a folder" if stat.S_ISDIR(before.st_mode) else
                "a FIFO" if stat.S_ISFIFO(before.st_mode) else
                "a device" if stat.S_ISCHR(before.st_mode) or stat.S_ISBLK(before.st_mode)
                else "a socket" if stat.S_ISSOCK(before.st_mode) else "special")
        raise _refuse(f"image {_shown(path)} is not a regular file ({kind})", request_id)
    if before.st_size > MAX_IMAGE_BYTES:
        raise _refuse(f"image {_shown(path)} is {before.st_size / 1e6:.0f} MB; at most "
                      f"{MAX_IMAGE_BYTES // 1_000_000} MB are read", request_id)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) \
        | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(resolved, flags)
    except OSError as err:
        raise _refuse(f"image {_shown(path)} changed while it was being checked or cannot be "
                      f"opened ({err.strerror})", request_id) from None
    try:
        opened = os.fstat(fd)
        if (not stat.S_ISREG(opened.st_mode)
                or (opened.st_dev, opened.st_ino) != (before.st_dev, before.st_ino)):
            raise _refuse(f"image {_shown(path)} changed while it was being checked",
                          request_id)
        real = _opened_path(fd)
        if real is not None and not _inside(real, allowed):
            raise _refuse(f"image {_shown(path)} is outside the allowed folders", request_id)
        chunks, total = [], 0
        while block := os.read(fd, 1 << 20):
            chunks.append(block)
            total += len(block)
            if total > MAX_IMAGE_BYTES:
                raise _refuse(f"image {_shown(path)} grew beyond "
                              f"{MAX_IMAGE_BYTES // 1_000_000} MB while read", request_id)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    _check_header(data, path, request_id)
    return data


def _check_header(data: bytes, path: Path, request_id: str) -> None:
    """Refuse non-images at once (a header parse, cheap); full decoding is the worker's."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.size  # noqa: B018 - forces the header parse
    except Exception as err:  # noqa: BLE001 - PIL raises many types
        raise _refuse(f"{_shown(path.name, 60)} is not a readable image "
                      f"({type(err).__name__})", request_id) from None
