"""Recorded music for the corpus, and the windows every source is cut into.

Debian packages of recorded music (``DEBIAN_MUSIC``), or a folder of your own recordings,
are cut into windows of the mel convention's length; each window's WAV and its record are
written atomically (the record last: it marks the window done, so a build resumes).
"""
from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from a2m_core.audio import load_audio

from .music_feeling import measure
from .store import atomic_write_bytes, atomic_write_csv, atomic_write_json

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


class CorpusConfig(Protocol):
    """What cutting windows reads of ``corpus.CorpusConfig``."""

    out: Path
    mel: Any  # a2m_core.audio.MelConfig
    windows_per_track: int
    debian: dict[str, dict[str, Any]]

    @property
    def window_s(self) -> float: ...


class CorpusError(RuntimeError):
    """A source can't be used (missing package, missing tool)."""


AUDIO_SUFFIXES = frozenset({".ogg", ".wav", ".flac", ".mp3", ".oga", ".aiff", ".aif"})

# Debian packages of recorded music: folder, licence, attribution, AudioSet labels, phrase.
DEBIAN_MUSIC = {
    "singularity-music": {
        "folder": "/usr/share/games/singularity/music",
        "licence": "CC BY-SA 3.0",
        "attribution": "Max McCracken, music of Endgame: Singularity (Debian "
                       "singularity-music)",
        "labels": ("Soundtrack music", "Video game music"),
        "phrase": "an instrumental piece from the soundtrack of the game Endgame: Singularity",
    },
    "wesnoth-music": {
        "folder": "/usr/share/games/wesnoth/1.16/data/core/music",
        "package": "wesnoth-1.16-music",
        "licence": "GPL-2+",
        "attribution": "the composers of The Battle for Wesnoth's music (credited in the "
                       "game; Debian wesnoth-1.16-music)",
        "labels": ("Soundtrack music", "Video game music"),
        "phrase": "an instrumental piece from the soundtrack of the game The Battle for "
                  "Wesnoth",
    },
}

# --------------------------------------------------------------------------- items

def _write_window(cfg: CorpusConfig, ytid: str, wave: np.ndarray, start: float,
                  item: dict[str, Any]) -> None:
    """One window's WAV and its record (the record last: it marks the window done)."""
    import soundfile as sf

    end = round(start + cfg.window_s, 2)
    name = f"{ytid}_{start:g}-{end:g}.wav"
    buf = io.BytesIO()
    sf.write(buf, wave.astype(np.float32), cfg.mel.sample_rate, format="WAV",
             subtype="PCM_16")
    atomic_write_bytes(cfg.out / "audio" / name, buf.getvalue())
    atomic_write_json(cfg.out / "items" / f"{ytid}.json",
                      {**item, "ytid": ytid, "start_s": start, "end_s": end, "audio": name})


