"""Time per stage for one 10.4 s clip at the paper's size, on this machine, against
MusicGen-small measured in the same run.

Paper size: OpenCLIP ViT-H-14 (986 M parameters), projector 2048->512, a 4-layer x 512
BiLSTM decoder over T=896 frames, HiFi-GAN V1. Weights are random (trained ones cost the
same); nothing is downloaded. Measured in one run, for ratios:
- ``full_clip_s``: a cold clip (nothing cached) with the engine's default runtime
  (``acceleration.RuntimeOptions()``: on a CPU the ONNX Runtime vocoder, int8 OpenCLIP and,
  where the CPU has bf16 instructions, the bf16 decoder), and the same on the plain path
  (eager PyTorch, float32) and with each alone (and there, every stage in bf16), with the
  error each one makes against plain (largest sample difference; embedding cosine and mel
  change in dB) and its engine load time;
- ``first_sound_s``: a warm streamed generation, from the call to the first chunk (for the
  default and for each runtime); and one whole stream's chunk sizes and the silence a
  listener starting at the first chunk would wait through (``stream.gap_s``);
- ``load_s``: building the engine; warm clips (embeddings cached); Griffin-Lim;
- ``musicgen_small_s``: MusicGen-small (random weights, published size) for 10 s of audio
  (``musicgen_baseline.py``; timed on ``--musicgen-tokens`` steps and scaled, saying so).

    python benchmarks/bench_generate.py [--runs 3] [--threads N] [--encoder ViT-H-14]
        [--musicgen-tokens 64 | 0 to skip] [--device cpu|cuda] [--batch 32] [--json FILE]
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

import numpy as np
import torch

from a2m_core.audio import MelConfig, griffin_lim
from a2m_core.bundle import Bundle, BundleConfig, VocoderConfig, build_modules
from a2m_core.encoders import EncoderConfig
from a2m_core.engine import Art2Music
from a2m_core.mel import HiFiGANConfig
from a2m_core.mel.acceleration import RuntimeOptions, cpu_has_native_bf16, cpu_name
from a2m_core.projector import ProjectorConfig

PAINTING = Path(__file__).resolve().parents[1] / "examples" / \
    "vincent-van-gogh_the-starry-night-1889.jpg"


def paper_engine(encoder: str, embed_dim: int, runtime: RuntimeOptions | None = None,
                 device: str = "cpu") -> tuple[Art2Music, float]:
    """A paper-size engine with random weights; seeded, so two calls hold the same weights
    (the runtimes' errors are measured between them)."""
    torch.manual_seed(0)
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
    torch.manual_seed(1)  # the encoder's random init
    engine = Art2Music(Bundle(cfg, tensors), device=device, runtime=runtime)
    return engine, time.perf_counter() - start


def _encoder_params(encoder: str) -> int:
    import open_clip

    model = open_clip.create_model(encoder, pretrained=None, device="meta")
    return sum(p.numel() for p in model.parameters())


def first_sound(engine: Art2Music, runs: int, firsts: list[float] | None = None) -> float:
    """Median seconds of a warm streamed generation from the call to its first chunk
    (``firsts`` gets every run's, in order: the first is the engine's first stream)."""
    engine.generate(PAINTING, "the swirling sky feels alive, take 0", seed=0)  # cache it
    first = []
    for _ in range(runs):
        t = time.perf_counter()
        stream = engine.generate_stream(PAINTING, "the swirling sky feels alive, take 0",
                                        seed=0)
        next(stream)
        first.append(time.perf_counter() - t)
        stream.close()
    if firsts is not None:
        firsts.extend(first)
    return statistics.median(first)


def stream_gaps(engine: Art2Music) -> dict[str, float | list[int]]:
    """One whole warm stream, heard by a listener who starts at the first chunk: the chunk
    sizes (frames) and the seconds of silence spent waiting for a chunk after the first."""
    hop, sr = engine.mel_config.hop_length, engine.sample_rate
    sizes, gap, play_end = [], 0.0, None
    for chunk in engine.generate_stream(PAINTING, "the swirling sky feels alive, take 0",
                                        seed=0):
        ready = time.perf_counter()
        play_end = ready if play_end is None else play_end
        gap += max(0.0, ready - play_end)
        play_end = max(play_end, ready) + chunk.audio.size / sr
        sizes.append(chunk.audio.size // hop)
    return {"chunk_frames": sizes, "gap_s": round(gap, 3)}


def cold_clip(engine: Art2Music, runs: int) -> tuple[dict[str, float], object]:
    """Median per-stage seconds of ``runs`` cold generations (encoder cache cleared)."""
    engine.generate(PAINTING, "warm-up run", seed=0)  # first-call allocations, lazy imports
    cold = []
    for i in range(runs):
        engine.encoder.clear_cache()
        t = time.perf_counter()
        clip = engine.generate(PAINTING, f"the swirling sky feels alive, take {i}", seed=i)
        cold.append({**clip.timings, "total": time.perf_counter() - t})
    return {k: statistics.median(r[k] for r in cold) for k in cold[0]}, clip


@torch.inference_mode()
def runtime_errors(plain: Art2Music, fast: Art2Music, clip_mel) -> dict[str, float]:
    """What a faster runtime changes: the vocoder's largest sample difference on one mel,
    and for an int8 encoder the embeddings' cosine and the mel's change in dB."""
    from trainer.evaluate.musicality import mel_db_change

    mel = torch.from_numpy(clip_mel)
    diff = np.abs(plain._voice.vocoding.wave(mel) - fast._voice.vocoding.wave(mel))
    out = {"vocoder_max_abs_diff": float(diff.max())}
    if fast.runtime.wants_int8(True):
        a = plain.encoder.encode_images([PAINTING]), plain.encoder.encode_texts(["a storm"])
        b = fast.encoder.encode_images([PAINTING]), fast.encoder.encode_texts(["a storm"])
        out["image_embedding_cosine"] = float(torch.cosine_similarity(a[0], b[0]).item())
        out["text_embedding_cosine"] = float(torch.cosine_similarity(a[1], b[1]).item())
        ma = plain.generate_from_features(a[0], a[1], [1])[0].mel
        mb = fast.generate_from_features(b[0], b[1], [1])[0].mel
        out["mel_change_db"] = mel_db_change(ma, mb, plain.mel_config)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="cold generations to time (median)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    ap.add_argument("--encoder", default="ViT-H-14", help="OpenCLIP architecture")
    ap.add_argument("--embed-dim", type=int, default=1024)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (fails clearly without CUDA)")
    ap.add_argument("--musicgen-tokens", type=int, default=64,
                    help="MusicGen decoder steps to time, scaled to 10 s (0: skip MusicGen)")
    ap.add_argument("--batch", type=int, default=32,
                    help="clips per generate_batch call for the GPU throughput figure")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    logging.disable(logging.WARNING)  # open_clip's "random weights" notice is expected here
    if args.threads:
        torch.set_num_threads(args.threads)

    from a2m_core.errors import BadInputError

    try:
        engine, load_s = paper_engine(args.encoder, args.embed_dim, device=args.device)
    except BadInputError as err:  # e.g. --device cuda on a machine without CUDA
        raise SystemExit(f"bench_generate: {err}") from None
    n_params = {
        # int8 layers keep their weights packed, outside parameters(): count the float model
        "encoder": _encoder_params(args.encoder),
        "projector": sum(p.numel() for p in engine._projector.parameters()),
        "decoder": sum(p.numel() for p in engine._voice.decoder.parameters()),
        "vocoder": sum(p.numel() for p in engine._voice.vocoding.vocoder.parameters()),
    }
    med, clip = cold_clip(engine, args.runs)
    warm = []
    for _ in range(args.runs):
        t = time.perf_counter()
        engine.generate(PAINTING, "the swirling sky feels alive, take 0", seed=0)
        warm.append(time.perf_counter() - t)
    # First sound of a warm streamed generation: from the call until the first chunk exists.
    each_first: list[float] = []
    first_s = first_sound(engine, args.runs, each_first)
    gaps = stream_gaps(engine)
    gl = []
    for _ in range(args.runs):
        t = time.perf_counter()
        griffin_lim(clip.mel, MelConfig(), n_iter=32)
        gl.append(time.perf_counter() - t)

    # The plain path and each faster runtime alone, on the same weights; errors against plain.
    runtimes = {}
    default_errors = {}
    if args.device == "cpu":
        plain, plain_load = paper_engine(args.encoder, args.embed_dim, RuntimeOptions.plain())
        # The default is all of them (ONNX Runtime vocoder, int8 OpenCLIP, and on a CPU with
        # bf16 instructions the bf16 decoder); each alone beside it, and where bf16 runs,
        # every PyTorch stage in bf16 (opt-in: its error is printed).
        alone = [("plain", None),
                 ("onnx_vocoder_only", RuntimeOptions(encoder_int8=False, precision="fp32")),
                 ("int8_encoder_only", RuntimeOptions(vocoder_backend="torch",
                                                      precision="fp32"))]
        if cpu_has_native_bf16():
            alone += [("bf16_decoder_only", RuntimeOptions(vocoder_backend="torch",
                                                           encoder_int8=False)),
                      ("bf16_everywhere", RuntimeOptions(precision="bf16"))]
        for name, opts in alone:
            fast, fast_load = (plain, plain_load) if opts is None else \
                paper_engine(args.encoder, args.embed_dim, opts)
            stages, _ = cold_clip(fast, args.runs)
            runtimes[name] = {"cold_stage_s": {k: round(v, 3) for k, v in stages.items()},
                              "full_clip_s": round(stages["total"], 3),
                              "load_s": round(fast_load, 2), "vocoder": fast.vocoder_name,
                              "first_sound_s": round(first_sound(fast, args.runs), 3),
                              "errors": {} if opts is None else
                              runtime_errors(plain, fast, clip.mel)}
            if opts is not None:
                del fast
        default_errors = runtime_errors(plain, engine, clip.mel)
        del plain
    batched = None
    if args.device != "cpu":
        # A GPU: reduced precision on the same weights, and clips per minute in batches
        # (the targets: < 100 ms per clip, >= 1,000 clips per minute).
        for name in ("fp16", "bf16"):
            fast, fast_load = paper_engine(args.encoder, args.embed_dim,
                                           RuntimeOptions(precision=name), device=args.device)
            stages, _ = cold_clip(fast, args.runs)
            runtimes[name] = {"cold_stage_s": {k: round(v, 3) for k, v in stages.items()},
                              "full_clip_s": round(stages["total"], 3),
                              "load_s": round(fast_load, 2), "vocoder": fast.vocoder_name,
                              "errors": runtime_errors(engine, fast, clip.mel)}
            del fast
        from a2m_core import GenerationRequest

        reqs = [GenerationRequest(PAINTING, f"the swirling sky, take {i}", seed=i)
                for i in range(args.batch)]
        engine.generate_batch(reqs[:2])  # warm-up
        torch.cuda.synchronize()
        t = time.perf_counter()
        engine.generate_batch(reqs)
        torch.cuda.synchronize()
        dt = time.perf_counter() - t
        batched = {"clips": args.batch, "seconds": round(dt, 3),
                   "clips_per_minute": round(60 * args.batch / dt, 1)}

    musicgen = None
    if args.musicgen_tokens:
        from musicgen_baseline import time_musicgen

        musicgen = time_musicgen(args.musicgen_tokens, device=args.device)

    figures = {
        "machine": f"{platform.machine()} {cpu_name() or platform.processor()} "
                   f"({torch.backends.cpu.get_cpu_capability()}, bf16 instructions: "
                   f"{'yes' if cpu_has_native_bf16() else 'no'}), "
                   f"{torch.get_num_threads()} torch threads, torch {torch.__version__}"
                   + (f", {torch.cuda.get_device_name()}" if args.device == "cuda" else ""),
        "params_millions": {k: round(v / 1e6, 2) for k, v in n_params.items()},
        "load_s": round(load_s, 2),
        "cold_stage_s": {k: round(v, 3) for k, v in med.items()},
        "warm_total_s": round(statistics.median(warm), 3),
        "full_clip_s": round(med["total"], 3),
        "first_sound_s": round(first_s, 3),
        # the process's first stream (one-time costs a gallery's first visitor would meet)
        "first_sound_first_stream_s": round(each_first[0], 3),
        "stream": gaps,
        "griffin_lim_32_s": round(statistics.median(gl), 3),
        "runtime": engine.runtime.to_dict(),
        "vocoder": engine.vocoder_name,
        "errors_against_plain": default_errors,
        "runtimes": runtimes,
        "batched": batched,
        "musicgen": musicgen,
        "musicgen_small_s": musicgen["musicgen_small_s"] if musicgen else None,
        "ratios": {
            "realtime_factor_cold": round(clip.duration_s / med["total"], 3),
            "warm_over_cold": round(statistics.median(warm) / med["total"], 3),
            "first_sound_over_full_clip": round(first_s / med["total"], 3),
            "hifigan_v1_over_griffin_lim": round(med["vocoder"] / statistics.median(gl), 2),
        },
    }
    if "plain" in runtimes:
        figures["ratios"]["plain_over_default"] = round(
            runtimes["plain"]["full_clip_s"] / med["total"], 2)
    if musicgen:
        figures["ratios"]["musicgen_over_full_clip"] = round(
            musicgen["musicgen_small_s"] / med["total"], 1)
        for name, r in runtimes.items():
            figures["ratios"][f"musicgen_over_full_clip_{name}"] = round(
                musicgen["musicgen_small_s"] / r["full_clip_s"], 1)
    print(f"Art2Music generation at paper size, {args.runs} runs (median), {figures['machine']}")
    print("parameters (M): " + ", ".join(f"{k} {v}" for k, v in
                                         figures["params_millions"].items()))
    print(f"engine load (random {args.encoder}): {load_s:.2f} s")
    print(f"default runtime: {engine.vocoder_name}, int8 encoder "
          f"{engine.runtime.wants_int8(args.device == 'cpu')}, decoder in "
          f"{engine._dtypes['decoder'] or torch.float32}; errors against plain: "
          + (", ".join(f"{k} {v:.6g}" for k, v in default_errors.items()) or "-"))
    print("cold clip (nothing cached), seconds per stage:")
    for k, v in med.items():
        print(f"  {k:<8} {v:7.3f}")
    print(f"warm clip (embeddings cached): {figures['warm_total_s']:.3f} s")
    print(f"first sound, warm streamed: {figures['first_sound_s']:.3f} s "
          f"({figures['ratios']['first_sound_over_full_clip']:.1%} of the cold full clip); "
          f"the process's first stream: {figures['first_sound_first_stream_s']:.3f} s")
    print(f"a whole stream: chunks of {gaps['chunk_frames']} frames (paced by the vocoder's "
          f"speed), {gaps['gap_s']:.3f} s of silence waiting for chunks after the first")
    print(f"Griffin-Lim fallback, 32 iterations: {figures['griffin_lim_32_s']:.3f} s")
    for name, r in runtimes.items():
        st = r["cold_stage_s"]
        first = (f", first sound {r['first_sound_s']:.3f} s "
                 f"({r['first_sound_s'] / r['full_clip_s']:.1%})" if "first_sound_s" in r else "")
        print(f"runtime {name}: cold clip {r['full_clip_s']:.3f} s (encode {st['encode']:.3f}, "
              f"mel {st['mel']:.3f}, vocoder {st['vocoder']:.3f}){first}; {r['vocoder']}; "
              "errors " + (", ".join(
                  f"{k} {v:.6g}" for k, v in r["errors"].items()) or "-"))
    if batched:
        print(f"batched on {args.device}: {batched['clips']} clips in {batched['seconds']} s "
              f"= {batched['clips_per_minute']} clips per minute")
    if musicgen:
        print(f"MusicGen-small ({musicgen['params_millions']} M, random weights): "
              f"{musicgen['seconds_per_step']:.3f} s/step, EnCodec decode "
              f"{musicgen['decode_10s_s']:.2f} s -> {musicgen['musicgen_small_s']:.1f} s for "
              f"10 s" + (f" (timed on {musicgen['steps_timed']} steps, scaled to 503)"
                         if musicgen["scaled"] else ""))
    r = figures["ratios"]
    print(f"ratios: {r['realtime_factor_cold']}x real time (10.4 s of audio / cold wall time); "
          f"warm/cold {r['warm_over_cold']}; HiFi-GAN V1 / Griffin-Lim "
          f"{r['hifigan_v1_over_griffin_lim']}"
          + (f"; plain/default {r['plain_over_default']}" if "plain_over_default" in r else "")
          + "".join(
              f"; {k.replace('musicgen_over_full_clip', 'MusicGen/clip')} {v}"
              for k, v in r.items() if k.startswith("musicgen")))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
