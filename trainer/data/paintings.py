"""Public-domain paintings that install from Debian, as training images for small models.

``gcompris-qt-data`` ships Qt resource files: ``rcc/details.rcc`` holds eight whole Van Gogh
paintings (``*_background.webp``, next to photographs of landmarks, which are left out) and
``rcc/paintings.rcc`` sixteen more (Bruegel, Hokusai, Hiroshige, Arcimboldo, Bazille, ...)
cut into jigsaw pieces. A piece is a real crop of its painting, so its colours are that
part's colours: pieces serve as crops (their transparent tabs are filled with the piece's
own median colour, so they add no colour of their own). Whole paintings get a few seeded
crops as well.

The paintings are in the public domain; the image files come from the Debian package, whose
copyright file gives GPL-3+ for them. They are training inputs only: no image is shipped in
a bundle. ``paintings.csv`` lists every extracted file with its painting and licence.
"""
from __future__ import annotations

import csv
import io
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

RCC_FOLDER = Path("/usr/share/gcompris-qt/rcc")
# The Van Gogh paintings among details.rcc's backgrounds (the rest are photographs).
VAN_GOGH = ("PortraitOfPereTanguy", "Van_Gogh_The_Night_Cafe", "Eglise_dAuvers-sur-Oise",
            "VincentVanGoghBridge", "VincentVanGogh0012", "VincentVanGogh0013", "Gogh4",
            "VincentVanGogh0019")
LICENCE = ("public-domain painting; image file from Debian gcompris-qt-data "
           "(GPL-3+ per its copyright file)")
_PIECE = re.compile(r"^(?P<painting>.+?)_(?:[a-e][1-5]|\d+)$")


class PaintingsError(RuntimeError):
    """The paintings package or Qt is missing."""


@dataclass
class Crop:
    path: Path
    painting: str  # the painting it was cut from
    kind: str  # "whole", "crop" or "piece"


def _read_resources(names: tuple[str, ...]) -> dict[str, bytes]:
    """Files of Qt resource bundles by resource path (QtCore only, no display needed)."""
    try:
        from PySide6.QtCore import QDirIterator, QFile, QIODevice, QResource
    except ImportError as err:
        raise PaintingsError("reading gcompris' resources needs PySide6: pip install "
                             "PySide6-Essentials") from err
    for name in names:
        path = RCC_FOLDER / name
        if not path.is_file() or not QResource.registerResource(str(path)):
            raise PaintingsError(f"{path} is missing: apt-get install gcompris-qt-data")
    out: dict[str, bytes] = {}
    it = QDirIterator(":/gcompris/src/activities", QDirIterator.IteratorFlag.Subdirectories)
    while it.hasNext():
        res = it.next()
        if res.endswith(".webp") and ("/details/" in res or "/paintings/" in res):
            f = QFile(res)
            if f.open(QIODevice.OpenModeFlag.ReadOnly):
                out[res] = bytes(f.readAll().data())
                f.close()
    return out


def _flatten(img: Image.Image) -> Image.Image:
    """RGBA jigsaw piece -> RGB, transparent parts filled with the piece's median colour."""
    rgba = np.asarray(img.convert("RGBA"))
    opaque = rgba[..., 3] > 128
    fill = np.median(rgba[opaque][:, :3], axis=0) if opaque.any() else np.zeros(3)
    rgb = rgba[..., :3].astype(np.float32)
    a = rgba[..., 3:4].astype(np.float32) / 255
    return Image.fromarray((rgb * a + fill * (1 - a)).astype(np.uint8))


def extract_gcompris(out: Path, crops_per_painting: int = 6, seed: int = 0) -> list[Crop]:
    """Write the Van Gogh paintings, seeded crops of them and every jigsaw piece to ``out``
    as JPEGs; returns them and writes ``paintings.csv`` (file, painting, kind, licence)."""
    from .store import atomic_write_bytes, atomic_write_csv

    files = _read_resources(("details.rcc", "paintings.rcc"))
    out.mkdir(parents=True, exist_ok=True)
    crops: list[Crop] = []
    rng = random.Random(seed)

    def save(img: Image.Image, name: str, painting: str, kind: str) -> None:
        buf = io.BytesIO()
        img.convert("RGB").save(buf, format="JPEG", quality=90)
        atomic_write_bytes(out / name, buf.getvalue())
        crops.append(Crop(out / name, painting, kind))

    for res, data in sorted(files.items()):
        stem = Path(res).stem
        img = Image.open(io.BytesIO(data))
        if "/details/" in res:
            painting = stem.removesuffix("_background")
            if not stem.endswith("_background") or painting not in VAN_GOGH:
                continue
            img = img.convert("RGB")
            save(img, f"{painting}.jpg", painting, "whole")
            w, h = img.size
            for k in range(crops_per_painting):
                f = rng.uniform(0.35, 0.6)
                cw, ch = int(w * f), int(h * f)
                x, y = rng.randrange(0, w - cw + 1), rng.randrange(0, h - ch + 1)
                save(img.crop((x, y, x + cw, y + ch)), f"{painting}_crop{k}.jpg", painting,
                     "crop")
        else:
            m = _PIECE.match(stem)
            if m is None:
                continue
            save(_flatten(img), f"{stem}.jpg", m["painting"], "piece")
    if not crops:
        raise PaintingsError("no paintings found in gcompris-qt-data's resources")
    atomic_write_csv(out / "paintings.csv", [
        {"file": c.path.name, "painting": c.painting, "kind": c.kind, "licence": LICENCE}
        for c in crops])
    return crops


def extract_gcompris_photos(out: Path) -> list[Crop]:
    """The landmark photographs beside the Van Goghs in ``details.rcc`` (castles, bridges,
    a tower, pyramids; 13 of them) as JPEGs in ``out``: never trained on, they are unseen
    pictures for benchmarks. Kind "photo"; the painting field holds the photo's name."""
    from .store import atomic_write_bytes

    files = _read_resources(("details.rcc",))
    out.mkdir(parents=True, exist_ok=True)
    photos = []
    for res, data in sorted(files.items()):
        stem = Path(res).stem
        name = stem.removesuffix("_background")
        if "/details/" not in res or not stem.endswith("_background") or name in VAN_GOGH:
            continue
        buf = io.BytesIO()
        Image.open(io.BytesIO(data)).convert("RGB").save(buf, format="JPEG", quality=90)
        atomic_write_bytes(out / f"{name}.jpg", buf.getvalue())
        photos.append(Crop(out / f"{name}.jpg", name, "photo"))
    return photos


def read_paintings(folder: Path) -> list[Crop]:
    """The crops listed in a folder's ``paintings.csv``."""
    with open(folder / "paintings.csv", newline="", encoding="utf-8") as f:
        return [Crop(folder / r["file"], r["painting"], r["kind"]) for r in csv.DictReader(f)]
