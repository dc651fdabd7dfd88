"""Table IV (SPEC §4) for a notes bundle: MCD, FAD, LSD and cosine in four input settings.

The reference of a pair is a held-out corpus window (a tune or chorale the model never
trained on) played by the same sampler at its true controls; its painting is one of the
held-out paintings, nearest to the window in the valence-arousal plane, and its comment a
composed one of the window's feeling (as in training). Settings as in ``table4``: random
Gaussian features, text zeroed, image zeroed, full input. Each pair's draws come from one
seeded generator per pair, the same in every setting, so the settings differ only by what
the model is given. FAD and cosine are computed on musicnn's embedding (a music tagger's
penultimate layer, the nearest kept stand-in for the paper's VGGish) when the ``[eval]``
extra is installed, else on mel statistics; the table names which.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from a2m_core.audio import denormalize, wave_to_mel
from a2m_core.engine import Art2Music
from a2m_core.notes.plan import Plan
from a2m_core.prompt import build_prompt

from ..data.comment_bank import comment_for
from ..data.note_corpus import read_windows
from ..train.notes import window_feeling
from .metrics import AudioEmbedding, MelStatsEmbedding, fad_and_cosine, lsd, mcd
from .table4 import SETTINGS


def window_plan(w: dict[str, Any]) -> Plan:
    return Plan(tempo_bpm=w["tempo"], tonic=w["tonic"], mode=w["mode"],
                notes_per_beat=w["notes_per_beat"], register=w["register"],
                articulation=w["articulation"], velocity=w["velocity"],
                instrument=w["instrument"], texture=w["texture"])


@torch.inference_mode()
def evaluate_notes_table4(bundle: str | Path, corpus: Path, paintings: list[Path],
                          max_pairs: int | None = None, seed: int = 0,
                          progress: Callable[[str, int, int], None] | None = None,
                          plan_temperature: float | None = None,
                          embedding: AudioEmbedding | None = None,
                          window_offset: int = 0) -> dict[str, Any]:
    """``max_pairs``: None pairs every held-out window, else that many evenly spaced ones.
    ``plan_temperature``: None draws plans as users get them (the bundle's temperature);
    0 takes each plan at its mean. ``embedding``: for FAD and cosine (None: musicnn when
    installed, else mel statistics). ``window_offset``: the held-out windows are taken
    evenly spaced, starting this many windows in, so that other sets can be measured."""
    from PIL import Image

    from a2m_core.image_features import colour_feeling
    from a2m_core.notes.model import realise

    engine = Art2Music.load(bundle, device="cpu")
    if not engine.is_notes:
        raise ValueError(f"{engine.name} is a mel bundle: use trainer.evaluate.table4")
    # compared before loudness normalisation, as the mel table is
    engine.set_generation_params(loudness_lufs=None, plan_temperature=plan_temperature)
    cfg = engine.mel_config
    windows = [w for w in read_windows(corpus) if w["split"] == "test"]
    if max_pairs is not None and len(windows) > max_pairs:
        windows = [windows[min(len(windows) - 1,
                               round(k * (len(windows) - 1) / (max_pairs - 1)) + window_offset)]
                   for k in range(max_pairs)]
    va = window_feeling(windows)
    feel = np.array([[f.pleasure, f.arousal] for f in
                     (colour_feeling(Image.open(p).convert("RGB")) for p in paintings)])
    feel = (feel - feel.mean(0)) / np.maximum(feel.std(0), 1e-9)
    rng = random.Random(seed)
    levels = np.digitize(va[:, 1], [-0.8, 0.0, 0.8])
    images, prompts, ref_waves = [], [], []
    for i, w in enumerate(windows):
        images.append(paintings[int(np.argmin(np.linalg.norm(feel - va[i], axis=1)))])
        text = comment_for(int(levels[i]), "pos" if va[i, 0] >= 0 else "neg", rng)
        prompts.append(build_prompt(text, None).text)
        plan = window_plan(w)
        # the window's canonical tokens, played in its own key at its own controls
        notes = realise(w["tokens"], plan, cfg.duration_s)
        ref_waves.append(engine.render_notes(notes, plan))
    img = engine.encoder.encode_images(images).float().cpu()
    txt = engine.encoder.encode_texts(prompts).float().cpu()
    gen = torch.Generator().manual_seed(seed)

    def noise_like(x: torch.Tensor) -> torch.Tensor:
        return torch.randn(x.shape, generator=gen) * x.std() + x.mean()

    inputs = {"random": (noise_like(img), noise_like(txt)),
              "no_text": (img, torch.zeros_like(txt)),
              "no_image": (torch.zeros_like(img), txt), "full": (img, txt)}
    embedding = embedding or default_embedding(cfg)
    ref_emb = embedding(ref_waves, cfg.sample_rate)
    ref_logmels = [denormalize(wave_to_mel(w, cfg), cfg) for w in ref_waves]
    rows: dict[str, dict[str, float]] = {}
    for n, name in enumerate(SETTINGS):
        if progress:
            progress("evaluate", n, len(SETTINGS))
        im, tx = inputs[name]
        perfs = engine.generate_from_features(
            im, tx, [seed * 100_003 + k for k in range(len(windows))])
        waves = [p.audio for p in perfs]
        logmels = [denormalize(wave_to_mel(w, cfg), cfg) for w in waves]
        fad, cos = fad_and_cosine(embedding, ref_waves, waves, cfg.sample_rate, ref_emb)
        rows[name] = {"mcd": float(np.mean([mcd(r, g) for r, g in zip(ref_logmels, logmels)])),
                      "fad": fad,
                      "lsd": float(np.mean([lsd(r, g) for r, g in zip(ref_logmels, logmels)])),
                      "cosine": cos,
                      # does the plan follow the held-out window's own controls?
                      "tempo_r": _r([np.log(p.plan.tempo_bpm) for p in perfs],
                                    [np.log(w["tempo"]) for w in windows]),
                      "loudness_r": _r([p.plan.velocity for p in perfs],
                                       [w["velocity"] for w in windows]),
                      "instrument": float(np.mean([p.plan.instrument == w["instrument"]
                                                   for p, w in zip(perfs, windows)]))}
    return {"bundle": engine.name, "pairs": len(windows), "embedding": embedding.name,
            "plan_temperature": plan_temperature, "window_offset": window_offset, "settings": rows}


def default_embedding(mel_config: Any) -> AudioEmbedding:
    """musicnn's embedding when the ``[eval]`` extra is installed, else mel statistics."""
    from a2m_core.errors import ModelLoadError

    try:
        from .musicnn_embed import MusicnnEmbedding

        return MusicnnEmbedding()
    except ModelLoadError:
        return MelStatsEmbedding(mel_config)


def _r(a: list[float], b: list[float]) -> float:
    return float(np.corrcoef(a, b)[0, 1]) if np.std(a) > 0 and np.std(b) > 0 else 0.0


def render_notes_table4(result: dict[str, Any]) -> str:
    from .table4 import LABELS

    r = result["settings"]
    lines = [f"# Table IV, notes starter ({result['pairs']} held-out pairs: unseen tunes "
             f"and chorales, unseen paintings; embedding {result['embedding']})", "",
             "| setting | MCD ↓ | FAD ↓ | LSD ↓ | cosine ↑ | plan tempo r ↑ | plan loudness r ↑ "
             "| same instrument ↑ |",
             "|---|---|---|---|---|---|---|---|"]
    for name in SETTINGS:
        m = r[name]
        lines.append(f"| {LABELS[name]} | {m['mcd']:.2f} | {m['fad']:.3f} | {m['lsd']:.2f} | "
                     f"{m['cosine']:.3f} | {m['tempo_r']:.2f} | {m['loudness_r']:.2f} | "
                     f"{m['instrument']:.2f} |")
    better = sum(r["full"][k] < r["random"][k] for k in ("mcd", "fad", "lsd")) + int(
        r["full"]["cosine"] > r["random"]["cosine"])
    lines += ["", f"Full input beats the random baseline on {better} of the paper's 4 metrics.",
              "", "The plan columns: correlation, over the pairs, of the drawn plan's tempo "
              "and loudness with the held-out window's own, and the share of pairs whose "
              "plan plays the window's instrument. The paper's four compare the sound frame "
              "by frame with a performance of other notes, so the instrument weighs most in "
              "MCD and LSD."]
    return "\n".join(lines) + "\n"
