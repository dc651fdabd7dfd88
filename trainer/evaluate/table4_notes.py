"""Table IV (SPEC §4) for a notes bundle: MCD, FAD, LSD and cosine in four input settings.

The reference of a pair is a held-out corpus window (a tune or chorale the model never
trained on) played by the same sampler at its true controls; its painting is one of the
unseen pictures (the held-out Van Goghs and GCompris' landmark photographs: a spread of
looks), the one nearest to the window in the valence-arousal plane by its measured look
(``a2m_core.painting``), and its comment a composed one of the window's feeling (as in
training). Settings as in ``table4``: random Gaussian features, text zeroed, image zeroed,
full input. The image is all of the picture: "without image" zeroes its features and drops
its look, so the painting's steering of the plan goes with it. Each pair's draws come from one
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

from a2m_core.audio import denormalize, mono_at, wave_to_mel
from a2m_core.engine import Art2Music
from a2m_core.notes.plan import Plan
from a2m_core.painting import painting_words
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

    from a2m_core.notes.model import realise
    from a2m_core.painting import measure

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
    pictures = [Image.open(p).convert("RGB") for p in paintings]
    img_all = engine.encoder.encode_images(pictures).float().cpu()
    looks_all = [measure(im, subj) for im, subj
                 in zip(pictures, engine.encoder.subjects(img_all))]
    feel = np.array([[lk.valence, lk.arousal] for lk in looks_all])
    feel = (feel - feel.mean(0)) / np.maximum(feel.std(0), 1e-9)
    rng = random.Random(seed)
    levels = np.digitize(va[:, 1], [-0.8, 0.0, 0.8])
    picks, prompts, ref_waves = [], [], []
    for i, w in enumerate(windows):
        picks.append(int(np.argmin(np.linalg.norm(feel - va[i], axis=1))))
        text = comment_for(int(levels[i]), "pos" if va[i, 0] >= 0 else "neg", rng)
        look = looks_all[picks[-1]]
        prompts.append(build_prompt(text, None, None, engine.config.prompt,
                                    painting_words(look, text)).text)
        plan = window_plan(w)
        # the window's canonical tokens, played in its own key at its own controls
        notes = realise(w["tokens"], plan, cfg.duration_s)
        # heard as the mel convention hears it: one channel at its rate
        ref_waves.append(mono_at(engine.render_notes(notes, plan), engine.sample_rate,
                                 cfg.sample_rate))
    img = img_all[picks]
    looks = [looks_all[k] for k in picks]
    txt = engine.encoder.encode_texts(prompts).float().cpu()
    gen = torch.Generator().manual_seed(seed)

    def noise_like(x: torch.Tensor) -> torch.Tensor:
        return torch.randn(x.shape, generator=gen) * x.std() + x.mean()

    # (image features, text features, the picture's look or None)
    inputs = {"random": (noise_like(img), noise_like(txt), None),
              "no_text": (img, torch.zeros_like(txt), looks),
              "no_image": (torch.zeros_like(img), txt, None), "full": (img, txt, looks)}
    embedding = embedding or default_embedding(cfg)
    ref_emb = embedding(ref_waves, cfg.sample_rate)
    ref_logmels = [denormalize(wave_to_mel(w, cfg), cfg) for w in ref_waves]
    rows: dict[str, dict[str, float]] = {}
    for n, name in enumerate(SETTINGS):
        if progress:
            progress("evaluate", n, len(SETTINGS))
        im, tx, lk = inputs[name]
        perfs = engine.generate_from_features(
            im, tx, [seed * 100_003 + k for k in range(len(windows))], looks=lk)
        waves = [mono_at(p.audio, p.sample_rate, cfg.sample_rate) for p in perfs]
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
                      "mode": float(np.mean([p.plan.mode == w["mode"]
                                             for p, w in zip(perfs, windows)])),
                      "instrument": float(np.mean([p.plan.instrument == w["instrument"]
                                                   for p, w in zip(perfs, windows)]))}
    return {"bundle": engine.name, "pairs": len(windows), "embedding": embedding.name,
            "pictures": len(paintings),
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
             "| same mode ↑ | same instrument ↑ |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in SETTINGS:
        m = r[name]
        lines.append(f"| {LABELS[name]} | {m['mcd']:.2f} | {m['fad']:.3f} | {m['lsd']:.2f} | "
                     f"{m['cosine']:.3f} | {m['tempo_r']:.2f} | {m['loudness_r']:.2f} | "
                     f"{m.get('mode', float('nan')):.2f} | {m['instrument']:.2f} |")
    better = sum(r["full"][k] < r["random"][k] for k in ("mcd", "fad", "lsd")) + int(
        r["full"]["cosine"] > r["random"]["cosine"])
    f, n = r["full"], r["no_image"]
    agree = sum([f["tempo_r"] > n["tempo_r"], f["loudness_r"] > n["loudness_r"],
                 f.get("mode", 0) > n.get("mode", 0)])
    lines += ["", f"Full input beats the random baseline on {better} of the paper's 4 metrics.",
              f"Full input beats the input without the image on {agree} of the 3 plan "
              "agreements (tempo, loudness, mode).",
              "", f"Pictures: {result.get('pictures', '?')} unseen ones, each window paired "
              "with the one nearest its feeling by the picture's measured look. "
              "The plan columns: correlation, over the pairs, of the drawn plan's tempo "
              "and loudness with the held-out window's own, and the shares of pairs whose "
              "plan plays the window's mode and instrument. The paper's four compare the "
              "sound frame by frame with a performance of other notes, so the instrument "
              "weighs most in MCD and LSD."]
    return "\n".join(lines) + "\n"
