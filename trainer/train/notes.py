"""Training a notes bundle's networks: the projector + control head, then the note model.

Data (``prepare_note_pairs``): each training window of the note corpus is paired with
painting crops near it in the valence-arousal plane (colour -> pleasure/arousal, Valdez &
Mehrabian 1994; tempo, density, loudness, articulation and mode -> valence/arousal, Juslin
& Laukka 2004) and with composed comments of its quadrant (``data/comment_bank``), written
into the composite prompt exactly as the engine writes a user's comment.

1. **Plan**: the gated projector and the control head learn the window's true controls from
   (painting, comment): Gaussian NLL on tempo, notes per beat, register, articulation and
   loudness, cross-entropy on mode, instrument and texture.
2. **Notes**: the note model learns the window's tokens (teacher forcing) given its true
   controls and the pair's fused vector (the projector frozen; the fused vector dropped for
   a share of the samples so the controls carry the plan).

Both stages are seeded; the note model saves after each epoch and resumes there
(``last.pt``: weights, optimiser, epoch, the config it was started with).
"""
from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from a2m_core.encoders import ClipEncoder, EncoderConfig
from a2m_core.fileio import atomic_path, remove_stale_temps
from a2m_core.notes.model import (
    ControlHead,
    Controls,
    NoteModel,
    NotesConfig,
    shift_for,
)
from a2m_core.notes.plan import MODES, TEXTURES
from a2m_core.painting import measure, painting_words
from a2m_core.projector import GatedResidualProjector, ProjectorConfig
from a2m_core.prompt import DEFAULT_TEMPLATE, PromptConfig, build_prompt

from ..data.comment_bank import comment_for
from ..data.note_corpus import read_windows
from ..data.paintings import Crop

log = logging.getLogger(__name__)
Callback = Callable[[dict[str, Any]], None]


@dataclass
class NotesTrainConfig:
    hidden: int = 256  # fused size
    embed: int = 256
    gru_hidden: int = 384
    gru_layers: int = 3
    crops_per_window: int = 3
    nearest: int = 24
    comments_per_pair: int = 2
    plan_epochs: int = 40
    plan_lr: float = 1e-3
    note_epochs: int = 10
    note_lr: float = 2e-3
    batch_size: int = 32
    max_tokens: int = 640  # training sequences are cut here
    fused_dropout: float = 0.3
    image_dropout: float = 0.0  # share of plan-training pairs that see no painting
    no_comment_share: float = 0.0  # share of pairs whose prompt has no comment (a silent visitor)
    seed: int = 0
    threads: int = 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def window_feeling(windows: list[dict[str, Any]]) -> np.ndarray:
    """``[N, 2]`` z-scored (valence, arousal) of windows from their controls (Juslin &
    Laukka 2004: arousal with tempo, density, loudness and detached playing; valence with
    major mode and a quicker tempo)."""
    def z(x: np.ndarray) -> np.ndarray:
        return (x - x.mean()) / max(float(x.std()), 1e-9)

    tempo = np.log([w["tempo"] for w in windows])
    nps = np.log([max(w["notes_per_beat"] * w["tempo"] / 60, 0.05) for w in windows])
    vel = np.array([w["velocity"] for w in windows], float)
    art = np.log([max(w["articulation"], 0.05) for w in windows])
    major = np.array([1.0 if w["mode"] == "major" else -1.0 for w in windows])
    arousal = z(z(tempo) + z(nps) + z(vel) - z(art))
    valence = z(major + 0.4 * z(tempo))
    return np.stack([valence, arousal], 1)


def targets_of(w: dict[str, Any], instruments: tuple[str, ...]) -> dict[str, Any]:
    controls = Controls(w["tempo"], w["notes_per_beat"], w["register"], w["articulation"],
                        w["velocity"])
    return {"cont": controls.continuous(),
            "mode": MODES.index(w["mode"]), "instrument": instruments.index(w["instrument"]),
            "texture": TEXTURES.index(w["texture"])}


def note_cond(w: dict[str, Any]) -> list[float]:
    """The note model's control input for a corpus window (canonical-key register)."""
    return Controls(w["tempo"], w["notes_per_beat"], w["register"] - shift_for(w["tonic"]),
                    w["articulation"], w["velocity"], w["mode"], w["texture"]).cond()


