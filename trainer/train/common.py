"""What both stages share: structured logs, atomic checkpoints, seeding, distributed setup.

Logs are JSON lines (``train_log.jsonl`` in the run folder, and stdout with
``--json-progress``): ``{"event": "step"|"val"|"checkpoint"|"done"|"stopped", "stage": ...,
"epoch": ..., "step": ..., "loss": ..., "samples_per_s": ..., "eta_s": ...}``, so the trainer
GUI parses the same lines a terminal shows.

Checkpoints are ``torch.save`` dicts of tensors and plain values, written to a temp file
and renamed, and read back with ``weights_only=True``; they carry their configs so a resume
cannot silently change the architecture.
"""
from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from a2m_core.fileio import atomic_path

Event = dict[str, Any]
Callback = Callable[[Event], None]


class RunLog:
    """Appends JSON lines to ``<run>/train_log.jsonl`` and forwards each event."""

    def __init__(self, folder: Path, callback: Callback | None = None,
                 enabled: bool = True) -> None:
        self.path = folder / "train_log.jsonl"
        self.callback = callback
        self.enabled = enabled

    def __call__(self, event: str, **fields: Any) -> None:
        if not self.enabled:
            return
        record = {"event": event, "time": round(time.time(), 3), **fields}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if self.callback:
            self.callback(record)


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint this trainer wrote (tensors and plain containers only).

    Raises:
        BundleError: missing, corrupt, unsafe, or not a checkpoint dict (one line).
    """
    from a2m_core.errors import BundleError
    from a2m_core.reference import load_torch_file

    ckpt = load_torch_file(path)
    if not isinstance(ckpt, dict):
        raise BundleError(f"{path} is not a training checkpoint (no dict inside)")
    return ckpt


def refuse_other_settings(what: str, saved: dict[str, Any], wanted: dict[str, Any],
                          keys: Any, fix: str) -> None:
    """Raise one ValueError line naming each of ``keys`` whose saved value differs from the
    wanted one (a key the saved record lacks counts as unchanged: older records)."""
    changed = sorted(k for k in keys if k in saved and saved[k] != wanted[k])
    if changed:
        raise ValueError(f"{what} with other settings ("
                         + ", ".join(f"{k} {saved[k]!r} -> {wanted[k]!r}" for k in changed)
                         + f"): {fix}")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state()[1].tolist(),
            "python": list(random.getstate()[1])}


@dataclass
class Dist:
    """torchrun's environment, or a single process."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def setup(cls, device: torch.device) -> Dist:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return cls(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))

    def mean(self, value: float) -> float:
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(t)
        return float(t.item()) / self.world

    def close(self) -> None:
        if self.world > 1 and dist.is_initialized():
            # All ranks leave together: a rank that tore gloo down while rank 0 was still
            # writing its last checkpoint aborted at exit ("terminate called without an
            # active exception", SIGABRT): 2 of 9 runs of the training tests here.
            dist.barrier()
            dist.destroy_process_group()


def pick_device(device: str | None) -> torch.device:
    if device in (None, "auto"):
        local = int(os.environ.get("LOCAL_RANK", 0))
        return torch.device(f"cuda:{local}" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
