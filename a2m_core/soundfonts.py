"""SoundFonts where no system package installs them: fetched from a mirror, checked.

A notes bundle names its SoundFont by path and sha256 (``notes.sampler.SoundFontRef``). On
Debian and Ubuntu the system package puts it there; on macOS, Windows or another Linux,
``a2m models fetch fluidr3-gm`` downloads the same Debian package from Debian's mirror
(its sha256 is the one Debian's signed package index states), takes the SoundFont out of it
and checks the SoundFont's own sha256 before it is used. The sampler then finds it in the
models folder by that sha256.
"""
from __future__ import annotations

import io
import tarfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from .errors import ModelLoadError
from .fileio import atomic_path

# SoundFont sha256 -> the catalogue entry that fetches it (``registry.BUILTIN``)
FETCHABLE = {"74594e8f4250680adf590507a306655a299935343583256f3b722c48a1bc1cb0": "fluidr3-gm"}


def fetched_path(sha256: str, name: str) -> Path | None:
    """Where ``a2m models fetch`` put the SoundFont of this sha256 (None: not fetched)."""
    from .registry import model_dir

    entry = FETCHABLE.get(sha256)
    if entry is None:
        return None
    path = model_dir(entry) / name
    return path if path.is_file() else None


def how_to_get(package: str, sha256: str) -> str:
    """One line: the system package, and the fetch command where one exists."""
    apt = f"apt-get install {package} (Debian, Ubuntu)" if package else ""
    entry = FETCHABLE.get(sha256)
    fetch = (f"`a2m models fetch {entry}` (any system: downloads it and checks its sha256)"
             if entry else "")
    return " or ".join(x for x in (apt, fetch) if x) or "install the package that holds it"


def _ar_members(f: BinaryIO) -> dict[str, tuple[int, int]]:
    """The members of a Debian package (an ``ar`` archive): name -> (offset, size)."""
    if f.read(8) != b"!<arch>\n":
        raise ModelLoadError("not a Debian package (no ar archive header)")
    members = {}
    while True:
        header = f.read(60)
        if len(header) < 60:
            return members
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            raise ModelLoadError("a malformed Debian package (member size)") from None
        members[name] = (f.tell(), size)
        f.seek(size + (size % 2), io.SEEK_CUR)  # members are padded to an even size


def extract_from_deb(deb: Path, member: str, out: Path, sha256: str) -> Path:
    """Take ``member`` (its path in the package, e.g. ``usr/share/sounds/sf2/x.sf2``) out of
    a Debian package into ``out`` (atomically) and check its sha256.

    Raises:
        ModelLoadError: not a package, no such file in it, or the file is not the one
        expected (the partial is removed).
    """
    import hashlib

    want = PurePosixPath(member.lstrip("/"))
    with open(deb, "rb") as f:
        data = [(name, span) for name, span in _ar_members(f).items()
                if name.startswith("data.tar")]
        if not data:
            raise ModelLoadError(f"{deb.name}: no data archive in this Debian package")
        offset, size = data[0][1]
        f.seek(offset)
        try:
            tar = tarfile.open(fileobj=io.BytesIO(f.read(size)), mode="r:*")
        except tarfile.TarError as err:
            raise ModelLoadError(f"{deb.name}: cannot read its data archive ({err})") from err
        with tar:
            info = next((m for m in tar.getmembers() if m.isfile()
                         and PurePosixPath(m.name.lstrip("./")) == want), None)
            if info is None:
                raise ModelLoadError(f"{deb.name} holds no {want}")
            source = tar.extractfile(info)
            assert source is not None
            digest = hashlib.sha256()
            with atomic_path(out, suffix=out.suffix) as tmp, open(tmp, "wb") as dst:
                while chunk := source.read(1 << 20):
                    digest.update(chunk)
                    dst.write(chunk)
                if digest.hexdigest() != sha256:
                    raise ModelLoadError(f"{want.name} from {deb.name} has sha256 "
                                         f"{digest.hexdigest()[:16]}…, expected "
                                         f"{sha256[:16]}…: refused")
    return out
