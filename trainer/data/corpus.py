"""The music corpus: real music that installs from the registries, with true captions.

``a2m-train corpus --out data/corpus`` writes what ``a2m-train build`` and the starter read:

    audio/<ytid>_<start>-<end>.wav   pre-cut windows (n_frames * hop samples, ~10.4 s)
    musiccaps.csv                    MusicCaps columns + the descriptors behind each caption
    licences.csv                     one row per window: source package, file, licence, credit
    NOTICE.md                        the licences and attributions, per source
    items/<ytid>.json                per-window records (what makes the build resumable)

Sources (each a free licence, recorded per file):

- ``bach``: four-part chorales harmonised by J. S. Bach, from music21's corpus (public-domain
  compositions; the encodings ship with music21, BSD-3-Clause), rendered with FluidSynth and
  the FluidR3 GM soundfont (MIT) on a chosen instrument, tempo and dynamic (struck
  instruments more often for fast, strong renderings: ``choose_instrument``).
- ``oneills``: Irish folk tunes from O'Neill's *Music of Ireland* (1850/1903, public domain),
  ABC transcriptions in music21's corpus, rendered the same way.
- ``singularity-music``: the Debian package's 16 soundtrack pieces by Max McCracken
  (CC BY-SA 3.0), cut into windows.
- ``wesnoth-music``: the 41 pieces of The Battle for Wesnoth's soundtrack (Debian
  ``wesnoth-1.16-music``, GPL-2+ like the game; mostly orchestral, from battle themes to
  laments), cut into windows.

Captions are true by construction: a rendering states what it used (piece, instrument,
tempo, key from the score, dynamic), a recording what was measured (``music_feeling``), and
mood words follow from the cues by the documented Juslin & Laukka rule. Nothing else is
claimed.
"""
from __future__ import annotations

import csv
import json
import logging
import random
import shutil
import subprocess
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from a2m_core.audio import MelConfig, load_audio

from .music_feeling import (
    Descriptors,
    loudness_word,
    measure,
    mood_words,
    tempo_word,
    valence_arousal,
)
from .recordings import (
    DEBIAN_MUSIC,
    CorpusError,
    _cut_package,
    _fit,
    _windows,
    _write_window,
)
from .store import atomic_write_bytes, atomic_write_csv

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
# The default sources; "wesnoth-music" is there on request (apt-get install
# wesnoth-1.16-music, 150 MB).
SOURCES = ("bach", "oneills", "singularity-music")
ALL_SOURCES = (*SOURCES, "wesnoth-music")
# Recordings the corpus reads (what load_audio decodes through libsndfile/audioread).
# General MIDI programs we render with -> (program, AudioSet label, phrase in a caption).
INSTRUMENTS: dict[str, tuple[int, str, str]] = {
    "strings": (48, "String section", "a string ensemble"),
    "organ": (19, "Organ", "a church organ"),
    "choir": (52, "Choir", "a wordless choir"),
    "brass": (61, "Brass instrument", "a brass section"),
    "piano": (0, "Piano", "a piano"),
    "harpsichord": (6, "Harpsichord", "a harpsichord"),
    "violin": (40, "Violin, fiddle", "a fiddle"),
    "flute": (73, "Flute", "a flute"),
    "accordion": (21, "Accordion", "an accordion"),
    "guitar": (24, "Acoustic guitar", "a nylon-string guitar"),
    "harp": (46, "Harp", "a harp"),
    "clarinet": (71, "Clarinet", "a clarinet"),
    "marimba": (12, "Marimba, xylophone", "a marimba"),
    "vibraphone": (11, "Vibraphone", "a vibraphone"),
}

CHORALE_INSTRUMENTS = ("strings", "organ", "choir", "brass", "piano", "harpsichord")
FOLK_INSTRUMENTS = ("violin", "flute", "accordion", "guitar", "harp", "clarinet", "marimba",
                    "vibraphone", "piano")
# Instruments whose notes start with a struck or plucked attack and die away (the detached,
# articulated end of Juslin & Laukka's articulation cue); the others sustain (legato).
STRUCK = frozenset({"piano", "harpsichord", "guitar", "harp", "marimba", "vibraphone"})
# The rule that picks a rendering's instrument (choose_instrument), recorded with a corpus.
RENDERING = "articulation follows tempo and dynamic"
CHORALE_TEMPI = (52, 66, 84, 108, 138)
FOLK_TEMPI = (70, 96, 126, 152, 184)
VELOCITIES = {"soft": 48, "moderate": 80, "strong": 112}
ADVERBS = {"soft": "softly", "moderate": "moderately", "strong": "strongly"}

