"""A verdict in words on a trained model: does it play notes, does it follow feeling, does
it play the person's style?

``judge`` plays the model on the person's paintings with calm and lively comments (the
pairs below, which speak of what is painted), then measures:

- **notes**: basic-pitch's voiced share on the clips (``notes_figures``; real recordings
  0.85-0.99, a drone well under 0.5) and, for any bundle, the yardstick's band std (a drone
  is flat: under 3 dB; music 5-15 dB);
- **feeling**: in how many pairs the lively comment plays faster and with more notes a
  second (notes bundles: the plan's tempo and the notes played);
- **style** (with the person's note corpus): the distance between the pitch-class and
  interval histograms of the generated notes and of the person's windows (total variation,
  0 same .. 1 disjoint), and the same for the starter on the same inputs.

``sentence`` turns the figures into one line, e.g. "Plays clear notes (voiced 0.93); the
lively comment plays faster in 11 of 12 pairs; closer to your music than the starter".
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from a2m_core.notes import score

Progress = Callable[[str, int, int], None]
# (calm, lively): comments a visitor might leave on the same painting
PAIRS = (
    ("The quiet light on the faces makes me want to sit still and breathe slowly",
     "Everyone in this picture seems about to burst out laughing and dance"),
    ("A soft, misty morning over still water; nothing hurries here",
     "Wind rushes through the trees and the sky is bursting with movement"),
    ("The pale colours feel like a lullaby at the end of a long day",
     "Those bright, clashing colours jump out at me, loud and full of energy"),
)
VOICED_OK = 0.8
SAME_STYLE = 0.03  # closer than this, three seeds' means cannot tell two models apart
DRONE_BAND_STD = 3.0


def histograms(notes: Sequence[score.Note], tonic: int) -> tuple[np.ndarray, np.ndarray]:
    """Pitch classes relative to the tonic (12 bins) and the top line's intervals
    (-12..+12 semitones, 25 bins), both as counts."""
    pcs = np.zeros(12)
    for n in notes:
        pcs[(n.pitch - tonic) % 12] += 1
    ints = np.zeros(25)
    for step, _ in score.melody_events(notes):
        ints[int(np.clip(step, -12, 12)) + 12] += 1
    return pcs, ints


def _tv(a: np.ndarray, b: np.ndarray) -> float:
    if a.sum() == 0 or b.sum() == 0:
        return 1.0
    return float(0.5 * np.abs(a / a.sum() - b / b.sum()).sum())


def _unit(h: np.ndarray) -> np.ndarray:
    return h / h.sum() if h.sum() else h


Histograms = dict[str, tuple[np.ndarray, np.ndarray]]  # mode -> (pitch classes, intervals)


def corpus_histograms(corpus: Path) -> Histograms:
    """The person's windows' histograms by mode, each window weighing the same (a dense
    transcription must not outvote a sparse one). Tokens are in the canonical key, C."""
    from ..data.note_corpus import read_windows

    out: Histograms = {}
    for w in read_windows(corpus):
        p, i = histograms(score.decode(w["tokens"]), 0)
        pcs, ints = out.get(w["mode"], (np.zeros(12), np.zeros(25)))
        out[w["mode"]] = (pcs + _unit(p), ints + _unit(i))
    return out


def style_distance(clips: Sequence[Any], target: Histograms) -> dict[str, float]:
    """Total-variation distances of the clips' histograms to the target's, each clip
    against the person's windows of its own mode (a minor tune is compared with their
    minor tunes), averaged over the clips' modes."""
    from a2m_core.notes.model import shift_for

    mine: Histograms = {}
    for c in clips:
        if c.notes:
            p, i = histograms(c.notes, shift_for(c.plan.tonic) % 12)
            pcs, ints = mine.get(c.plan.mode, (np.zeros(12), np.zeros(25)))
            mine[c.plan.mode] = (pcs + _unit(p), ints + _unit(i))
    if not mine:
        return {"pitch_classes": 1.0, "intervals": 1.0}
    pooled = (sum(t[0] for t in target.values()), sum(t[1] for t in target.values()))
    weight = {m: h[0].sum() for m, h in mine.items()}
    total = sum(weight.values())
    pcs_d = sum(weight[m] * _tv(h[0], target.get(m, pooled)[0]) for m, h in mine.items())
    int_d = sum(weight[m] * _tv(h[1], target.get(m, pooled)[1]) for m, h in mine.items())
    return {"pitch_classes": pcs_d / total, "intervals": int_d / total}


def _play(engine: Any, paintings: Sequence[Path], seeds: Sequence[int], progress: Progress
          ) -> list[tuple[Any, Any]]:
    out = []
    jobs = [(p, pair, seed) for seed in seeds for p in paintings for pair in PAIRS]
    for k, (painting, (calm, lively), seed) in enumerate(jobs):
        progress("verdict: playing", k, len(jobs))
        out.append((engine.generate(painting, calm, seed=seed),
                    engine.generate(painting, lively, seed=seed)))
    return out


