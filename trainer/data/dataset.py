"""Reading a built ArtiCaps folder: the pairs table, mels and embeddings, memory-mapped."""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from a2m_core.audio import MelConfig

SPLITS = ("train", "val", "test")


@dataclass
class ArtiCaps:
    """A finished dataset folder. Arrays are memory-mapped: nothing is decoded per step."""

    root: Path
    manifest: dict
    pairs: list[dict[str, str]]
    clips: list[dict[str, str]]
    mels: np.ndarray  # [n_clip_candidates, n_mels, T] float16, normalised
    image_emb: np.ndarray | None  # [n_paintings, D] float32
    text_emb: np.ndarray | None  # [n_pairs, D] float32 (composite prompts)

    @classmethod
    def open(cls, root: str | Path) -> ArtiCaps:
        root = Path(root)
        manifest_path = root / "manifest.json"
        if not manifest_path.is_file():
            raise FileNotFoundError(f"{root} is not an ArtiCaps dataset (no manifest.json)")
        manifest = json.loads(manifest_path.read_text())
        if not manifest.get("complete"):
            raise ValueError(f"{root} is an unfinished build: run `a2m-train build` again "
                             f"with the same arguments to finish it")
        with open(root / "pairs.csv", newline="", encoding="utf-8") as f:
            pairs = list(csv.DictReader(f))
        with open(root / "clips.csv", newline="", encoding="utf-8") as f:
            clips = list(csv.DictReader(f))
        emb = (root / "image_emb.npy").exists()
        return cls(root, manifest, pairs, clips, np.load(root / "mels.npy", mmap_mode="r"),
                   np.load(root / "image_emb.npy", mmap_mode="r") if emb else None,
                   np.load(root / "text_emb.npy", mmap_mode="r") if emb else None)

    @property
    def mel_config(self) -> MelConfig:
        return MelConfig.from_dict(self.manifest["config"]["mel"])

    def split(self, name: str) -> list[int]:
        """Pair indices of one split."""
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}")
        return [i for i, p in enumerate(self.pairs) if p["split"] == name]

    def wave(self, pair: int) -> np.ndarray:
        """The reference audio of a pair's clip, at the dataset's sample rate."""
        from .sources import ClipRow, clip_wave

        c = self.clips[int(self.pairs[pair]["clip"])]
        row = ClipRow(0, c["ytid"], float(c["start_s"]), float(c["end_s"]), [], "",
                      c["caption"], Path(c["audio"]), c["precut"] == "True")
        return clip_wave(row, self.mel_config.sample_rate)[: self.mel_config.n_samples]

    def mel(self, pair: int) -> np.ndarray:
        """Normalised mel ``[n_mels, T]`` (float32) of the clip matched to a pair."""
        return np.asarray(self.mels[int(self.pairs[pair]["mel_row"])], dtype=np.float32)