MUSIC21_LICENCE = ("public-domain composition; encoding from the music21 corpus "
                   "(music21, BSD-3-Clause; see music21/corpus/license.txt)")
RENDER_CREDIT = "rendered with FluidSynth and the FluidR3_GM soundfont (MIT, Frank Wen)"


@dataclass
class CorpusConfig:
    out: Path
    sources: tuple[str, ...] = SOURCES
    chorales: int = 90  # Bach chorales rendered (each once, on a seeded instrument/tempo)
    folk_tunes: int = 110  # O'Neill's tunes rendered
    windows_per_render: int = 2  # windows cut from one rendering (when long enough)
    windows_per_track: int = 6  # windows cut from one recorded track
    soundfont: Path = SOUNDFONT
    seed: int = 0
    workers: int = 2  # rendering processes
    # recorded-music sources by name (default: the Debian packages above)
    debian: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(DEBIAN_MUSIC))
    mel: MelConfig = field(default_factory=MelConfig)

    @property
    def window_s(self) -> float:
        return self.mel.n_samples / self.mel.sample_rate


@dataclass
class CorpusResult:
    out: Path
    windows: int
    by_source: dict[str, int]
    seconds: float


# --------------------------------------------------------------------------- rendering

def render_midi(midi: Path, wav: Path, soundfont: Path, sample_rate: int,
                gain: float = 0.6) -> None:
    """MIDI -> WAV with FluidSynth (no audio device; faster than real time)."""
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise CorpusError("fluidsynth is not installed: apt-get install fluidsynth "
                          "fluid-soundfont-gm (scripts/system-deps.sh does it)")
    if not soundfont.is_file():
        raise CorpusError(f"soundfont {soundfont} is missing: apt-get install "
                          f"fluid-soundfont-gm")
    subprocess.run([exe, "-ni", "-q", "-r", str(sample_rate), "-g", str(gain), "-F", str(wav),
                    str(soundfont), str(midi)], check=True, capture_output=True, timeout=15)


def _trim_tail(wave: np.ndarray, sr: int) -> np.ndarray:
    """Drop the silent tail FluidSynth leaves after the last note (keeps 0.3 s of decay)."""
    loud = np.flatnonzero(np.abs(wave) > 1e-3)
    return wave[: min(len(wave), int(loud[-1]) + int(0.3 * sr))] if loud.size else wave


def render_score(score: Any, program: int, bpm: float, velocity: int, cfg: CorpusConfig
                 ) -> np.ndarray:
    """A music21 score played on one GM program at a tempo and velocity -> mono wave."""
    from music21 import instrument, tempo

    score = score.__deepcopy__()
    for part in score.parts:
        for old in list(part.recurse().getElementsByClass(
                (instrument.Instrument, tempo.MetronomeMark, tempo.TempoIndication))):
            old.activeSite.remove(old)
        inst = instrument.Instrument()
        inst.midiProgram = program
        part.insert(0, inst)
    score.parts[0].insert(0, tempo.MetronomeMark(number=bpm))
    for n in list(score.recurse().notes):
        if n.duration.isGrace or n.quarterLength == 0:
            # ABC grace notes become zero-length MIDI notes whose note-off can precede the
            # note-on: a stuck, looping voice that FluidSynth renders forever.
            n.activeSite.remove(n)
        else:
            n.volume.velocity = velocity
    with tempfile.TemporaryDirectory(prefix="a2m_render_") as tmp:
        mid, wav = Path(tmp) / "x.mid", Path(tmp) / "x.wav"
        score.write("midi", fp=str(mid))
        render_midi(mid, wav, cfg.soundfont, cfg.mel.sample_rate)
        wave = load_audio(wav, cfg.mel.sample_rate)
    return _trim_tail(wave, cfg.mel.sample_rate)


def _score_key(score: Any) -> tuple[str, str]:
    k = score.analyze("key")
    return k.tonic.name.replace("-", "b"), k.mode


