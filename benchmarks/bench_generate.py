"""Time per stage for one 10.4 s clip at the paper's size, on this machine.

Paper size: OpenCLIP ViT-H-14 (986 M parameters), projector 2048->512, a 4-layer x 512
BiLSTM decoder over T=896 frames, HiFi-GAN V1. Weights are random (trained ones cost the
same); nothing is downloaded. Baselines measured in the same run, for ratios:
- the Griffin-Lim fallback vocoder (32 iterations) against HiFi-GAN V1;
- a warm generation (embeddings cached: same painting and comment) against a cold one;
- real time: 10.4 s of audio against the wall time of a cold generation.

    python benchmarks/bench_generate.py [--runs 3] [--threads N] [--encoder ViT-H-14]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import time
from pathlib import Path

# Time the encoders for real: embeddings kept on disk by an earlier run (the engine's
# persistent cache) would turn "cold" clips into cache reads.
os.environ.setdefault("A2M_EMBED_CACHE", "0")

import torch

from a2m_core.audio import MelConfig, griffin_lim
from a2m_core.bundle import Bundle, BundleConfig, VocoderConfig, build_modules
from a2m_core.encoders import EncoderConfig
from a2m_core.engine import Art2Music
from a2m_core.models import HiFiGANConfig, ProjectorConfig

PAINTING = Path(__file__).resolve().parents[1] / "examples" / \
    "vincent-van-gogh_the-starry-night-1889.jpg"


def paper_engine(encoder: str, embed_dim: int) -> tuple[Art2Music, float]:
    cfg = BundleConfig(
        name=f"paper-size-random ({encoder})",
        encoder=EncoderConfig(name=encoder, pretrained=None, embed_dim=embed_dim),
        projector=ProjectorConfig(text_dim=embed_dim, image_dim=embed_dim),
        vocoder=VocoderConfig(kind="hifigan", hifigan=HiFiGANConfig.preset("v1")),
        untrained=True,
    )
    mods = build_modules(cfg)
    tensors = {f"{prefix}.{k}": v for prefix, m in
               (("projector", mods.projector), ("decoder", mods.decoder),
                ("vocoder", mods.vocoder)) for k, v in m.state_dict().items()}
    start = time.perf_counter()
    engine = Art2Music(Bundle(cfg, tensors), device="cpu")
    return engine, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="cold generations to time (median)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    ap.add_argument("--encoder", default="ViT-H-14", help="OpenCLIP architecture")
    ap.add_argument("--embed-dim", type=int, default=1024)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    logging.disable(logging.WARNING)  # open_clip's "random weights" notice is expected here
    if args.threads:
        torch.set_num_threads(args.threads)

    engine, load_s = paper_engine(args.encoder, args.embed_dim)
    n_params = {
        "encoder": sum(p.numel() for p in engine.encoder.model.parameters()),
        "projector": sum(p.numel() for p in engine.projector.parameters()),
        "decoder": sum(p.numel() for p in engine.decoder.parameters()),
        "vocoder": sum(p.numel() for p in engine.vocoder.parameters()),
    }
    engine.generate(PAINTING, "warm-up run", seed=0)  # first-call allocations, lazy imports

    cold = []
    for i in range(args.runs):
        engine.encoder.clear_cache()
        t = time.perf_counter()
        clip = engine.generate(PAINTING, f"the swirling sky feels alive, take {i}", seed=i)
        cold.append({**clip.timings, "total": time.perf_counter() - t})
    warm = []
    for _ in range(args.runs):
        t = time.perf_counter()
        engine.generate(PAINTING, "the swirling sky feels alive, take 0", seed=0)
        warm.append(time.perf_counter() - t)
    # First sound of a warm streamed generation: from the call until the first chunk exists.
    first = []
    for _ in range(args.runs):
        t = time.perf_counter()
        stream = engine.generate_stream(PAINTING, "the swirling sky feels alive, take 0",
                                        seed=0)
        next(stream)
        first.append(time.perf_counter() - t)
        stream.close()
    gl = []
    for _ in range(args.runs):
        t = time.perf_counter()
        griffin_lim(clip.mel, MelConfig(), n_iter=32)
        gl.append(time.perf_counter() - t)

    med = {k: statistics.median(r[k] for r in cold) for k in cold[0]}
    figures = {
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, "
                   f"torch {torch.__version__}",
        "params_millions": {k: round(v / 1e6, 2) for k, v in n_params.items()},
        "load_s": round(load_s, 2),
        "cold_stage_s": {k: round(v, 3) for k, v in med.items()},
        "warm_total_s": round(statistics.median(warm), 3),
        "full_clip_s": round(med["total"], 3),
        "first_sound_s": round(statistics.median(first), 3),
        "griffin_lim_32_s": round(statistics.median(gl), 3),
        "ratios": {
            "realtime_factor_cold": round(clip.duration_s / med["total"], 3),
            "warm_over_cold": round(statistics.median(warm) / med["total"], 3),
            "first_sound_over_full_clip": round(statistics.median(first) / med["total"], 3),
            "hifigan_v1_over_griffin_lim": round(med["vocoder"] / statistics.median(gl), 2),
        },
    }
    print(f"Art2Music generation at paper size, {args.runs} runs (median), {figures['machine']}")
    print("parameters (M): " + ", ".join(f"{k} {v}" for k, v in
                                         figures["params_millions"].items()))
    print(f"engine load (random {args.encoder}): {load_s:.2f} s")
    print("cold clip (nothing cached), seconds per stage:")
    for k, v in med.items():
        print(f"  {k:<8} {v:7.3f}")
    print(f"warm clip (embeddings cached): {figures['warm_total_s']:.3f} s")
    print(f"first sound, warm streamed (32-frame first chunk): {figures['first_sound_s']:.3f} s "
          f"({figures['ratios']['first_sound_over_full_clip']:.1%} of the cold full clip)")
    print(f"Griffin-Lim fallback, 32 iterations: {figures['griffin_lim_32_s']:.3f} s")
    r = figures["ratios"]
    print(f"ratios: {r['realtime_factor_cold']}x real time (10.4 s of audio / cold wall time); "
          f"warm/cold {r['warm_over_cold']}; HiFi-GAN V1 / Griffin-Lim "
          f"{r['hifigan_v1_over_griffin_lim']}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
