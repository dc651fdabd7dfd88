"""Sound that does not stop: seamless loops of a clip, and scenes joined into one long piece.

A clip played on repeat clicks where its end meets its start. :func:`make_loop` folds the
clip's last ``crossfade`` seconds over its first ones (equal-power), so playing the result on
repeat runs from the clip's middle straight into what originally followed it and only then
fades into the head: no step at the wrap, no jump in the spectrum. :func:`join_scenes` loops
each scene's clip to the scene's length and crossfades scene into scene (equal power).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import BadInputError
from .postprocess import soft_ceiling


def equal_power(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(fade-in, fade-out) gains of ``n`` samples whose squares sum to 1 (constant power)."""
    t = np.linspace(0.0, np.pi / 2, n, dtype=np.float64)
    return np.sin(t).astype(np.float32), np.cos(t).astype(np.float32)


def _along(gains: tuple[np.ndarray, ...], audio: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-sample gains shaped to multiply ``audio`` (``[n]`` or ``[n, channels]``)."""
    return gains if audio.ndim == 1 else tuple(g[:, None] for g in gains)


def as_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """``audio`` with ``channels`` channels: a mono wave spread to both sides, a stereo one
    folded to its middle (``[n]`` for 1)."""
    audio = np.asarray(audio, np.float32)
    if channels == 1:
        return audio if audio.ndim == 1 else audio.mean(axis=1)
    mono = audio if audio.ndim == 1 else audio.mean(axis=1)
    return audio if audio.ndim == 2 and audio.shape[1] == channels else \
        np.repeat(mono[:, None], channels, axis=1)


def make_loop(audio: np.ndarray, sample_rate: int, crossfade_s: float = 0.5,
              peak_dbfs: float = -1.0) -> np.ndarray:
    """A version of ``audio`` that repeats seamlessly (it is ``crossfade_s`` shorter).

    Raises:
        BadInputError: a clip too short for the crossfade.
    """
    audio = np.asarray(audio, dtype=np.float32)
    n = int(round(crossfade_s * sample_rate))
    if len(audio) < 3 * n or n < 2:
        raise BadInputError(f"a {len(audio) / sample_rate:.2f} s clip is too short for a "
                            f"{crossfade_s:.2f} s loop crossfade")
    body, tail = audio[: len(audio) - n].copy(), audio[len(audio) - n:]
    fade_in, fade_out = _along(equal_power(n), audio)
    body[:n] = body[:n] * fade_in + tail * fade_out
    return soft_ceiling(body, peak_dbfs).astype(np.float32)  # a fold can add up above it


def tile(loop: np.ndarray, samples: int) -> np.ndarray:
    """``loop`` repeated (it must be a :func:`make_loop` result) and cut to ``samples``."""
    reps = -(-samples // max(1, len(loop)))
    return np.tile(loop, (reps,) + (1,) * (loop.ndim - 1))[:samples]


@dataclass(frozen=True)
class Scene:
    image: Any  # a path, or the bytes of an image file (the OSC bridge reads files once)
    comment: str
    hints: str | None = None
    seed: int | None = None
    seconds: float = 20.0
    tag: Any = None  # the caller's own (the bridge: request id and reply address)


def read_playlist(path: str | Path, default_seconds: float = 20.0) -> list[Scene]:
    """Scenes from a CSV with columns ``image,comment`` and optional ``hints,seed,seconds``;
    image paths are relative to the CSV's folder.

    Raises:
        BadInputError: a missing file, missing columns, or a bad number (row named).
    """
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"playlist not found: {path}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise BadInputError(f"cannot read playlist {path.name}: {err}") from err
    if not rows or not {"image", "comment"} <= set(rows[0]):
        raise BadInputError(f"playlist {path.name} needs the columns image,comment "
                            "(optional: hints,seed,seconds)")
    scenes = []
    for i, row in enumerate(rows, start=2):  # line 1 is the header
        try:
            seed = int(row["seed"]) if (row.get("seed") or "").strip() else None
            seconds = float(row["seconds"]) if (row.get("seconds") or "").strip() \
                else default_seconds
        except ValueError as err:
            raise BadInputError(f"{path.name} line {i}: {err}") from None
        if seconds <= 1.0:
            raise BadInputError(f"{path.name} line {i}: seconds must be above 1")
        image = Path(row["image"] or "")
        scenes.append(Scene(str(image if image.is_absolute() else path.parent / image),
                            row["comment"] or "", (row.get("hints") or "").strip() or None,
                            seed, seconds))
    return scenes


def join_scenes(clips: list[np.ndarray], seconds: list[float], sample_rate: int,
                crossfade_s: float = 2.0, loop_crossfade_s: float = 0.5,
                peak_dbfs: float = -1.0) -> np.ndarray:
    """One long piece: each clip looped to its scene's length, scenes crossfaded (equal power).
    Clips are ``[n]`` or ``[n, channels]`` at ``sample_rate``; mono ones join stereo ones
    spread to both sides.

    Each scene's length counts from the start of its fade in; the crossfades overlap the
    neighbours, so the piece is ``sum(seconds) - crossfade * (scenes - 1)`` long.
    """
    if not clips:
        return np.zeros(0, np.float32)
    channels = max(1 if c.ndim == 1 else c.shape[1] for c in clips)
    clips = [as_channels(c, channels) for c in clips]  # a mono scene among stereo ones
    n_x = int(round(crossfade_s * sample_rate))
    parts = []
    for clip, secs in zip(clips, seconds):
        samples = max(int(round(secs * sample_rate)), 2 * n_x + 1)
        parts.append(tile(make_loop(clip, sample_rate, loop_crossfade_s, peak_dbfs), samples))
    out = parts[0]
    fade_in, fade_out = _along(equal_power(n_x), out)
    for part in parts[1:]:
        mixed = out[-n_x:] * fade_out + part[:n_x] * fade_in
        out = np.concatenate([out[:-n_x], mixed, part[n_x:]])
    return soft_ceiling(out, peak_dbfs).astype(np.float32)


