"""Train on your own music: a folder of recordings and a folder of paintings -> a model.

**Notes** (``build_own_notes_model``, the default: minutes on a CPU): the recordings are
transcribed and cut into note windows (``data/own_notes.py``), the starter's note model and
plan head are fine-tuned on them (``finetune_notes.py``), and the result is played on the
paintings and judged in a sentence (``evaluate/verdict.py``).

**Paper** (``build_own_dataset``: the mel model, for a GPU). The same pieces as the mel
starter's recipe (``starter.py``), with the user's files in place of the registries' music
and Debian's paintings:

1. **Corpus** (``data/corpus.py``): each recording is cut into 10.4 s windows and captioned
   from what is measured in it (tempo, loudness, onsets, brightness, key, mood words by the
   Juslin & Laukka cue rule); ``licences.csv`` records the licence the user states.
2. **Paintings**: each image whole plus seeded crops (``paintings.csv``).
3. **Pairs** (``data/emotion_pairs.py``): windows and crops paired through emotion (music
   cues and colour), split by piece and by painting.

Then stage 1, export and evaluation are the usual steps (the trainer window's tabs).
"""
from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from a2m_core.images import IMAGE_SUFFIXES

from .data.corpus import CorpusConfig, build_corpus
from .data.paintings import Crop
from .data.recordings import AUDIO_SUFFIXES, recording_notes
from .data.store import atomic_write_bytes

Progress = Callable[[str, int, int], None]
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXAMPLE_MUSIC = EXAMPLES / "own-music"
SOURCE = "your-music"


class OwnMusicError(ValueError):
    """The folders can't make a dataset; the message says what is missing."""


@dataclass
class OwnMusicConfig:
    music: Path  # a folder of recordings (searched recursively)
    paintings: Path  # a folder of images (not recursive)
    work: Path  # corpus/, paintings/, dataset/ are written here
    licence: str = "the owner's; used here for training only"
    windows_per_track: int = 6
    crops_per_painting: int = 6
    seed: int = 0


