"""The note corpus: windows of real tunes and chorales as notes, with their true controls.

``a2m-train notes-corpus --out build/notes/corpus`` writes::

    windows.jsonl   one record per ~10.4 s window: source, piece, split, tempo, the true
                    controls measured from its notes (key, mode, notes per beat, register,
                    articulation, polyphony), the rendering's dynamics and instrument, a
                    caption stating them, and the notes as canonical-key event tokens
    licences.csv    one row per window: package, file, licence, credit
    NOTICE.md       each source with its licence

Sources (music21's corpus, installed with music21; each a public-domain repertory):

- ``bach``: the four-part chorales harmonised by J. S. Bach (texture "chords");
- ``oneills``: Irish tunes from O'Neill's *Music of Ireland* (1850), melody alone;
- ``nottingham``: British and Irish folk tunes of the Nottingham Music Database, each
  melody with its chord symbols voiced as held chords below it (texture "chords").

Only duple metres (2/4, 4/4, 2/2) are kept, so the model's four-beat bars fall on the
music's own bar lines. Each window is played at a seeded tempo, loudness and instrument,
so one score yields windows of several feelings. The instrument is drawn near the window's
feeling (Juslin & Laukka's timbre cue: dull and soft timbres for sad and tender music,
bright and sharp ones for happy and angry music), so a model can learn it from a painting
and a comment. Pieces are split 9:1 by piece; held-out pieces measure how much of the
training music a model replays.
"""
from __future__ import annotations

import csv
import json
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from a2m_core.notes import score
from a2m_core.notes.model import shift_for
from a2m_core.notes.plan import (
    FEELING_HOMES,
    articulation_word,
    dynamic_word,
    register_word,
)
from a2m_core.notes.score import Note

from .store import atomic_write_bytes, atomic_write_csv

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]

SOURCES = ("bach", "oneills", "nottingham")
# how far (in the plane, valence halved) a window's instrument strays from its feeling
TIMBRE_SPREAD = 0.1
LICENCES = {
    "bach": ("public-domain compositions (J. S. Bach); encodings from the music21 corpus "
             "(BSD-3-Clause, music21/corpus/license.txt)"),
    "oneills": ("public-domain tunes (O'Neill's Music of Ireland, 1850); ABC transcriptions "
                "from the music21 corpus"),
    "nottingham": ("traditional tunes; ABC transcriptions of the Nottingham Music Database "
                   "(Eric Foxley) from the music21 corpus"),
}


@dataclass
class NoteCorpusConfig:
    out: Path
    sources: tuple[str, ...] = SOURCES
    max_pieces: dict[str, int] | None = None  # per source (None: all)
    windows_per_piece: int = 2
    tempo_range: tuple[float, float] = (48.0, 184.0)
    window_s: float = 896 * 256 / 22050
    holdout: float = 0.1  # share of pieces held out (split "test")
    seed: int = 0
    workers: int = 2


def _corpus_root() -> Path:
    import music21.corpus

    return Path(music21.corpus.__file__).parent


def piece_files(source: str) -> list[Path]:
    root = _corpus_root()
    if source == "bach":
        return sorted(p for p in (root / "bach").glob("*.mxl"))
    folder = {"oneills": "oneills1850", "nottingham": "nottingham-dataset"}[source]
    return sorted((root / folder).glob("*.abc"))


def _scores(path: Path) -> list[tuple[str, Any]]:
    """(piece id, music21 score) of every piece in a file (one for MusicXML, many in ABC)."""
    from music21 import converter, stream

    parsed = converter.parse(str(path))
    if isinstance(parsed, stream.Opus):
        out = []
        for k, s in enumerate(parsed.scores):
            number = s.metadata.number if s.metadata is not None else None
            out.append((f"{path.stem}-{number or k}", s))
        return out
    return [(path.stem.replace(".", "-"), parsed)]