def _windows(length: int, n_samples: int, max_windows: int, tail: int = 0) -> list[int]:
    """Start samples of up to ``max_windows`` evenly spaced full windows in ``length`` samples
    (one, padded by looping, when that is shorter than a window). The last ``tail`` samples
    are left out when there is room: a piece's final release is silence, not music to learn."""
    if length <= n_samples:
        return [0]
    usable = length - tail if length - tail > n_samples else length
    n = min(max_windows, usable // n_samples)
    span = usable - n_samples
    return [round(span * k / max(n - 1, 1)) if n > 1 else 0 for k in range(n)]


def _fit(wave: np.ndarray, n_samples: int) -> np.ndarray:
    """Loop a short rendering (a tune played again) to fill one window."""
    if len(wave) >= n_samples:
        return wave[:n_samples]
    reps = int(np.ceil(n_samples / max(len(wave), 1)))
    return np.tile(wave, reps)[:n_samples]


def _cut_package(name: str, cfg: CorpusConfig, report: Progress) -> None:
    """Cut every recording of a folder source. A file that cannot be used is left out with
    one line in ``skipped.csv`` (and the log) and the others go on."""
    from a2m_core.errors import BadInputError

    info = cfg.debian[name]
    folder = Path(info["folder"])
    tracks = sorted(t for t in folder.rglob("*") if t.suffix.lower() in AUDIO_SUFFIXES
                    and t.is_file()) if folder.is_dir() else []
    if not tracks:
        package = info.get("package", name)
        raise CorpusError(info.get("missing") or f"Debian package {package} is not installed "
                          f"(no audio in {folder}): apt-get install {package}")
    notes = _read_notes(cfg.out)
    for k, track in enumerate(tracks):
        report(f"cut {name}", k, len(tracks))
        rel = _printable(str(track.relative_to(folder)))
        slug = "".join(c if c.isalnum() else "-" for c in track.stem.lower()).strip("-")
        if (cfg.out / "items" / f"{name}-{slug}-w0.json").exists() or rel in notes:
            continue
        try:
            note = _cut_track(name, info, track, folder, cfg)
        except (BadInputError, OSError, RuntimeError, ValueError) as err:
            note = f"left out: {str(err).replace(str(track), rel)}"
        if note:
            log.info("%s: %s", rel, note)
            notes[rel] = note
            atomic_write_csv(cfg.out / "skipped.csv",
                             [{"file": f, "note": n} for f, n in sorted(notes.items())])
    report(f"cut {name}", len(tracks), len(tracks))


def _read_notes(corpus: Path) -> dict[str, str]:
    """What earlier runs said about single recordings (``skipped.csv``)."""
    import csv

    path = corpus / "skipped.csv"
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        return {row["file"]: row["note"] for row in csv.DictReader(f)}


def recording_notes(corpus: Path) -> dict[str, str]:
    """Per recording, what the corpus left out or changed, and why (file -> one line)."""
    return _read_notes(corpus)


# A recording shorter than this is left out: looped to a 10.4 s window it would teach a
# loop, not the music. Longer ones that still fall short of a window are looped, with a word.
MIN_RECORDING_S = 4.0


def _printable(text: str) -> str:
    """A file name as text any table can hold (undecodable bytes become U+FFFD)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def recording_seconds(track: Path) -> float:
    """A recording's length from its header alone (no decoding of the whole file).

    Raises:
        BadInputError: not a recording libsndfile or librosa can read, or an empty one.
    """
    from a2m_core.errors import BadInputError

    if track.stat().st_size == 0:
        raise BadInputError("the file is empty (0 bytes)")
    try:
        import soundfile as sf

        with open(track, "rb") as raw, sf.SoundFile(raw) as f:  # any file name
            seconds = f.frames / f.samplerate if f.samplerate else 0.0
    except Exception as sf_err:  # noqa: BLE001 - other codecs: librosa's probe
        try:
            import librosa

            seconds = float(librosa.get_duration(path=str(track)))
        except Exception:  # noqa: BLE001 - libsndfile's reason is the clearer one
            # "Error opening <file object>: Format not recognised." -> its reason
            why = str(sf_err).rsplit(": ", 1)[-1].strip(" .") or type(sf_err).__name__
            raise BadInputError(f"not a readable recording ({why[:100]})") from None
    if seconds <= 0:
        raise BadInputError("the file holds no sound (0 samples)")
    return seconds


def _cut_track(name: str, info: dict[str, Any], track: Path, folder: Path,
               cfg: CorpusConfig) -> str:
    """Cut one recording into windows (each read alone: a 3-hour file costs a window's
    memory, not the whole file's). Returns a note for the report ("" when all went as usual).

    Raises:
        BadInputError: the recording cannot be used; the message says why.
    """
    from a2m_core.errors import BadInputError

    sr = cfg.mel.sample_rate
    seconds = recording_seconds(track)
    if seconds < MIN_RECORDING_S:
        raise BadInputError(f"only {seconds:.1f} s long; recordings need at least "
                            f"{MIN_RECORDING_S:g} s")
    slug = "".join(c if c.isalnum() else "-" for c in track.stem.lower()).strip("-")
    total = int(seconds * sr)
    tail = int(info.get("tail_s", 5) * sr)
    kept, note = 0, ""
    if seconds < cfg.window_s:
        note = f"{seconds:.1f} s long: looped to fill one {cfg.window_s:.1f} s window"
    for w, start in enumerate(_windows(total, cfg.mel.n_samples, cfg.windows_per_track,
                                       tail=tail)):
        wave = load_audio(track, sr, offset_s=start / sr, duration_s=cfg.window_s)
        seg = _fit(wave, cfg.mel.n_samples)
        if np.sqrt(np.mean(seg ** 2)) < 1e-3:
            continue  # a silent stretch says nothing about the music
        kept += 1
        _write_window(cfg, f"{name}-{slug}-w{w}", seg, round(start / sr, 2), {
            "source": name, "piece": slug, "title": _printable(track.stem),
            "instrument": "", "dynamic": "", "rendered": False,
            "descriptors": measure(seg, sr).to_dict(), "licence": info["licence"],
            "package": info.get("package", name),
            "file": _printable(str(track.relative_to(folder))),
            "attribution": info["attribution"]})
    if not kept:
        raise BadInputError("silent: none of its windows holds sound")
    return note