def check_inputs(cfg: OwnMusicConfig) -> tuple[list[Path], list[Path]]:
    """(recordings, paintings), or a one-line reason why they can't make a dataset.

    Raises:
        OwnMusicError: a folder is missing or holds too few usable files.
    """
    if not cfg.music.is_dir():
        raise OwnMusicError(f"music folder not found: {cfg.music}")
    if not cfg.paintings.is_dir():
        raise OwnMusicError(f"paintings folder not found: {cfg.paintings}")
    tracks = sorted(t for t in cfg.music.rglob("*") if t.suffix.lower() in AUDIO_SUFFIXES)
    images = sorted(p for p in cfg.paintings.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if len(tracks) < 3:
        raise OwnMusicError(f"{cfg.music} holds {len(tracks)} recording(s); at least 3 are "
                            f"needed (one each to train, validate and test), in "
                            f"{', '.join(sorted(AUDIO_SUFFIXES))}")
    if len(images) < 3:
        raise OwnMusicError(f"{cfg.paintings} holds {len(images)} image(s); at least 3 are "
                            f"needed (one each to train, validate and test), in "
                            f"{', '.join(sorted(IMAGE_SUFFIXES))}")
    return tracks, images


def painting_crops(images: list[Path], out: Path, per_painting: int, seed: int) -> list[Crop]:
    """Each image whole and ``per_painting`` seeded crops, as JPEGs in ``out``."""
    import io

    from a2m_core.images import load_image

    from .data.store import atomic_write_bytes, atomic_write_csv

    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    crops: list[Crop] = []
    for path in images:
        img = load_image(path)  # upright and 8-bit, as the engine will see it
        img.thumbnail((1024, 1024))
        name = "".join(c if c.isalnum() else "-" for c in path.stem)
        views = [("whole", img)]
        w, h = img.size
        for _ in range(per_painting):
            f = rng.uniform(0.35, 0.6)
            cw, ch = int(w * f), int(h * f)
            x, y = rng.randrange(0, w - cw + 1), rng.randrange(0, h - ch + 1)
            views.append(("crop", img.crop((x, y, x + cw, y + ch))))
        for k, (kind, view) in enumerate(views):
            buf = io.BytesIO()
            view.save(buf, format="JPEG", quality=90)
            file = out / f"{name}_{k}.jpg"
            atomic_write_bytes(file, buf.getvalue())
            crops.append(Crop(file, name, kind))
    atomic_write_csv(out / "paintings.csv", [
        {"file": c.path.name, "painting": c.painting, "kind": c.kind, "licence": "yours"}
        for c in crops])
    return crops


def build_own_dataset(cfg: OwnMusicConfig, encoder: Any, progress: Progress | None = None,
                      stop: threading.Event | None = None) -> Path:
    """Corpus -> crops -> emotion pairs; returns the dataset folder (resumable).

    A recording that cannot be used (unreadable, empty, under 4 s, silent) is left out with
    one line in ``corpus/skipped.csv`` and the dataset's report; the others go on.

    Raises:
        OwnMusicError: unusable folders, or fewer than 3 usable recordings.
        InterruptedError: ``stop`` was set (run again to continue).
    """
    from .data.emotion_pairs import PairingConfig, build_emotion_pairs

    tracks, images = check_inputs(cfg)
    corpus = cfg.work / "corpus"
    source = {
        "folder": str(cfg.music), "licence": cfg.licence,
        "attribution": f"recordings from {cfg.music}", "labels": ("Music",),
        "phrase": "a piece from your own collection", "keyword": "recording", "tail_s": 0,
        "missing": f"no recordings in {cfg.music}",
    }
    build_corpus(CorpusConfig(out=corpus, sources=(SOURCE,), debian={SOURCE: source},
                              windows_per_track=cfg.windows_per_track, seed=cfg.seed),
                 progress=progress, stop=stop)
    if stop is not None and stop.is_set():
        raise InterruptedError("stopped after the corpus; run again to continue")
    notes = recording_notes(corpus)
    pieces = {json.loads(p.read_text())["piece"] for p in (corpus / "items").glob("*.json")}
    if len(pieces) < 3:
        raise OwnMusicError(f"only {len(pieces)} of the {len(tracks)} recordings in "
                            f"{cfg.music} could be used; at least 3 are needed ("
                            + "; ".join(f"{f}: {n}" for f, n in sorted(notes.items())) + ")")
    crops = painting_crops(images, cfg.work / "paintings", cfg.crops_per_painting, cfg.seed)
    dataset = cfg.work / "dataset"
    if not (dataset / "manifest.json").is_file():
        build_emotion_pairs(PairingConfig(corpus=corpus, crops=crops, out=dataset,
                                          encoder=encoder, seed=cfg.seed), progress=progress)
        if notes:  # the report says what was left out or changed, file by file
            report = dataset / "report.md"
            lines = ["", "## Recordings left out or changed", ""]
            lines += [f"- `{f}`: {n}" for f, n in sorted(notes.items())]
            atomic_write_bytes(report, (report.read_text(encoding="utf-8")
                                        + "\n".join(lines) + "\n").encode("utf-8"))
    return dataset


# --------------------------------------------------------------------------- notes

@dataclass
class OwnNotesModelConfig:
    """Your music as notes: transcribe, fine-tune the starter's note model, judge it."""

    music: Path
    paintings: Path
    work: Path  # notes-corpus/, paintings/, finetune/, <name>.safetensors, verdict.md
    licence: str = "the owner's; used here for training only"
    instrument: str | None = None  # None: each recording's measured instrument
    note_steps: int = 150
    base: str | None = None  # the notes bundle to start from (None: the starter)
    seed: int = 0
    verdict: bool = True

    @property
    def bundle(self) -> Path:
        return self.work / f"{self.work.name or 'my-music'}.safetensors"


def build_own_notes_model(cfg: OwnNotesModelConfig, progress: Progress | None = None,
                          callback: Callable[[dict[str, Any]], None] | None = None,
                          stop: threading.Event | None = None) -> dict[str, Any]:
    """Recordings -> note corpus -> fine-tuned notes bundle -> verdict (each step resumes).

    Raises:
        OwnMusicError: unusable folders, or no usable recording.
        InterruptedError: ``stop`` was set (run again to continue).
    """
    from a2m_core.errors import BadInputError

    from .data.own_notes import SUFFIXES, OwnNotesConfig, build_own_note_corpus, recordings_in
    from .finetune_notes import FinetuneConfig, finetune_notes

    for folder, what in ((cfg.music, "music"), (cfg.paintings, "paintings")):
        if not folder.is_dir():
            raise OwnMusicError(f"{what} folder not found: {folder}")
    if not recordings_in(cfg.music):
        raise OwnMusicError(f"{cfg.music} holds no recordings or MIDI files (in "
                            f"{', '.join(sorted(SUFFIXES))})")
    images = sorted(p for p in cfg.paintings.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise OwnMusicError(f"{cfg.paintings} holds no images (in "
                            f"{', '.join(sorted(IMAGE_SUFFIXES))})")
    halt = (lambda: stop.is_set()) if stop is not None else None
    corpus = cfg.work / "notes-corpus"
    try:
        summary = build_own_note_corpus(OwnNotesConfig(
            cfg.music, corpus, licence=cfg.licence, instrument=cfg.instrument,
            seed=cfg.seed), progress=progress, stop=halt)
    except BadInputError as err:
        raise OwnMusicError(str(err)) from None
    crops = painting_crops(images, cfg.work / "paintings", 6, cfg.seed)
    result = finetune_notes(corpus, crops, cfg.bundle, cfg.work / "finetune",
                            FinetuneConfig(base=cfg.base, note_steps=cfg.note_steps,
                                           seed=cfg.seed),
                            callback=callback, stop=halt)
    out: dict[str, Any] = {"corpus": summary, **result}
    if cfg.verdict:
        from .evaluate.verdict import judge, verdict_markdown

        fig = judge(cfg.bundle, images, corpus, seed=cfg.seed, progress=progress)
        atomic_write_bytes(cfg.work / "verdict.md", verdict_markdown(fig).encode("utf-8"))
        out["verdict"] = fig
    return out