def prepare_note_pairs(corpus: Path, crops: list[Crop], encoder: EncoderConfig, work: Path,
                       cfg: NotesTrainConfig, report: Callable[[str, int, int], None],
                       encoder_state: dict[str, torch.Tensor] | None = None,
                       prompt: PromptConfig | None = None) -> dict[str, Any]:
    """Pairs and their embeddings (cached in ``work/pairs.npz`` + ``pairs.json``);
    ``encoder_state``: the encoder's weights when a bundle carries them. ``prompt``: the
    bundle's composite text; where its template has a ``{painting}`` field, each pair's
    prompt carries its crop's look and subjects as the engine writes them."""
    prompt = prompt or PromptConfig()
    cache = work / "pairs.npz"
    if cache.is_file() and (work / "pairs.json").is_file():
        meta = json.loads((work / "pairs.json").read_text())
        if meta.get("template", DEFAULT_TEMPLATE) == prompt.template:
            data = np.load(cache)
            return {**meta, "image": data["image"], "text": data["text"]}
        log.info("%s was made with another prompt template: making the pairs again", work)
    from PIL import Image

    from a2m_core.image_features import colour_feeling

    windows = [w for w in read_windows(corpus) if w["split"] == "train"]
    va = window_feeling(windows)
    feel = [colour_feeling(Image.open(c.path).convert("RGB")) for c in crops]
    pv = np.array([[f.pleasure, f.arousal] for f in feel])
    pv = (pv - pv.mean(0)) / np.maximum(pv.std(0), 1e-9)
    enc = ClipEncoder(encoder, state_dict=encoder_state)
    img = np.zeros((len(crops), encoder.embed_dim), np.float32)
    for s in range(0, len(crops), 32):
        report("embed paintings", s, len(crops))
        img[s:s + 32] = enc.encode_images([c.path for c in crops[s:s + 32]]).numpy()
    looks = None
    if "{painting}" in prompt.template:
        looks = [measure(Image.open(c.path), subjects)
                 for c, subjects in zip(crops, enc.subjects(torch.from_numpy(img)))]
    rng = random.Random(cfg.seed)
    levels = np.digitize(va[:, 1], [-0.8, 0.0, 0.8])  # arousal quartile-ish levels 0..3
    pairs, prompts = [], []
    for i in range(len(windows)):
        near = np.argsort(np.linalg.norm(pv - va[i], axis=1))[: cfg.nearest]
        for j in rng.sample(list(near), min(cfg.crops_per_window, len(near))):
            for _ in range(cfg.comments_per_pair):
                text = comment_for(int(levels[i]), "pos" if va[i, 0] >= 0 else "neg", rng)
                if cfg.no_comment_share and rng.random() < cfg.no_comment_share:
                    text = ""
                words = painting_words(looks[j], text) if looks is not None else ""
                pairs.append((i, int(j)))
                prompts.append(build_prompt(text, None, None, prompt, words).text)
    uniq = sorted(set(prompts))
    index = {p: k for k, p in enumerate(uniq)}
    txt = np.zeros((len(uniq), encoder.text_embed_dim), np.float32)
    for s in range(0, len(uniq), 256):
        report("embed comments", s, len(uniq))
        txt[s:s + 256] = enc.encode_texts(uniq[s:s + 256]).numpy()
    meta = {"windows": [w["id"] for w in windows],
            "pairs": [(i, j, index[p]) for (i, j), p in zip(pairs, prompts)],
            "prompts": uniq, "crops": [str(c.path) for c in crops],
            "template": prompt.template}
    work.mkdir(parents=True, exist_ok=True)
    with atomic_path(cache, suffix=".npz") as tmp:
        np.savez(tmp, image=img, text=txt)
    with atomic_path(work / "pairs.json", suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(meta))
    return {**meta, "image": img, "text": txt}


