"""The History kept between sessions: each clip's sound, mel, notes and plan in a folder of
its own, so a clip made yesterday plays, saves and shows its plan after a restart.

One folder per clip (``<time>-<n>/``: ``clip.wav``, ``mel.npy``, ``clip.json``), written under
a temporary name and renamed into place, so a crash never leaves half a clip. At most
``KEEP`` clips are kept; the oldest go first. A folder that can't be read is skipped with a
log line.
"""
from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from a2m_core import Clip
from a2m_core.notes.plan import Pins, Plan
from a2m_core.notes.score import Note

log = logging.getLogger(__name__)
KEEP = 50


@dataclass
class Stored:
    clip: Clip
    painting: Path
    pins: Pins | None
    seconds: float
    visitor: bool


class HistoryStore:
    def __init__(self, folder: Path, keep: int = KEEP) -> None:
        self.folder, self.keep = Path(folder), keep

    def _entries(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.iterdir()
                      if p.is_dir() and not p.name.startswith("."))

    def save(self, stored: Stored) -> Path | None:
        """Keep one clip; returns its folder (None when the disk refused: logged)."""
        clip = stored.clip
        name = f"{time.time_ns()}-{len(self._entries())}"
        tmp = self.folder / f".{name}.partial"
        try:
            tmp.mkdir(parents=True)
            clip.save(tmp / "clip.wav")
            np.save(tmp / "mel.npy", clip.mel.astype(np.float32))
            meta = {
                "comment": clip.comment, "prompt": clip.prompt, "seed": clip.seed,
                "bundle": clip.bundle_name, "sample_rate": clip.sample_rate,
                "plan": _plan_fields(clip.plan) if clip.plan else None,
                "notes": [list(asdict(n).values()) for n in clip.notes or []],
                "painting": str(stored.painting), "seconds": stored.seconds,
                "visitor": stored.visitor,
                "pins": ({k: v for k, v in asdict(stored.pins).items() if v is not None}
                         if stored.pins else None)}
            (tmp / "clip.json").write_text(json.dumps(meta), encoding="utf-8")
            final = self.folder / name
            tmp.rename(final)
        except OSError as err:
            log.warning("could not keep a clip in the history folder %s: %s", self.folder, err)
            shutil.rmtree(tmp, ignore_errors=True)
            return None
        for old in self._entries()[:-self.keep]:
            shutil.rmtree(old, ignore_errors=True)
        return final

    def load(self) -> list[Stored]:
        """Every kept clip, oldest first."""
        import soundfile as sf

        out = []
        for entry in self._entries():
            try:
                meta = json.loads((entry / "clip.json").read_text(encoding="utf-8"))
                audio, sr = sf.read(entry / "clip.wav", dtype="float32")
                mel = np.load(entry / "mel.npy")
                plan = Plan(**meta["plan"]) if meta.get("plan") else None
                notes = [Note(*n) for n in meta.get("notes") or []] if plan else None
                clip = Clip(audio=audio, sample_rate=int(sr), mel=mel, prompt=meta["prompt"],
                            comment=meta["comment"], seed=meta["seed"],
                            bundle_name=meta.get("bundle", ""), plan=plan, notes=notes)
                pins = Pins(**meta["pins"]) if meta.get("pins") else None
                out.append(Stored(clip, Path(meta["painting"]), pins,
                                  float(meta.get("seconds", 0.0)), bool(meta.get("visitor"))))
            except (OSError, ValueError, KeyError, TypeError) as err:
                log.warning("skipped history entry %s: %s", entry.name, err)
        return out

    def clear(self) -> None:
        for entry in self._entries():
            shutil.rmtree(entry, ignore_errors=True)


def _plan_fields(plan: Plan) -> dict[str, Any]:
    return {f.name: getattr(plan, f.name) for f in fields(plan)}
