"""Fine-tune a notes bundle (the starter, by default) on a person's own music, on a CPU.

The starter already knows what notes, keys and bars are; a person's tunes teach it their
style in a few hundred steps. Steps, each resumable:

1. **Pairs** (``train/notes.prepare_note_pairs``): the person's windows (``data/own_notes``)
   paired with their paintings' crops through feeling, with composed comments.
2. **Plan**: the projector and control head continue from the base bundle, at a lower
   learning rate, on the person's windows' true controls (tempo, loudness, instrument...).
   Saved as ``plan.pt`` when done (a stop during it repeats it: it takes seconds).
3. **Notes**: the note model continues from the base bundle, teacher-forced on the person's
   windows; saved after every epoch (``notes/last.pt``), so a stop loses at most one.
4. The bundle is written (atomically) with the base's encoders, sampler and SoundFont.

Events (``callback``): ``{"event": "finetune", "stage", "done", "total", "eta_s", ...}``.
The ETA is measured: the time the note stage has taken per step so far, times the steps
left. Before its first step it is an estimate from one timed batch (the plan's steps cost
milliseconds).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from a2m_core.bundle import BundleModules, load_bundle, save_bundle
from a2m_core.fileio import atomic_path

from .data.note_corpus import read_windows
from .data.paintings import Crop
from .train.notes import NotesTrainConfig, plan_once, prepare_note_pairs, train_note_model

log = logging.getLogger(__name__)
Callback = Callable[[dict[str, Any]], None]
CURVE = "curve.jsonl"  # the note stage's loss events, one JSON line each


@dataclass
class FinetuneConfig:
    base: str | None = None  # a notes bundle path or model name (None: the starter)
    plan_epochs: int = 30
    plan_lr: float = 3e-4
    note_steps: int = 150  # about; whole epochs are run
    note_lr: float = 4e-4
    batch_size: int = 16
    seed: int = 0
    threads: int = 2

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Eta:
    """Seconds left, from the measured cost of each stage's steps (an estimate per step until
    a stage has run one)."""

    def __init__(self, totals: dict[str, int], seconds_per_step: dict[str, float]) -> None:
        self.totals, self.rate = totals, dict(seconds_per_step)
        self.done = {k: 0 for k in totals}
        self.started: dict[str, tuple[float, int]] = {}

    def begin(self, stage: str, done: int = -1) -> None:
        """The stage starts now; ``done``: its steps already done (-1: the first report
        comes after exactly one more step, whatever it counts)."""
        self.started[stage] = (time.perf_counter(), done)

    def step(self, stage: str, done: int) -> float:
        now = time.perf_counter()
        if stage not in self.started:
            self.started[stage] = (now, done)
        t0, d0 = self.started[stage]
        if d0 < 0:  # begun before its first step: that step is the first measurement
            d0 = done - 1
            self.started[stage] = (t0, d0)
        if done - d0 >= 1:
            self.rate[stage] = (now - t0) / (done - d0)
        self.done[stage] = done
        return self.left()

    def left(self) -> float:
        return sum(max(self.totals[k] - self.done[k], 0) * self.rate.get(k, 0.0)
                   for k in self.totals)


def _base_path(base: str | None) -> Path:
    from a2m_core.defaults import STARTER, resolve

    return resolve(base) if base else STARTER


def _seconds_per_note_step(model: Any, windows: list[dict[str, Any]], tcfg: NotesTrainConfig,
                           work: Path, held_out: int = 0) -> tuple[float, float]:
    """The mean training step's time, before training: a batch of median length is timed
    whole and cut to half its length, which gives a fixed cost and a cost per token; the
    trainer's own batches (windows of similar length together) hold so many tokens on average;
    plus each epoch's end shared over its steps (the held-out loss, a forward pass over
    ``held_out`` windows, and the checkpoint: weights and Adam's two moments, written).
    Returns (seconds per step, seconds to write the checkpoint)."""
    from torch import nn

    from .train.notes import note_cond

    state = {k: v.clone() for k, v in model.state_dict().items()}
    was_training = model.training
    model.train()  # as it trains: dropout between the GRU's layers costs time too
    lengths = sorted(min(len(w["tokens"]), tcfg.max_tokens) for w in windows)
    chunks = [lengths[s:s + tcfg.batch_size] for s in range(0, len(lengths), tcfg.batch_size)]
    mean_cost = sum(len(c) * c[-1] for c in chunks) / len(chunks)  # padded tokens per step
    ranked = sorted(windows, key=lambda w: len(w["tokens"]))
    mid = len(ranked) // 2
    batch = ranked[max(0, mid - tcfg.batch_size // 2):][: tcfg.batch_size]
    L = min(max(len(w["tokens"]) for w in batch), tcfg.max_tokens)
    tok = torch.zeros(len(batch), L, dtype=torch.long)
    for r, w in enumerate(batch):
        seq = w["tokens"][:L]
        tok[r, : len(seq)] = torch.tensor(seq)
    cond = torch.tensor([note_cond(w) for w in batch], dtype=torch.float32)
    fused = torch.zeros(len(batch), model.cfg.input_dim)

    def timed(length: int) -> float:
        best = math.inf
        for _ in range(3):  # the best of three: the first passes also allocate
            t0 = time.perf_counter()
            logits = model(tok[:, : length - 1], cond, fused)
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                               tok[:, 1:length].reshape(-1), ignore_index=0)
            loss.backward()
            best = min(best, time.perf_counter() - t0)
        return best

    # a step costs a fixed part (Python, the optimiser) and a part per padded token: two
    # lengths tell them apart
    short = max(2, L // 2)
    full, half = timed(L), timed(short)
    per_token = max(full - half, 1e-9) / (len(batch) * max(L - short, 1))
    fixed = max(full - per_token * len(batch) * L, 0.0)
    model.zero_grad(set_to_none=True)
    model.load_state_dict(state)
    model.train(was_training)
    t0 = time.perf_counter()
    probe = work / "eta-probe.pt"  # written as the trainer writes its checkpoint, then gone
    with atomic_path(probe, suffix=".pt") as tmp:
        torch.save({"model": state, "moments": [state, state]}, tmp)
    probe.unlink()
    save = time.perf_counter() - t0
    epoch_end = save + per_token / 3 * held_out * L  # the held-out pass: forward only
    return (fixed + per_token * mean_cost) * 1.05 + epoch_end / len(chunks), save


def finetune_notes(corpus: Path, crops: list[Crop], out_bundle: Path, work: Path,
                   cfg: FinetuneConfig | None = None, callback: Callback | None = None,
                   stop: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Fine-tune the base notes bundle on ``corpus`` (resumable); writes ``out_bundle``.

    Raises:
        ValueError: the base is not a notes bundle, or the corpus has no training windows.
        InterruptedError: ``stop`` returned true (run again to continue).
    """
    cfg = cfg or FinetuneConfig()
    torch.set_num_threads(cfg.threads)
    work.mkdir(parents=True, exist_ok=True)
    curve = work / CURVE

    def emit(e: dict[str, Any]) -> None:
        if e.get("stage") == "notes" and e.get("loss") is not None:
            with open(curve, "a", encoding="utf-8") as f:  # a resumed run's curve goes on
                f.write(json.dumps({k: e[k] for k in ("stage", "done", "total", "loss",
                                                      "val_loss", "epoch_end")}) + "\n")
        if callback is not None:
            callback(e)

    t_start = time.perf_counter()
    base_path = _base_path(cfg.base)
    base = load_bundle(base_path)
    if not base.config.is_notes:
        raise ValueError(f"{base_path.name} is a mel bundle: fine-tuning starts from a notes "
                         f"bundle (the starter is one)")
    mods = base.modules()
    projector, head, model = mods.projector, mods.notes_head, mods.notes_model
    ncfg = base.config.notes
    windows = {w["id"]: w for w in read_windows(corpus)}
    train = [w for w in windows.values() if w["split"] == "train"]
    if not train:
        raise ValueError(f"{corpus} has no training windows")
    val = [w for w in windows.values() if w["split"] == "test"]
    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    note_epochs = max(2, round(cfg.note_steps / steps_per_epoch))
    tcfg = NotesTrainConfig(hidden=ncfg.input_dim, embed=ncfg.embed, gru_hidden=ncfg.hidden,
                            gru_layers=ncfg.layers, plan_epochs=cfg.plan_epochs,
                            plan_lr=cfg.plan_lr, note_epochs=note_epochs,
                            note_lr=cfg.note_lr, batch_size=cfg.batch_size, seed=cfg.seed,
                            threads=cfg.threads)
    report = lambda st, d, t: emit({"event": "finetune", "stage": st, "done": d,  # noqa: E731
                                    "total": t, "eta_s": None})
    data = prepare_note_pairs(corpus, crops, base.config.encoder, work / "pairs", tcfg, report,
                              encoder_state=base.part("encoder") or None,
                              prompt=base.config.prompt)
    n_pairs = len(data["pairs"])
    plan_steps = cfg.plan_epochs * math.ceil(n_pairs / 256)
    note_total = note_epochs * steps_per_epoch
    step_s, save_s = _seconds_per_note_step(model, train, tcfg, work, len(val))
    eta = Eta({"plan": plan_steps, "notes": note_total, "bundle": 1},
              {"plan": 0.004, "notes": step_s, "bundle": save_s})
    def plan_event(e: dict[str, Any]) -> None:
        done = e["epoch"] * math.ceil(n_pairs / 256)
        emit({"event": "finetune", "stage": "plan", "done": e["epoch"], "total": e["epochs"],
              "loss": e["loss"], "eta_s": eta.step("plan", done)})
        if stop is not None and stop():
            raise InterruptedError("stopped during the plan; run again to continue")

    plan_path = work / "plan.pt"
    planned = plan_path.is_file()
    plan_result = plan_once(plan_path, data, windows, projector, head, tcfg, plan_event)
    if planned:
        eta.step("plan", plan_steps)

    def note_event(e: dict[str, Any]) -> None:
        if e["event"] == "step":
            done = e["step"]  # steps completed, this one included
        elif e["event"] == "note_epoch":
            done = e["epoch"] * steps_per_epoch
        else:
            return
        emit({"event": "finetune", "stage": "notes", "done": done, "total": note_total,
              "loss": e.get("loss", e.get("note_loss")), "epoch_end": e["event"] ==
              "note_epoch", "val_loss": e.get("note_val_loss"),
              "eta_s": eta.step("notes", done)})

    eta.begin("notes")
    note_result = train_note_model(data, windows, projector, model, work / "notes", tcfg,
                                   val=val or None, callback=note_event, stop=stop,
                                   keep_best=True)
    rows = _instruments(windows)
    config = dataclasses.replace(
        base.config, name=out_bundle.stem, starter=False,
        description=(f"notes model fine-tuned from {base.config.name} on "
                     f"{len({w['piece'] for w in windows.values()})} of your recordings "
                     f"({len(train)} windows; mostly {rows}), then played by the SoundFont "
                     f"sampler"),
        provenance={"recipe": "a2m-train own-music --notes", "base": base.config.name,
                    "base_file": base_path.name, "finetune": cfg.to_dict(),
                    "corpus": str(corpus), "windows": len(windows),
                    **{k: round(float(v), 4) for k, v in {**plan_result,
                                                          **note_result}.items()}})
    out_bundle.parent.mkdir(parents=True, exist_ok=True)
    save_bundle(out_bundle, config, BundleModules(projector, None, None, head, model),
                encoder_state=base.part("encoder") or None)
    seconds = time.perf_counter() - t_start
    emit({"event": "finetune", "stage": "done", "done": 1, "total": 1, "eta_s": 0.0,
          "seconds": round(seconds, 1), "kept_epoch": note_result.get("kept_epoch"),
          "epochs": note_epochs})
    (work / "finetune.json").write_text(json.dumps(
        {"bundle": str(out_bundle), "seconds": round(seconds, 1), **plan_result,
         **note_result}, indent=1))
    return {"bundle": str(out_bundle), "seconds": seconds, **plan_result, **note_result}


def _instruments(windows: dict[str, dict[str, Any]]) -> str:
    from collections import Counter

    return ", ".join(i for i, _ in Counter(w["instrument"] for w in windows.values())
                     .most_common(2))
