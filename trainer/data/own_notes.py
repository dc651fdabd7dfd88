"""A note corpus from a person's own recordings: the starter's corpus path, their notes.

``build_own_note_corpus`` transcribes each recording (``transcribe.py``: basic-pitch for
audio, the file itself for ``.mid``), measures which of the sampler's instruments it sounds
like (``timbre.py``), puts its notes on its beat grid and cuts them into windows with
``note_corpus.windows_of``, exactly as the starter's tunes are cut: seeded tempi around the
recording's own (so the plan can learn that lively comments play faster), the true
controls measured from the notes, a caption and a licence row. What it writes::

    windows.jsonl     the windows (the format the note trainer reads)
    licences.csv      one row per window, with the licence the person states
    recordings.csv    per recording: windows kept, notes/s, key, tempo, instrument
    skipped.csv       per recording left out: why (one line each)
    rolls/<name>.png  a piano roll of each recording's first window
    report.md         the above as a page
    transcriptions/   each recording's notes (a rerun skips what is transcribed)
"""
from __future__ import annotations

import csv
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from a2m_core.errors import BadInputError
from a2m_core.notes import score
from a2m_core.notes.plan import TEMPO_RANGE
from a2m_core.notes.score import Note

from .note_corpus import NoteCorpusConfig, windows_of
from .recordings import AUDIO_SUFFIXES, _printable
from .store import atomic_write_bytes, atomic_write_csv
from .transcribe import MAX_SECONDS, MIDI_SUFFIXES, Transcription, transcribe_recording

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
SOURCE = "your-music"
SUFFIXES = AUDIO_SUFFIXES | MIDI_SUFFIXES


@dataclass
class OwnNotesConfig:
    music: Path  # a folder of recordings and/or MIDI files (searched recursively)
    out: Path
    licence: str = "the owner's; used here for training only"
    windows_per_recording: int = 8
    tempo_spread: float = 1.5  # windows play between tempo / spread and tempo x spread
    instrument: str | None = None  # None: each recording's measured instrument
    max_seconds: float = MAX_SECONDS  # heard per recording
    seed: int = 0


def recordings_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)


def slug_of(path: Path) -> str:
    return "".join(c if c.isalnum() else "-" for c in _printable(path.stem).lower()
                   ).strip("-") or "recording"


def with_parts(notes: list[Note]) -> list[Note]:
    """Part 0 for the top line, part 1 for notes sounding under a higher one (a
    transcription has no parts; the corpus tells a melody from chords by them). Only notes
    begun within 4 beats before are looked at: a dense 3-minute transcription holds
    thousands of notes."""
    import bisect

    order = sorted(notes, key=lambda n: n.onset)
    onsets = [n.onset for n in order]
    parts = {}
    for n in order:
        lo = bisect.bisect_right(onsets, n.onset - 4)
        hi = bisect.bisect_right(onsets, n.onset + 1e-6)
        under = any(o.pitch > n.pitch and n.onset + 1e-6 < o.onset + o.duration
                    for o in order[lo:hi] if o is not n)
        parts[id(n)] = 1 if under else 0
    return [replace(n, part=parts[id(n)]) for n in notes]


def _transcription(track: Path, cache: Path, cfg: OwnNotesConfig,
                   stop: Callable[[], bool] | None) -> Transcription:
    if cache.is_file():
        return Transcription.from_dict(json.loads(cache.read_text(encoding="utf-8")))
    tr = transcribe_recording(track, cfg.max_seconds, stop=stop)
    atomic_write_bytes(cache, json.dumps(tr.to_dict()).encode("utf-8"))
    return tr


def _instrument(track: Path, tr: Transcription) -> str:
    """The measured instrument: a MIDI file's program, or the nearest timbre."""
    from .timbre import family_of_program, nearest_instrument
    from .transcribe import SAMPLE_RATE, midi_program

    if tr.how == "midi":
        program = midi_program(track)
        return family_of_program(program) if program is not None else "piano"
    from a2m_core.audio import load_audio

    start = tr.notes[0].start
    wave = load_audio(track, SAMPLE_RATE, offset_s=start, duration_s=10.0)
    notes = [n for n in tr.notes if n.start < start + 10.0]
    shifted = [type(n)(n.start - start, n.end - start, n.pitch, n.velocity) for n in notes]
    return nearest_instrument(wave, SAMPLE_RATE, shifted)[0]


