"""Reading and cleaning the two sources: ArtEmis-style comments, MusicCaps-style clips.

Both formats serve public data and a user's own material alike (their paintings and
comments in ArtEmis columns, their music and captions in MusicCaps columns).

Images: ``<images>/<art_style>/<painting>.<ext>`` with ext jpg, jpeg, png, webp, tif(f).

Audio files recognised for a MusicCaps row (ytid, start_s, end_s), searched recursively:
- a full recording named ``<ytid>.<ext>``: the window start_s..end_s is cut from it;
- a pre-cut window named ``<ytid>_<start>-<end>.<ext>``, ``<ytid>-<start>-<end>.<ext>`` or
  ``[<ytid>]-[<start>]-[<end>].<ext>`` (start/end in seconds as in the CSV, e.g. ``30`` or
  ``30.0``): used whole.
ext: wav, flac, ogg, oga, opus, mp3, m4a, aac.
"""
from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from a2m_core.prompt import audioset_table

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff")
AUDIO_EXTS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac")
ARTEMIS_COLUMNS = ("art_style", "painting", "emotion", "utterance")
MUSICCAPS_COLUMNS = ("ytid", "start_s", "end_s", "audioset_positive_labels", "aspect_list",
                     "caption")
SILENCE_RMS = 1e-4  # below -80 dBFS RMS a clip counts as silent


class SourceError(ValueError):
    """A source table can't be used at all (missing file, wrong columns)."""


@dataclass
class Skip:
    source: str  # "artemis" or "musiccaps"
    row: int  # 1-based data row in the CSV
    key: str  # painting or ytid
    reason: str
    detail: str = ""


@dataclass
class Comment:
    row: int
    art_style: str
    painting: str
    emotion: str
    utterance: str
    image: Path

    @property
    def painting_key(self) -> str:
        return f"{self.art_style}/{self.painting}"


@dataclass
class ClipRow:
    row: int
    ytid: str
    start_s: float
    end_s: float
    labels_mids: list[str]
    aspect_list: str
    caption: str
    audio: Path
    precut: bool


@dataclass
class Cleaned:
    comments: list[Comment] = field(default_factory=list)
    clips: list[ClipRow] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return dict(Counter(f"{s.source}:{s.reason}" for s in self.skipped))


def read_table(path: Path, required: tuple[str, ...], what: str) -> list[dict[str, str]]:
    if not path.is_file():
        raise SourceError(f"{what} table not found: {path}")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise SourceError(f"{path.name} is not a {what} table: missing columns {missing}")
        return list(reader)


def _image_path(root: Path, style: str, painting: str) -> Path | None:
    for ext in IMAGE_EXTS:
        p = root / style / f"{painting}{ext}"
        if p.is_file():
            return p
    return None


def _image_ok(path: Path) -> str | None:
    """None if the image decodes, else why not. JPEG draft mode keeps this fast."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.draft("RGB", (256, 256))
            img.load()
        return None
    except Exception as err:  # noqa: BLE001
        return f"{type(err).__name__}: {err}"


def clean_artemis(rows: list[dict[str, str]], images: Path, cleaned: Cleaned,
                  progress=None) -> None:
    checked: dict[str, str | None] = {}
    for i, r in enumerate(rows, start=1):
        key = f"{r['art_style']}/{r['painting']}"
        utterance = (r.get("utterance") or "").strip()
        if not utterance:
            cleaned.skipped.append(Skip("artemis", i, key, "empty comment"))
            continue
        path = _image_path(images, r["art_style"], r["painting"])
        if path is None:
            cleaned.skipped.append(Skip("artemis", i, key, "missing image",
                                        f"{images}/{key}.<jpg|png|...>"))
            continue
        if key not in checked:
            checked[key] = _image_ok(path)
        if checked[key]:
            cleaned.skipped.append(Skip("artemis", i, key, "unreadable image", checked[key]))
            continue
        cleaned.comments.append(Comment(i, r["art_style"], r["painting"],
                                        (r.get("emotion") or "").strip(), utterance, path))
        if progress and i % 500 == 0:
            progress(i, len(rows))
    if progress:
        progress(len(rows), len(rows))


def _num(text: str) -> list[str]:
    """Spellings of a CSV second value as file names use them: '30', '30.0', '30.000'."""
    v = float(text)
    out = {text.strip(), f"{v:g}", f"{v:.1f}", f"{v:.3f}"}
    if v.is_integer():
        out.add(str(int(v)))
    return sorted(out)


def index_audio(folder: Path) -> dict[str, Path]:
    """File stem -> path for every audio file under ``folder`` (first one wins)."""
    index: dict[str, Path] = {}
    for p in sorted(folder.rglob("*")):
        if p.suffix.lower() in AUDIO_EXTS and p.is_file():
            index.setdefault(p.stem, p)
    return index


def find_audio(index: dict[str, Path], ytid: str, start: str, end: str) -> tuple[Path, bool] | None:
    for s in _num(start):
        for e in _num(end):
            for stem in (f"{ytid}_{s}-{e}", f"{ytid}-{s}-{e}", f"[{ytid}]-[{s}]-[{e}]"):
                if stem in index:
                    return index[stem], True
    if ytid in index:
        return index[ytid], False
    return None


def clean_musiccaps(rows: list[dict[str, str]], audio: Path, cleaned: Cleaned) -> None:
    """Table-level cleaning; decoding (corrupt or silent audio) happens in the mel stage,
    which reads each clip once anyway."""
    index = index_audio(audio) if audio.is_dir() else {}
    known = audioset_table()
    seen: set[str] = set()
    for i, r in enumerate(rows, start=1):
        ytid = r["ytid"].strip()
        if not ytid or ytid in seen:
            cleaned.skipped.append(Skip("musiccaps", i, ytid, "duplicate or empty ytid"))
            continue
        seen.add(ytid)
        if not (r.get("caption") or "").strip():
            cleaned.skipped.append(Skip("musiccaps", i, ytid, "empty caption"))
            continue
        mids = [m.strip() for m in r["audioset_positive_labels"].split(",") if m.strip()]
        unknown = [m for m in mids if m not in known]
        if unknown:
            cleaned.skipped.append(Skip("musiccaps", i, ytid, "unknown label", ",".join(unknown)))
            continue
        try:
            start, end = float(r["start_s"]), float(r["end_s"])
        except ValueError:
            cleaned.skipped.append(Skip("musiccaps", i, ytid, "bad window",
                                        f"{r['start_s']}..{r['end_s']}"))
            continue
        found = find_audio(index, ytid, r["start_s"], r["end_s"])
        if found is None:
            cleaned.skipped.append(Skip("musiccaps", i, ytid, "missing audio"))
            continue
        path, precut = found
        cleaned.clips.append(ClipRow(i, ytid, start, end, mids, r.get("aspect_list", ""),
                                     r["caption"].strip(), path, precut))


def clip_wave(clip: ClipRow, sample_rate: int) -> np.ndarray:
    """The clip's samples: the whole pre-cut file, or the window cut from a full recording."""
    from a2m_core.audio import load_audio

    if clip.precut:
        return load_audio(clip.audio, sample_rate)
    return load_audio(clip.audio, sample_rate, offset_s=clip.start_s,
                      duration_s=clip.end_s - clip.start_s)


def is_silent(wave: np.ndarray) -> bool:
    return float(np.sqrt(np.mean(wave.astype(np.float64) ** 2))) < SILENCE_RMS