@dataclass(frozen=True)
class Piece:
    """One score to render: where it is, and (for ABC books) which tune."""

    source: str  # "bach" or "oneills"
    piece: str  # id used in ytids, e.g. "bwv271" or "oneills-0042"
    path: str
    number: int | None  # tune number inside an ABC book
    title: str

    def load(self) -> Any:
        from music21 import converter

        if self.number is None:
            return converter.parse(self.path)
        return converter.parse(self.path, number=self.number)


def music21_pieces(source: str, count: int, seed: int) -> list[Piece]:
    """The first ``count`` chorales / tunes of a seeded shuffle (a fixed, reproducible set)."""
    from music21 import corpus

    if source == "bach":
        paths = sorted(p for p in corpus.getComposer("bach") if p.suffix == ".mxl")
        random.Random(seed).shuffle(paths)
        return [Piece("bach", p.stem.replace(".", "-"), str(p), None, p.stem)
                for p in paths[:count]]
    pieces = []
    for f in sorted((Path(corpus.__file__).parent / "oneills1850").glob("*.abc")):
        for block in f.read_text(encoding="latin-1").split("\nX:")[1:]:
            number = block.strip().split("\n", 1)[0].strip()
            if not number.isdigit():
                continue
            title = next((ln[2:].strip() for ln in block.splitlines() if ln.startswith("T:")),
                         f"tune {number}")
            pieces.append(Piece("oneills", f"oneills-{int(number):04d}", str(f), int(number),
                                title))
    random.Random(seed + 1).shuffle(pieces)
    return pieces[:count]


def choose_instrument(rng: random.Random, instruments: tuple[str, ...], tempo: float,
                      dynamic: float) -> str:
    """An instrument for a rendering whose tempo and dynamic sit at ``tempo`` and
    ``dynamic`` (0: the slowest / softest of the choices, 1: the fastest / strongest).

    Why: in music people play, articulation goes with arousal (Juslin & Laukka 2004: detached,
    sharp attacks in happy and angry music, legato in tender and sad music). Drawn at
    random, a slow, soft chorale was as often a piano as a string ensemble: the corpus's
    calm music had as many sharp onsets as its lively music. (It did not, alone, make the
    starter's lively clips busier: benchmarks/README.md.) So a struck instrument is drawn with
    probability 0.15 for the slowest, softest renderings, rising to 0.85 for the fastest,
    strongest; every instrument still plays at every tempo. The caption names the
    instrument that was used, as before."""
    struck = [i for i in instruments if i in STRUCK]
    held = [i for i in instruments if i not in STRUCK]
    if not struck or not held:
        return rng.choice(instruments)
    energy = (tempo + dynamic) / 2
    return rng.choice(struck if rng.random() < 0.15 + 0.7 * energy else held)


def render_piece(piece: Piece, cfg: CorpusConfig) -> int:
    """Render one piece on a seeded instrument, tempo and dynamic; write its windows.
    Returns the number of windows written (0 when the encoding can't be used)."""
    if (cfg.out / "items" / f"{piece.source}-{piece.piece}-w0.json").exists():
        return 0  # rendered by an earlier (interrupted) run
    rng = random.Random(f"{cfg.seed}:{piece.source}:{piece.piece}")
    tempi = CHORALE_TEMPI if piece.source == "bach" else FOLK_TEMPI
    bpm = rng.choice(tempi)
    dynamic = rng.choice(list(VELOCITIES))
    inst = choose_instrument(rng, CHORALE_INSTRUMENTS if piece.source == "bach"
                             else FOLK_INSTRUMENTS, tempi.index(bpm) / (len(tempi) - 1),
                             list(VELOCITIES).index(dynamic) / (len(VELOCITIES) - 1))
    try:
        score = piece.load()
        key = _score_key(score)
        wave = render_score(score, INSTRUMENTS[inst][0], bpm, VELOCITIES[dynamic], cfg)
    except Exception as err:  # noqa: BLE001 - a bad encoding skips one piece, logged
        log.warning("skipping %s %s: %s", piece.source, piece.piece, err)
        return 0
    if len(wave) < cfg.mel.sample_rate:
        return 0
    n = cfg.mel.n_samples
    starts = _windows(len(wave), n, cfg.windows_per_render, tail=2 * cfg.mel.sample_rate)
    for w, start in enumerate(starts):
        seg = _fit(wave[start:], n)
        desc = measure(seg, cfg.mel.sample_rate, tempo_bpm=bpm, key=key)
        folder = "bach" if piece.source == "bach" else "oneills1850"
        _write_window(cfg, f"{piece.source}-{piece.piece}-w{w}", seg,
                      round(start / cfg.mel.sample_rate, 2), {
                          "source": piece.source, "piece": piece.piece, "title": piece.title,
                          "instrument": inst, "dynamic": dynamic, "rendered": True,
                          "descriptors": desc.to_dict(), "licence": MUSIC21_LICENCE,
                          "package": "music21",
                          "file": f"corpus/{folder}/{Path(piece.path).name}"
                                  + (f"#X{piece.number}" if piece.number else ""),
                          "attribution": RENDER_CREDIT})
    return len(starts)


