"""SPEC §4 / paper Table IV: MCD, FAD, LSD and cosine for four input settings.

Settings (rows, in the paper's order): ``random`` (both CLIP features replaced by Gaussian
noise of the real features' mean and spread, seeded), ``no_text`` (text features zeroed),
``no_image`` (image features zeroed), ``full`` (image + text). Each generated clip is compared
with the reference clip of its pair; generation is deterministic (the average rendition, no
draw), audio is compared before loudness normalisation (fades and the peak ceiling applied),
references are the dataset's clips.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from a2m_core.audio import denormalize
from a2m_core.engine import Art2Music

from ..data.dataset import ArtiCaps
from ..data.store import atomic_write_bytes, atomic_write_json
from .metrics import AudioEmbedding, MelStatsEmbedding, fad_and_cosine, lsd, mcd

SETTINGS = ("random", "no_text", "no_image", "full")
LABELS = {"random": "random baseline", "no_text": "without text", "no_image": "without image",
          "full": "full input"}
PAPER = {"random": (13.94, 0.83, 11.61, 0.37), "no_text": (12.64, 0.81, 10.57, 0.32),
         "no_image": (12.87, 0.75, 18.51, 0.42), "full": (11.36, 0.70, 9.64, 0.56)}


@torch.inference_mode()
def evaluate_table4(
    bundle: str | Path,
    dataset: str | Path,
    split: str = "test",
    embedding: AudioEmbedding | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    device: str = "auto",
    progress: Callable[[str, int, int], None] | None = None,
    max_pairs: int | None = None,
) -> dict[str, Any]:
    """Evaluate a bundle on a dataset split; writes ``table4.json``/``table4.md`` to ``out``.

    ``max_pairs`` evaluates an evenly spaced subset (each pair costs four vocoded clips).
    """
    engine = Art2Music.load(bundle, device=device)
    engine.set_generation_params(loudness_lufs=None)  # compared before loudness normalisation
    ds = ArtiCaps.open(dataset)
    pairs = ds.split(split)
    if max_pairs and len(pairs) > max_pairs:
        pairs = [pairs[round(k * (len(pairs) - 1) / (max_pairs - 1))] for k in range(max_pairs)]
    if len(pairs) < 2:
        raise ValueError(f"the {split} split has {len(pairs)} pairs; FAD needs at least 2")
    embedding = embedding or MelStatsEmbedding(engine.mel_config)
    cfg = engine.mel_config
    images = engine.encoder.encode_images([ds.pairs[i]["image"] for i in pairs])
    texts = engine.encoder.encode_texts([ds.pairs[i]["prompt"] for i in pairs])
    gen = torch.Generator().manual_seed(seed)

    def noise_like(x: torch.Tensor) -> torch.Tensor:
        return torch.randn(x.shape, generator=gen) * x.std() + x.mean()

    inputs = {
        "random": (noise_like(images), noise_like(texts)),
        "no_text": (images, torch.zeros_like(texts)),
        "no_image": (torch.zeros_like(images), texts),
        "full": (images, texts),
    }
    ref_waves = [ds.wave(i) for i in pairs]
    ref_emb = embedding(ref_waves, cfg.sample_rate)  # once for the four settings
    ref_logmels = [denormalize(ds.mel(i), cfg) for i in pairs]
    rows: dict[str, dict[str, float]] = {}
    for n, name in enumerate(SETTINGS):
        if progress:
            progress("evaluate", n, len(SETTINGS))
        img, txt = inputs[name]
        # no seed and no painting key: each pair's average rendition, no draw
        clips = engine.generate_from_features(img, txt, [None] * len(pairs))
        gen_logmels = [denormalize(c.mel, cfg) for c in clips]
        gen_waves = [c.audio for c in clips]
        if name == "full":
            full_waves, full_mels = gen_waves, [c.mel for c in clips]
        fad, cos = fad_and_cosine(embedding, ref_waves, gen_waves, cfg.sample_rate, ref_emb)
        rows[name] = {
            "mcd": float(np.mean([mcd(r, g) for r, g in zip(ref_logmels, gen_logmels)])),
            "fad": fad,
            "lsd": float(np.mean([lsd(r, g) for r, g in zip(ref_logmels, gen_logmels)])),
            "cosine": cos,
        }
    if progress:
        progress("evaluate", len(SETTINGS), len(SETTINGS))
    result = {
        "bundle": engine.name, "dataset": str(ds.root), "split": split, "pairs": len(pairs),
        "embedding": embedding.name, "embedding_label": getattr(embedding, "label", ""),
        "comparable_to_paper": embedding.comparable_to_paper,
        "settings": rows, "paper": {k: dict(zip(("mcd", "fad", "lsd", "cosine"), v))
                                    for k, v in PAPER.items()},
        "musicality": musicality_report(full_waves, ref_waves, cfg.sample_rate),
    }
    if hasattr(embedding, "tags"):  # an embedding with mood tags (musicnn): feeling agreement
        from .feeling import feeling_agreement

        result["feeling"] = {
            "tags": embedding.name,
            **feeling_agreement([(ds.pairs[i]["utterance"], ds.pairs[i].get("emotion") or None)
                                 for i in pairs], embedding.tags(full_waves, cfg.sample_rate))}
    if out is not None:
        out = Path(out)
        worst_best = result["musicality"]["worst_best"]
        atomic_write_bytes(out / "musicality.png", mel_pictures(
            [full_mels[i] for i in worst_best], [ds.mel(pairs[i]) for i in worst_best],
            ["fewest changes (lowest band std)", "most (highest band std)"]))
        write_items(out, [ds.pairs[i] for i in pairs], full_waves, cfg.sample_rate)
        atomic_write_json(out / "table4.json", result)
        atomic_write_bytes(out / "table4.md", render_markdown(result).encode("utf-8"))
    return result


def write_items(out: Path, pairs: list[dict[str, Any]], waves: list[np.ndarray],
                sample_rate: int) -> None:
    """The full-input clips (``clips/full-NNN.wav``, at the player's level) and
    ``items.csv`` (image, comment, audio, reference): what ``a2m-train rate --batch OUT``
    sends to an LLM rater."""
    import io

    import soundfile as sf

    from a2m_core import postprocess

    from ..data.store import atomic_write_csv

    rows = []
    for k, (pair, wave) in enumerate(zip(pairs, waves)):
        name = f"clips/full-{k:03d}.wav"
        buf = io.BytesIO()
        sf.write(buf, postprocess.finish(wave, sample_rate), sample_rate, format="WAV",
                 subtype="PCM_16")
        atomic_write_bytes(out / name, buf.getvalue())
        rows.append({"image": pair["image"], "comment": pair["utterance"], "audio": name,
                     "reference": pair.get("ytid", "")})
    atomic_write_csv(out / "items.csv", rows)


def musicality_report(generated: list[np.ndarray], references: list[np.ndarray],
                      sample_rate: int) -> dict[str, Any]:
    """The yardstick's figures (``musicality.py``) of the full-input clips against their
    reference clips, and which generated items move least and most (a drone shows at once)."""
    from .musicality import mean_figures, musicality

    gen = [musicality(w, sample_rate) for w in generated]
    ref = [musicality(w, sample_rate) for w in references]
    order = sorted(range(len(gen)), key=lambda i: gen[i]["band_std"])
    return {"generated": mean_figures(gen), "reference": mean_figures(ref),
            "items": [{"generated": g, "reference": r} for g, r in zip(gen, ref)],
            "worst_best": [order[0], order[-1]] if order else []}


def mel_pictures(generated: list[np.ndarray], references: list[np.ndarray],
                 titles: list[str]) -> bytes:
    """A PNG: each generated mel beside its reference (normalised mels, low bands down)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = max(1, len(generated))
    fig, axes = plt.subplots(rows, 2, figsize=(10, 2.2 * rows), squeeze=False)
    for k, (g, r, title) in enumerate(zip(generated, references, titles)):
        for ax, mel, what in ((axes[k][0], g, "generated"), (axes[k][1], r, "reference")):
            ax.imshow(mel, origin="lower", aspect="auto", vmin=-1, vmax=1, cmap="magma")
            ax.set_title(f"{what}: {title}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()


def render_markdown(result: dict[str, Any], picture: str | None = "musicality.png") -> str:
    """The report; ``picture``: the musicality PNG's path from where the report is written
    (None: the report is kept apart from the evaluation folder, so no picture is linked)."""
    label = result.get("embedding_label", "")
    fad, cos = (f"FAD-{label}", f"cosine-{label}") if label else ("FAD", "cosine")
    lines = [
        f"# Table IV: {result['bundle']} on {result['pairs']} {result['split']} pairs", "",
        f"FAD/cosine embedding: {result['embedding']}"
        + ("" if result["comparable_to_paper"] else
           " — FAD and cosine are **not comparable** with the paper's (VGGish) numbers."), "",
        f"| setting | MCD ↓ | {fad} ↓ | LSD ↓ | {cos} ↑ | paper MCD / FAD / LSD / cosine |",
        "|---|---|---|---|---|---|",
    ]
    f = result.get("feeling")
    for name in SETTINGS:
        r, p = result["settings"][name], PAPER[name]
        lines.append(f"| {LABELS[name]} | {r['mcd']:.2f} | {r['fad']:.2f} | {r['lsd']:.2f} | "
                     f"{r['cosine']:.2f} | {p[0]} / {p[1]} / {p[2]} / {p[3]} |")
    m = result.get("musicality")
    if m:
        g, r = m["generated"], m["reference"]
        lines += [
            "", "## Does it move like music?", "",
            "The figures of `trainer/evaluate/musicality.py` for the full-input clips "
            "and of their reference clips; a static drone scores about 2 dB band std and 1 dB "
            "drift. Table IV scores one deterministic clip per pair: with a performance "
            "latent, its prior, the average rendition of the feeling, which moves less than "
            "the clips users hear (those draw a latent: `benchmarks/bench_starter_music.py`).",
            "",
            "| clips | band std, dB | onsets /s | flux | drift, dB |", "|---|---|---|---|---|",
            f"| generated (full input) | {g['band_std']:.2f} | {g['onsets']:.2f} | "
            f"{g['flux']:.2f} | {g['drift']:.2f} |",
            f"| reference | {r['band_std']:.2f} | {r['onsets']:.2f} | {r['flux']:.2f} | "
            f"{r['drift']:.2f} |"]
        if picture:
            lines += ["", "![the generated items that move least and most, beside their "
                      f"references]({picture})"]
    if f:
        def share(key: str) -> str:
            return "-" if f[key] != f[key] else f"{f[key]:.0%}"

        lines += [
            "", "## Does the music feel like the comment?", "",
            f"Comment feeling (ArtEmis emotion, else its words) against the full-input clips' "
            f"mood from {f['tags']} tags, in the valence/arousal plane "
            "(`trainer/evaluate/feeling.py`); chance is 50 % per axis, 25 % for both.", "",
            "| axis | items | agreement |", "|---|---|---|",
            f"| valence | {f['valence_items']} | {share('valence_agreement')} |",
            f"| arousal | {f['arousal_items']} | {share('arousal_agreement')} |",
            f"| both (quadrant) | {f['quadrant_items']} | {share('quadrant_agreement')} |"]
    return "\n".join(lines) + "\n"