def build_own_note_corpus(cfg: OwnNotesConfig, progress: Progress | None = None,
                          stop: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Transcribe, measure and cut every recording in ``cfg.music`` into ``cfg.out``.

    A recording that cannot be used gets one line in ``skipped.csv`` and the report; the
    others go on. Returns the summary (windows, recordings, skipped).

    Raises:
        BadInputError: no usable recording at all (the message lists why, file by file).
        InterruptedError: ``stop`` returned true (run again: transcriptions are kept).
    """
    report = progress or (lambda *_: None)
    tracks = recordings_in(cfg.music)
    if not tracks:
        raise BadInputError(f"no recordings or MIDI files in {cfg.music} "
                            f"({', '.join(sorted(SUFFIXES))})")
    out = cfg.out
    (out / "transcriptions").mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"{cfg.seed}:split")
    held_out = rng.randrange(len(tracks)) if len(tracks) >= 5 else -1
    records: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    taken: set[str] = set()
    for k, track in enumerate(tracks):
        report("transcribe", k, len(tracks))
        name = _printable(str(track.relative_to(cfg.music)))
        slug = slug_of(track)
        while slug in taken:
            slug += "-2"
        taken.add(slug)
        try:
            tr = _transcription(track, out / "transcriptions" / f"{slug}.json", cfg, stop)
            instrument = cfg.instrument or _instrument(track, tr)
            notes = with_parts(tr.in_beats())
            if not notes:
                raise BadInputError("no notes after the first beat")
            end = max(n.onset + n.duration for n in notes)
            starts = [float(b) for b in np.arange(0.0, max(end - 4.0, 0.0) + 1e-6, 4.0)]
            lo, hi = tempo_window(tr.tempo, cfg.tempo_spread)
            ncfg = NoteCorpusConfig(out=out, windows_per_piece=cfg.windows_per_recording,
                                    tempo_range=(lo, hi), seed=cfg.seed)
            split = "test" if k == held_out else "train"
            recs = windows_of(SOURCE, slug, notes, starts or [0.0], ncfg, split, instrument)
            if not recs:
                raise BadInputError("too few notes in any window")
        except BadInputError as err:
            skipped[name] = str(err)
            log.warning("left out %s: %s", name, err)
            continue
        for r in recs:
            r["file"] = name
            r["recording_tempo"] = tr.tempo
        records += recs
        key = score.detect_key(notes)
        rows.append({"file": name, "slug": slug, "how": tr.how,
                     "seconds": tr.seconds, "length_s": tr.length_s,
                     "windows": len(recs), "split": split,
                     "notes_per_s": round(len(tr.notes) / max(tr.seconds, 1e-3), 2),
                     "key": f"{score.NAMES[key[0]]} {key[1]}",
                     "tempo": tr.tempo, "instrument": instrument})
        piano_roll(notes, min(end, 16.0), out / "rolls" / f"{slug}.png",
                   f"{name}: {rows[-1]['key']}, {tr.tempo:.0f} bpm, {instrument}")
    report("transcribe", len(tracks), len(tracks))
    atomic_write_csv(out / "skipped.csv", [{"file": f, "note": n}
                                           for f, n in sorted(skipped.items())],
                     columns=["file", "note"])
    if not records:
        raise BadInputError(f"none of the {len(tracks)} recordings in {cfg.music} could "
                            "be used: " + "; ".join(f"{f}: {n}" for f, n in skipped.items()))
    if not any(r["split"] == "train" for r in records):
        for r in records:
            r["split"] = "train"
    atomic_write_csv(out / "recordings.csv", rows)
    atomic_write_csv(out / "licences.csv", [
        {"id": r["id"], "source": SOURCE, "package": "", "file": r["file"],
         "licence": cfg.licence} for r in records])
    atomic_write_bytes(out / "NOTICE.md", (
        "# Note corpus: licences and attributions\n\n"
        f"- **{SOURCE}** ({len(records)} windows of {len(rows)} recordings in "
        f"{_printable(str(cfg.music))}): {cfg.licence}.\n").encode())
    atomic_write_bytes(out / "report.md", own_report(rows, skipped).encode("utf-8"))
    body = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
    atomic_write_bytes(out / "windows.jsonl", body.encode("utf-8"))
    return {"windows": len(records), "recordings": len(rows), "skipped": skipped,
            "rows": rows}


def own_report(rows: list[dict[str, Any]], skipped: dict[str, str]) -> str:
    lines = ["# Your music, as notes", "",
             f"{len(rows)} recording(s) transcribed into "
             f"{sum(r['windows'] for r in rows)} windows"
             + (f"; {len(skipped)} left out" if skipped else "") + ".", "",
             "| recording | windows | notes/s | key | tempo | sounds like |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['file']} | {r['windows']} | {r['notes_per_s']:.1f} | {r['key']} | "
              f"{r['tempo']:.0f} bpm | {r['instrument']} |" for r in rows]
    if rows:
        lines += ["", f"![piano roll of {rows[0]['file']}](rolls/{rows[0]['slug']}.png)"]
    if skipped:
        lines += ["", "## Left out", ""]
        lines += [f"- `{f}`: {n}" for f, n in sorted(skipped.items())]
    return "\n".join(lines) + "\n"


def piano_roll(notes: list[Note], beats: float, path: Path, title: str) -> None:
    """A piano-roll PNG of the notes in the first ``beats`` beats."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    shown = [n for n in notes if n.onset < beats]
    fig = Figure(figsize=(7, 2.6), dpi=100)
    ax = fig.add_subplot()
    for n in shown:
        ax.add_patch(_rect(n, beats))
    if shown:
        lo, hi = min(n.pitch for n in shown), max(n.pitch for n in shown)
        ax.set_ylim(lo - 2, hi + 2)
    ax.set_xlim(0, beats)
    ax.set_xlabel("beat")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title, fontsize=9)
    for b in range(0, int(beats) + 1, 4):
        ax.axvline(b, color="0.85", lw=0.8, zorder=0)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(path, buf.getvalue())


def _rect(n: Note, beats: float) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((n.onset, n.pitch - 0.4), min(n.duration, beats - n.onset), 0.8,
                     color="#c0392b" if n.part else "#2c3e50", alpha=0.85)


def read_rows(folder: Path, name: str) -> list[dict[str, str]]:
    path = folder / name
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def tempo_window(tempo: float, spread: float) -> tuple[float, float]:
    """The tempi a recording's windows play at: ``tempo / spread .. tempo x spread`` within
    the plan's range. A recording at or past an edge of the range (300 bpm, 30 bpm) keeps a
    span inside it rather than none."""
    low, high = TEMPO_RANGE
    lo, hi = max(low, tempo / spread), min(high, tempo * spread)
    if hi >= high:
        lo = min(lo, high / spread)
    if lo <= low:
        hi = max(hi, low * spread)
    return lo, hi