def plan_targets(ws: list[dict[str, Any]], instruments: tuple[str, ...]
                 ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The windows' true controls as ``ControlHead.loss`` takes them: continuous,
    categorical."""
    tg = [targets_of(w, instruments) for w in ws]
    cont = torch.tensor([t["cont"] for t in tg], dtype=torch.float32)
    return cont, {k: torch.tensor([t[k] for t in tg]) for k in ("mode", "instrument", "texture")}


def train_plan(data: dict[str, Any], windows: dict[str, dict[str, Any]],
               projector: GatedResidualProjector, head: ControlHead, cfg: NotesTrainConfig,
               callback: Callback | None = None) -> dict[str, float]:
    """Fit the projector and the control head to the windows' true controls."""
    torch.manual_seed(cfg.seed)
    cont, cats = plan_targets([windows[i] for i in data["windows"]], head.cfg.instruments)
    pairs = torch.tensor(data["pairs"])  # [P, 3]: window, crop, prompt
    img, txt = torch.from_numpy(data["image"]), torch.from_numpy(data["text"])
    params = list(projector.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=cfg.plan_lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    bs, n = 256, len(pairs)
    loss_v = 0.0
    for epoch in range(cfg.plan_epochs):
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for s in range(0, n, bs):
            idx = pairs[order[s:s + bs]]
            w, c, p = idx[:, 0], idx[:, 1], idx[:, 2]
            im = img[c]
            if cfg.image_dropout > 0:
                im = im * (torch.rand(len(idx), 1, generator=gen) >= cfg.image_dropout)
            out = head(projector(txt[p], im))
            loss = head.loss(out, cont[w], {k: v[w] for k, v in cats.items()})
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        loss_v = total / n
        if callback:
            callback({"event": "plan_epoch", "epoch": epoch + 1, "epochs": cfg.plan_epochs,
                      "loss": round(loss_v, 4)})
    return {"plan_loss": loss_v}


def plan_once(path: Path, data: dict[str, Any], windows: dict[str, dict[str, Any]],
              projector: GatedResidualProjector, head: ControlHead, cfg: NotesTrainConfig,
              callback: Callback | None = None) -> dict[str, float]:
    """The plan stage, saved to ``path`` when done; when ``path`` holds it, its weights are
    loaded and its result returned instead (a rerun skips the stage)."""
    if path.is_file():
        state = torch.load(path, map_location="cpu", weights_only=True)
        projector.load_state_dict(state["projector"])
        head.load_state_dict(state["head"])
        return state["result"]
    projector.train()
    head.train()
    result = train_plan(data, windows, projector, head, cfg, callback=callback)
    projector.eval()
    head.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save({"projector": projector.state_dict(), "head": head.state_dict(),
                    "result": result}, tmp)
    return result


def _batches(order: list[int], lengths: list[int], bs: int, rng: random.Random
             ) -> list[list[int]]:
    """Batches of similar length (less padding), in a seeded order."""
    by_len = sorted(order, key=lambda i: (lengths[i], i))
    batches = [by_len[s:s + bs] for s in range(0, len(by_len), bs)]
    rng.shuffle(batches)
    return batches


def train_note_model(data: dict[str, Any], windows: dict[str, dict[str, Any]],
                     projector: GatedResidualProjector, model: NoteModel, work: Path,
                     cfg: NotesTrainConfig, val: list[dict[str, Any]] | None = None,
                     callback: Callback | None = None,
                     stop: Callable[[], bool] | None = None,
                     keep_best: bool = False) -> dict[str, float]:
    """Teacher-forced training of the note model; resumes from ``work/last.pt``.

    ``keep_best`` (with ``val``): the model ends with the weights of the epoch whose
    validation loss was lowest (``work/best.pt``), not the last epoch's: a fine-tune on a few
    recordings starts memorising them long before its schedule ends."""
    ids = data["windows"]
    seqs = [windows[i]["tokens"][: cfg.max_tokens] for i in ids]
    conds = torch.tensor([note_cond(windows[i]) for i in ids], dtype=torch.float32)
    pairs_of: dict[int, list[tuple[int, int]]] = {}
    for w, c, p in data["pairs"]:
        pairs_of.setdefault(w, []).append((c, p))
    img, txt = torch.from_numpy(data["image"]), torch.from_numpy(data["text"])
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.note_lr, weight_decay=0.01)
    steps_per_epoch = math.ceil(len(seqs) / cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.note_lr, total_steps=cfg.note_epochs * steps_per_epoch,
        pct_start=0.1)
    start_epoch = 0
    last, best = work / "last.pt", work / "best.pt"
    best_val = math.inf
    remove_stale_temps(work)  # what a killed run was writing
    if last.is_file():
        state = torch.load(last, map_location="cpu", weights_only=True)
        if state["config"] != cfg.to_dict():
            raise ValueError(f"{last} was trained with other settings; delete it or use "
                             f"another work folder")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        start_epoch = int(state["epoch"])
        best_val = float(state.get("best_val", math.inf))
        log.info("note model resumed after epoch %d", start_epoch)
    projector.eval()
    lengths = [len(s) for s in seqs]
    result: dict[str, float] = {}
    for epoch in range(start_epoch, cfg.note_epochs):
        rng = random.Random(f"{cfg.seed}:{epoch}")
        gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
        model.train()
        total, count, t0 = 0.0, 0, time.perf_counter()
        batches = _batches(list(range(len(seqs))), lengths, cfg.batch_size, rng)
        for k, batch in enumerate(batches):
            if stop is not None and stop():
                raise InterruptedError("stopped; run again to continue from the last epoch")
            L = max(lengths[i] for i in batch)
            tok = torch.zeros(len(batch), L, dtype=torch.long)
            for r, i in enumerate(batch):
                tok[r, : lengths[i]] = torch.tensor(seqs[i])
            chosen = [rng.choice(pairs_of[i]) for i in batch]
            with torch.no_grad():
                fused = projector(txt[[p for _, p in chosen]], img[[c for c, _ in chosen]])
            keep = (torch.rand(len(batch), 1, generator=gen) >= cfg.fused_dropout).float()
            logits = model(tok[:, :-1], conds[batch], fused * keep)
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                               tok[:, 1:].reshape(-1), ignore_index=0)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total, count = total + float(loss.detach()), count + 1
            if callback and k % 20 == 0:
                done = epoch * len(batches) + k + 1
                callback({"event": "step", "step": done,
                          "total_steps": cfg.note_epochs * len(batches),
                          "loss": round(total / count, 4),
                          "seconds_per_step": (time.perf_counter() - t0) / (k + 1)})
        result = {"note_loss": total / max(count, 1), "epoch": epoch + 1}
        if val:
            result["note_val_loss"] = validation_loss(model, val, cfg)
        if callback:
            callback({"event": "note_epoch", **result})
        work.mkdir(parents=True, exist_ok=True)
        if keep_best and val and result["note_val_loss"] < best_val:
            best_val = result["note_val_loss"]
            with atomic_path(best, suffix=".pt") as tmp:
                torch.save({"model": model.state_dict(), "epoch": epoch + 1,
                            "val_loss": best_val}, tmp)
        # last.pt is written after best.pt, so a run killed between the two redoes the epoch
        with atomic_path(last, suffix=".pt") as tmp:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(),
                        "sched": sched.state_dict(), "epoch": epoch + 1,
                        "config": cfg.to_dict(), "result": result, "best_val": best_val}, tmp)
    if not result and last.is_file():
        result = torch.load(last, map_location="cpu", weights_only=True)["result"]
    if keep_best and val and best.is_file():
        kept = torch.load(best, map_location="cpu", weights_only=True)
        model.load_state_dict(kept["model"])
        result = {**result, "kept_epoch": int(kept["epoch"]),
                  "kept_val_loss": float(kept["val_loss"])}
        log.info("kept the note model of epoch %d (lowest validation loss, %.3f)",
                 kept["epoch"], kept["val_loss"])
    model.eval()
    return result