def judge(bundle: Path, paintings: Sequence[Path], corpus: Path | None = None,
          seed: int = 0, voiced_clips: int = 6, progress: Progress | None = None
          ) -> dict[str, Any]:
    """Figures of a bundle on the paintings (up to 4 are used) and its verdict sentence.

    Each pair is played with three seeds: one seed's style distance moves by up to 0.08
    (measured on the starter and the example data), three seeds' mean by about a third."""
    from a2m_core import Art2Music
    from a2m_core.defaults import STARTER

    from .musicality import musicality
    from .notes_figures import notes_figures

    report = progress or (lambda *_: None)
    paintings = list(paintings)[:4]
    engine = Art2Music.load(bundle)
    seeds = (seed, seed + 1, seed + 2)
    pairs = _play(engine, paintings, seeds, report)
    clips = [c for pair in pairs for c in pair]
    listen = clips[:: max(1, len(clips) // voiced_clips)][:voiced_clips]  # spread out
    voiced = []
    for k, c in enumerate(listen):
        report("verdict: listening", k, voiced_clips)
        voiced.append(notes_figures(c.audio, c.sample_rate)["voiced"])
    fig: dict[str, Any] = {
        "kind": "notes" if clips[0].plan is not None else "mel",
        "voiced": float(np.mean(voiced)),
        "band_std": float(np.mean([musicality(c.audio, c.sample_rate)["band_std"]
                                   for c in listen])),
        "pairs": len(pairs)}
    if fig["kind"] == "notes":
        fig["faster"] = sum(b.plan.tempo_bpm > a.plan.tempo_bpm for a, b in pairs)
        fig["denser"] = sum(len(b.notes or []) > len(a.notes or []) for a, b in pairs)
        if corpus is not None and (corpus / "windows.jsonl").is_file():
            target = corpus_histograms(corpus)
            fig["style"] = style_distance(clips, target)
            if Path(bundle).resolve() != STARTER.resolve() and STARTER.is_file():
                starter = Art2Music.load(STARTER)
                base = [c for pair in _play(starter, paintings, seeds, report) for c in pair]
                fig["starter_style"] = style_distance(base, target)
    fig["sentence"] = sentence(fig)
    return fig


def sentence(fig: dict[str, Any]) -> str:
    """The verdict in one line, from ``judge``'s figures."""
    if fig["voiced"] < VOICED_OK:
        why = (f"it plays a drone (band std {fig['band_std']:.1f} dB; music moves 5-15)"
               if fig["band_std"] < DRONE_BAND_STD else "its sound is not yet clear notes")
        out = (f"Does not play clear notes yet: voiced {fig['voiced']:.2f} (clear notes: "
               f"{VOICED_OK:g} or more); {why}.")
        if fig["kind"] == "mel":
            out += " Mel models need a GPU and hours; fine-tune a notes model instead."
        return out
    out = f"Plays clear notes (voiced {fig['voiced']:.2f})"
    if "faster" in fig:
        n = fig["pairs"]
        follows = fig["faster"] >= 0.85 * n
        out += (f"; lively comments play faster in {fig['faster']} of {n} pairs and with "
                f"more notes in {fig['denser']} of {n}"
                + ("" if follows else ", so it follows feeling only loosely"))
    if "style" in fig:
        own = (fig["style"]["pitch_classes"] + fig["style"]["intervals"]) / 2
        if "starter_style" in fig:
            base = (fig["starter_style"]["pitch_classes"]
                    + fig["starter_style"]["intervals"]) / 2
            if own < base - SAME_STYLE:
                out += "; its notes are closer to your music than the starter's"
            elif own <= base + SAME_STYLE:
                out += ("; its notes are about as close to your music as the starter's (your "
                        "music may already be in the starter's style)")
            else:
                out += ("; its notes are further from your music than the starter's: train "
                        "longer or add recordings")
            out += f" (distance {own:.2f} against {base:.2f})"
        else:
            out += f"; distance of its notes to your music {own:.2f}"
    return out + "."


def verdict_markdown(fig: dict[str, Any]) -> str:
    lines = ["## Verdict", "", f"**{fig['sentence']}**", "",
             "| figure | value |", "|---|---|",
             f"| voiced share (basic-pitch) | {fig['voiced']:.2f} |",
             f"| band std | {fig['band_std']:.1f} dB |"]
    if "faster" in fig:
        lines += [f"| lively plays faster | {fig['faster']} of {fig['pairs']} |",
                  f"| lively plays more notes | {fig['denser']} of {fig['pairs']} |"]
    for key, name in (("style", "this model"), ("starter_style", "the starter")):
        if key in fig:
            lines.append(f"| distance to your music, {name} (pitch classes / intervals) | "
                         f"{fig[key]['pitch_classes']:.2f} / {fig[key]['intervals']:.2f} |")
    return "\n".join(lines) + "\n"