def score_notes(s: Any) -> tuple[list[Note], list[float], float] | None:
    """Notes of a score (chord symbols voiced as held chords in a low part), its bar starts
    and bar length in beats; None for metres other than 2/4, 4/4 and 2/2."""
    from music21 import harmony, meter

    flat = s.flatten()
    sigs = list(flat.getElementsByClass(meter.TimeSignature))
    bar = float(sigs[0].barDuration.quarterLength) if sigs else 4.0
    if bar not in (2.0, 4.0) or len({float(t.barDuration.quarterLength) for t in sigs}) > 1:
        return None
    notes: list[Note] = []
    parts = list(s.parts) or [s]
    for k, part in enumerate(parts):
        for n in part.flatten().notes:
            if isinstance(n, harmony.ChordSymbol) or n.quarterLength <= 0:
                continue
            for p in n.pitches:
                notes.append(Note(float(n.offset), float(n.quarterLength), int(p.midi), 80, k))
    symbols = sorted(flat.getElementsByClass(harmony.ChordSymbol), key=lambda c: c.offset)
    if symbols and notes:
        end = max(n.onset + n.duration for n in notes)
        part = len(parts)
        for c, nxt in zip(symbols, [*symbols[1:], None]):
            stop = float(nxt.offset) if nxt is not None else end
            if stop <= c.offset:
                continue
            pcs = sorted({p.pitchClass for p in c.pitches})
            root = c.root().pitchClass if c.root() is not None else pcs[0]
            voiced = [48 + root] + [55 + (pc - 55) % 12 for pc in pcs if pc != root][:3]
            for p in voiced:
                notes.append(Note(float(c.offset), stop - float(c.offset), p, 80, part))
    if not notes:
        return None
    measures = [float(m.offset) for m in parts[0].getElementsByClass("Measure")]
    full = [m for m, nxt in zip(measures, measures[1:]) if nxt - m == bar] or [0.0]
    first = full[0]
    starts = [m for m in full if (m - first) % 4.0 == 0]
    notes.sort(key=lambda n: (n.onset, n.pitch))
    return notes, starts, bar


def _window(notes: list[Note], start: float, beats: float) -> list[Note]:
    out = []
    for n in notes:
        if start <= n.onset < start + beats:
            out.append(Note(n.onset - start, min(n.duration, start + beats - n.onset),
                            n.pitch, n.velocity, n.part))
    return out


def choose_rendering(rng: random.Random, tempo01: float, major: bool
                     ) -> tuple[float, float, str]:
    """(velocity, articulation factor, instrument) of a performance whose tempo sits at
    ``tempo01`` (0 slowest, 1 fastest): louder and more detached as the tempo rises (Juslin &
    Laukka 2004), never fixed by it. The factor scales each written duration as it is played
    (scores in the corpus carry no articulation marks). The instrument is drawn with weights
    falling off with the distance of its home in ``FEELING_HOMES`` from the window's feeling
    (valence from the mode and, a little, the tempo; arousal from tempo, loudness and
    detachment)."""
    velocity = min(120.0, max(32.0, rng.gauss(52 + 56 * tempo01, 14)))
    energy = (tempo01 + (velocity - 32) / 88) / 2
    factor = min(1.15, max(0.4, rng.gauss(1.05 - 0.5 * energy, 0.12)))
    valence = (0.7 if major else -0.7) + 0.3 * (2 * tempo01 - 1)
    arousal = (2 * energy + (1.15 - factor) / 0.75) / 3
    names = list(FEELING_HOMES)
    weights = [math.exp(-(((valence - v) / 2) ** 2 + (arousal - a) ** 2)
                        / (2 * TIMBRE_SPREAD ** 2)) for v, a in FEELING_HOMES.values()]
    inst = rng.choices(names, weights=weights)[0]
    return velocity, factor, inst


def caption(rec: dict[str, Any]) -> str:
    """What a window is, in words (true by construction: every word comes from its notes or
    from how it was rendered)."""
    what = {"bach": "a four-part chorale by J. S. Bach",
            "oneills": "an Irish folk tune", "nottingham": "a folk tune with chords"}
    return (f"{what.get(rec['source'], 'a piece from your recordings')} at "
            f"{rec['tempo']:.0f} bpm in {score.NAMES[rec['tonic']]} "
            f"{rec['mode']}, {articulation_word(rec['articulation'])} and "
            f"{dynamic_word(rec['velocity'])}, on {rec['instrument']}, "
            f"{rec['notes_per_beat'] * rec['tempo'] / 60:.1f} notes a second in the "
            f"{register_word(rec['register'])} register")