def _render_source(source: str, cfg: CorpusConfig, report: Progress, workers: int) -> None:
    """Render a source's pieces on ``workers`` processes (FluidSynth and music21 are
    single-threaded, so two cores render twice as fast)."""
    from concurrent.futures import ProcessPoolExecutor

    pieces = music21_pieces(source, cfg.chorales if source == "bach" else cfg.folk_tunes,
                            cfg.seed)
    report(f"render {source}", 0, len(pieces))
    if workers <= 1:
        for k, piece in enumerate(pieces):
            render_piece(piece, cfg)
            report(f"render {source}", k + 1, len(pieces))
        return
    # Compile librosa's numba kernels here, once, before forking: on a fresh machine two
    # workers compiling and writing numba's cache at the same time crashed one of them
    # (a segfault that killed the pool). Forked workers inherit the compiled functions.
    sr = cfg.mel.sample_rate
    measure(np.sin(np.arange(2 * sr) * 2 * np.pi * 440 / sr).astype(np.float32), sr)
    with ProcessPoolExecutor(workers) as pool:
        for k, _ in enumerate(pool.map(render_piece, pieces, [cfg] * len(pieces))):
            report(f"render {source}", k + 1, len(pieces))


# --------------------------------------------------------------------------- captions

def caption_item(item: dict[str, Any], valence: float, arousal: float,
                 quiet_db: float, loud_db: float, rng: random.Random,
                 debian: dict[str, dict[str, Any]] | None = None
                 ) -> tuple[str, list[str], list[str]]:
    """(caption, aspect keywords, AudioSet label names) of one window, from its record."""
    d = Descriptors(**item["descriptors"])
    tw, lw = tempo_word(d.tempo_bpm), loudness_word(d.loudness_db, quiet_db, loud_db)
    moods = mood_words(valence, arousal)
    mood = rng.choice(["It sounds {} and {}.", "The mood is {} and {}.",
                       "It feels {} and {}."]).format(*moods)
    if item["rendered"]:
        _, label, phrase = INSTRUMENTS[item["instrument"]]
        if item["source"] == "bach":
            what = f"a {tw} four-part chorale harmonised by J. S. Bach, played by {phrase}"
            labels = [label, "Classical music"]
            genre = "chorale"
        else:
            what = (f"a {tw} Irish folk tune from O'Neill's collection, played solo on "
                    f"{phrase}")
            labels = [label, "Folk music", "Traditional music"]
            genre = "folk tune"
        caption = (f"This is {what} at {d.tempo_bpm:.0f} bpm. It is in {d.key} {d.mode}, "
                   f"played {ADVERBS[item['dynamic']]}. {mood}")
        keywords = [genre, item["instrument"], f"{tw} tempo", f"{d.mode} key",
                    ADVERBS[item["dynamic"]], *moods]
    else:
        info = (debian or DEBIAN_MUSIC)[item["source"]]
        density = "dense" if d.onset_rate > 3 else "sparse"
        timbre = "bright" if d.brightness_hz > 2000 else "dark"
        caption = (f"This is {info['phrase']}. The tempo is around {d.tempo_bpm:.0f} bpm "
                   f"and it is {lw}, with {density} note onsets and a {timbre} sound. It "
                   f"seems to be in {d.key} {d.mode}. {mood}")
        labels = list(info["labels"])
        keywords = [info.get("keyword", "soundtrack"), f"{tw} tempo", lw, timbre,
                    f"{density} onsets", *moods]
    return caption, keywords, labels


def _label_mids(names: list[str]) -> str:
    from a2m_core.prompt import audioset_table

    mid_of = {v: k for k, v in audioset_table().items()}
    return ",".join(mid_of[n] for n in names if n in mid_of)