@torch.no_grad()
def validation_loss(model: NoteModel, windows: list[dict[str, Any]],
                    cfg: NotesTrainConfig) -> float:
    """Cross-entropy on held-out windows (the fused vector dropped: controls alone)."""
    model.eval()
    total, count = 0.0, 0
    for s in range(0, len(windows), cfg.batch_size):
        batch = windows[s:s + cfg.batch_size]
        seqs = [w["tokens"][: cfg.max_tokens] for w in batch]
        L = max(len(q) for q in seqs)
        tok = torch.zeros(len(batch), L, dtype=torch.long)
        for r, q in enumerate(seqs):
            tok[r, : len(q)] = torch.tensor(q)
        cond = torch.tensor([note_cond(w) for w in batch], dtype=torch.float32)
        fused = torch.zeros(len(batch), model.cfg.input_dim)
        logits = model(tok[:, :-1], cond, fused)
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                           tok[:, 1:].reshape(-1), ignore_index=0,
                                           reduction="sum")
        total += float(loss)
        count += int((tok[:, 1:] != 0).sum())
    model.train()
    return total / max(count, 1)


def build_networks(encoder: EncoderConfig, cfg: NotesTrainConfig
                   ) -> tuple[GatedResidualProjector, ControlHead, NoteModel, NotesConfig]:
    torch.manual_seed(cfg.seed)
    pcfg = ProjectorConfig(text_dim=encoder.text_embed_dim, image_dim=encoder.embed_dim,
                           hidden=cfg.hidden)
    ncfg = NotesConfig(input_dim=cfg.hidden, embed=cfg.embed, hidden=cfg.gru_hidden,
                       layers=cfg.gru_layers)
    return GatedResidualProjector(pcfg), ControlHead(ncfg), NoteModel(ncfg), ncfg