def windows_of(source: str, piece: str, notes: list[Note], starts: list[float],
               cfg: NoteCorpusConfig, split: str, instrument: str | None = None
               ) -> list[dict[str, Any]]:
    """Records of up to ``windows_per_piece`` windows of one piece, each at a seeded
    tempo, loudness and instrument (``instrument``: always that one, e.g. the one a
    person's recording was measured to sound like)."""
    rng = random.Random(f"{cfg.seed}:{source}:{piece}")
    lo, hi = cfg.tempo_range
    if not 0 < lo < hi:
        raise ValueError(f"tempo range {cfg.tempo_range}: needs 0 < low < high")
    out = []
    texture = "chords" if len({n.part for n in notes}) > 1 else "melody"
    end = max(n.onset + n.duration for n in notes)
    for w in range(cfg.windows_per_piece):
        tempo = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        beats = cfg.window_s * tempo / 60.0
        usable = [s for s in starts if s + min(beats, end) * 0.6 <= end] or [starts[0]]
        start = usable[(w * len(usable)) // cfg.windows_per_piece]
        win = _window(notes, start, beats)
        if len(win) < 4:
            continue
        m = score.measure(win, beats)
        tempo01 = (math.log(tempo) - math.log(lo)) / (math.log(hi) - math.log(lo))
        velocity, factor, inst = choose_rendering(rng, tempo01, m.mode == "major")
        inst = instrument or inst
        canonical = score.transpose(win, -shift_for(m.tonic))
        rec = {"id": f"{source}-{piece}-w{w}", "source": source, "piece": piece,
               "split": split, "start_beat": start, "tempo": round(tempo, 2),
               "beats": round(beats, 3), "tonic": m.tonic, "mode": m.mode,
               "key_clarity": round(m.key_clarity, 3),
               "notes_per_beat": round(m.notes_per_beat, 4),
               "register": round(m.register, 2),
               "articulation": round(m.articulation * factor, 3),
               "played_factor": round(factor, 3),
               "polyphony": round(m.polyphony, 3), "texture": texture,
               "velocity": round(velocity, 1), "instrument": inst,
               "tokens": score.encode(canonical, beats)}
        rec["caption"] = caption(rec)
        out.append(rec)
    return out


def _split(piece_key: str, cfg: NoteCorpusConfig) -> str:
    return "test" if random.Random(f"{cfg.seed}:split:{piece_key}").random() < cfg.holdout \
        else "train"


def _process_file(args: tuple[str, str, NoteCorpusConfig]) -> list[dict[str, Any]]:
    source, path, cfg = args
    out = []
    try:
        pieces = _scores(Path(path))
    except Exception as err:  # noqa: BLE001 - a bad encoding skips one file, logged
        log.warning("skipping %s: %s", path, err)
        return []
    for piece, s in pieces:
        try:
            got = score_notes(s)
        except Exception as err:  # noqa: BLE001 - one bad tune skips itself
            log.warning("skipping %s %s: %s", source, piece, err)
            continue
        if got is None:
            continue
        notes, starts, _ = got
        recs = windows_of(source, piece, notes, starts, cfg, _split(f"{source}/{piece}", cfg))
        for r in recs:
            r["file"] = f"music21/corpus/{Path(path).parent.name}/{Path(path).name}"
        out += recs
    return out


def build_note_corpus(cfg: NoteCorpusConfig, progress: Progress | None = None
                      ) -> dict[str, Any]:
    """Parse, cut and measure every configured source into ``cfg.out`` (skipped when its
    ``windows.jsonl`` exists). Returns counts per source and split."""
    done = cfg.out / "windows.jsonl"
    if done.is_file():
        return summary(read_windows(cfg.out))
    t0 = time.perf_counter()
    unknown = set(cfg.sources) - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown note source(s) {sorted(unknown)}: use {', '.join(SOURCES)}")
    jobs = []
    for source in cfg.sources:
        files = piece_files(source)
        limit = (cfg.max_pieces or {}).get(source)
        if limit is not None:
            files = files[:limit]
        jobs += [(source, str(f), cfg) for f in files]
    records: list[dict[str, Any]] = []
    report = progress or (lambda *_: None)
    report("notes corpus", 0, len(jobs))
    if cfg.workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(cfg.workers) as pool:
            for k, recs in enumerate(pool.map(_process_file, jobs, chunksize=4)):
                records += recs
                report("notes corpus", k + 1, len(jobs))
    else:
        for k, job in enumerate(jobs):
            records += _process_file(job)
            report("notes corpus", k + 1, len(jobs))
    if not records:
        raise RuntimeError(f"no windows were made from {cfg.sources}")
    cfg.out.mkdir(parents=True, exist_ok=True)
    atomic_write_csv(cfg.out / "licences.csv", [
        {"id": r["id"], "source": r["source"], "package": "music21", "file": r["file"],
         "licence": LICENCES[r["source"]]} for r in records])
    atomic_write_bytes(cfg.out / "NOTICE.md", notice(records).encode("utf-8"))
    body = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
    atomic_write_bytes(done, body.encode("utf-8"))
    log.info("note corpus: %d windows in %.0f s", len(records), time.perf_counter() - t0)
    return summary(records)


def read_windows(folder: Path) -> list[dict[str, Any]]:
    with open(folder / "windows.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"windows": len(records),
            "by_source": dict(Counter(r["source"] for r in records)),
            "by_split": dict(Counter(r["split"] for r in records)),
            "pieces": len({(r["source"], r["piece"]) for r in records})}


def notice(records: list[dict[str, Any]]) -> str:
    counts = Counter(r["source"] for r in records)
    lines = ["# Note corpus: licences and attributions", "",
             "Every window's source file is listed in `licences.csv`.", ""]
    for source, n in sorted(counts.items()):
        lines.append(f"- **{source}** ({n} windows): {LICENCES[source]}.")
    return "\n".join(lines) + "\n"


def licence_rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / "licences.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