def finish_tables(cfg: CorpusConfig) -> dict[str, int]:
    """Captions (which need the whole corpus for the z-scores), the MusicCaps-format table,
    the licence table and NOTICE.md. Returns the window count per source."""
    items = [json.loads(p.read_text()) for p in sorted((cfg.out / "items").glob("*.json"))]
    # A folder built earlier with more sources keeps their records: the tables hold only
    # the sources asked for now.
    items = [i for i in items if i["source"] in cfg.sources]
    if not items:
        raise CorpusError(f"no music windows were made in {cfg.out}")
    va = valence_arousal([Descriptors(**i["descriptors"]) for i in items])
    louds = np.array([i["descriptors"]["loudness_db"] for i in items])
    quiet_db, loud_db = np.percentile(louds, [33, 67])
    rows, licences = [], []
    for item, (v, a) in zip(items, va):
        rng = random.Random(f"{cfg.seed}:{item['ytid']}")
        caption, keywords, labels = caption_item(item, float(v), float(a), quiet_db, loud_db,
                                                 rng, cfg.debian)
        rows.append({
            "ytid": item["ytid"], "start_s": item["start_s"], "end_s": item["end_s"],
            "audioset_positive_labels": _label_mids(labels),
            "aspect_list": repr(keywords), "caption": caption,
            "author_id": "", "is_balanced_subset": "False", "is_audioset_eval": "False",
            "source": item["source"], "piece": item["piece"], "title": item["title"],
            "instrument": item["instrument"], "valence": f"{v:.3f}", "arousal": f"{a:.3f}",
            **{k: item["descriptors"][k] for k in item["descriptors"]},
            "audio": item["audio"],
        })
        licences.append({"ytid": item["ytid"], "source": item["source"],
                         "package": item["package"], "file": item["file"],
                         "licence": item["licence"], "attribution": item["attribution"]})
    atomic_write_csv(cfg.out / "musiccaps.csv", rows)
    atomic_write_csv(cfg.out / "licences.csv", licences)
    atomic_write_bytes(cfg.out / "NOTICE.md", notice(licences).encode("utf-8"))
    return dict(Counter(i["source"] for i in items))


def notice(licences: list[dict[str, str]]) -> str:
    """NOTICE text: each source once, with its licence, credit and window count."""
    by: dict[tuple[str, str, str], int] = {}
    for r in licences:
        key = (r["package"], r["licence"], r["attribution"])
        by[key] = by.get(key, 0) + 1
    lines = ["# Music corpus: licences and attributions", "",
             "Every window's source file is listed in `licences.csv`.", ""]
    for (pkg, lic, credit), n in sorted(by.items()):
        lines.append(f"- **{pkg}** ({n} windows): {lic}. {credit}.")
    return "\n".join(lines) + "\n"


def licence_summary(corpus: Path) -> dict[str, Any]:
    """Per-package window counts and licences, for a bundle's provenance."""
    with open(corpus / "licences.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out: dict[str, Any] = {}
    for r in rows:
        e = out.setdefault(r["package"], {"windows": 0, "licence": r["licence"]})
        e["windows"] += 1
    return out


# --------------------------------------------------------------------------- build

def build_corpus(cfg: CorpusConfig, progress: Progress | None = None,
                 stop: threading.Event | None = None) -> CorpusResult:
    """Render and cut every configured source into ``cfg.out`` (resumable), then write the
    tables. Re-running continues: finished pieces are not rendered again.

    Raises:
        CorpusError: a source's package or tool is missing.
    """
    import time

    t0 = time.perf_counter()
    known = ("bach", "oneills", *cfg.debian)
    unknown = set(cfg.sources) - set(known)
    if unknown:
        raise CorpusError(f"unknown corpus source(s) {sorted(unknown)}: use {', '.join(known)}")
    (cfg.out / "audio").mkdir(parents=True, exist_ok=True)
    (cfg.out / "items").mkdir(parents=True, exist_ok=True)

    def report(stage: str, done: int, total: int) -> None:
        if stop is not None and stop.is_set():
            raise InterruptedError(f"stopped during '{stage}'; run again to continue")
        if progress:
            progress(stage, done, total)

    for source in cfg.sources:
        if source in cfg.debian:
            _cut_package(source, cfg, report)
        else:
            _render_source(source, cfg, report, cfg.workers)
    by_source = finish_tables(cfg)
    return CorpusResult(cfg.out, sum(by_source.values()), by_source, time.perf_counter() - t0)
