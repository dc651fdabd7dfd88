"""One progress bar for a whole job: each stage its share of the run, never back to 0 %, and an
estimate of the time left for stages that give none of their own (transcription, embedding)."""
from __future__ import annotations

import time

# "Learn my music" on the example data, 2-core x86_64: transcription ~13 s, fine-tuning
# ~200 s (most of it the note model), the verdict ~40 s. Shares of the whole run.
OWN_NOTES = (("transcribe", 0.06), ("embed paintings", 0.02), ("embed comments", 0.04),
             ("plan", 0.06), ("notes", 0.62), ("bundle", 0.02), ("verdict: playing", 0.14),
             ("verdict: listening", 0.04))


class JobProgress:
    """``update(stage, done, total, eta_s)`` -> (whole-job percent, seconds left in the
    stage or None). Unknown stages keep the bar where it is."""

    def __init__(self, phases: tuple[tuple[str, float], ...],
                 clock: callable = time.monotonic) -> None:
        self.clock = clock
        self.start: dict[str, float] = {}
        acc = 0.0
        for name, share in phases:
            self.start[name] = acc
            acc += share
        self.share = dict(phases)
        self.percent = 0
        self.dataset_shown = False  # the own-music dataset's report is on screen
        self._began: dict[str, tuple[float, int]] = {}

    def update(self, stage: str, done: int, total: int, eta_s: float | None = None
               ) -> tuple[int, float | None]:
        if stage not in self.share:
            return self.percent, eta_s
        total = max(1, int(total))
        frac = min(1.0, max(0.0, done / total))
        pct = round(100 * (self.start[stage] + self.share[stage] * frac))
        self.percent = max(self.percent, min(99, pct))  # 100 % is the job's end, not a stage's
        now = self.clock()
        began = self._began.setdefault(stage, (now, done))
        if eta_s is None and done > began[1] and now - began[0] > 0.5:
            rate = (done - began[1]) / (now - began[0])
            eta_s = (total - done) / rate
        return self.percent, eta_s
