"""What every ``a2m-train`` command shares: progress (bars, or JSON lines for GUIs), the
common options and the log."""
from __future__ import annotations

import argparse
import json
import logging
import sys

log = logging.getLogger("a2m-train")


class ProgressPrinter:
    """tqdm bars per stage, or JSON lines."""

    def __init__(self, json_lines: bool) -> None:
        self.json_lines = json_lines
        self.bars: dict[str, object] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.json_lines:
            print(json.dumps({"event": "progress", "stage": stage, "done": done,
                              "total": total}), flush=True)
            return
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = tqdm(total=total, desc=f"{stage:<16}", file=sys.stderr,
                                          unit="row", dynamic_ncols=True)
        bar.total = total
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def add_common(p: argparse.ArgumentParser) -> None:
    """The options every training command takes."""
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda[:N]")
    p.add_argument("--json-progress", action="store_true", help="JSON lines on stdout")
