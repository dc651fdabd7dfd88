"""``a2m info``, ``a2m import-reference`` and ``a2m debug-bundle``: describe, import and make
bundles."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from a2m_core.bundle import BundleConfig


def add_bundle_parsers(sub: Any) -> None:
    i = sub.add_parser("info", help="describe a bundle")
    i.add_argument("bundle", nargs="?", help="bundle file or installed model name (default: "
                   "the default bundle)")
    i.add_argument("--json", action="store_true", help="print the full config as JSON")
    i.set_defaults(func=cmd_info)

    r = sub.add_parser("import-reference", help="turn the authors' checkpoints into a bundle")
    r.add_argument("--decoder", required=True, help="best_model_epoch.pt (decoder state dict)")
    r.add_argument("--projector", help="projector state dict, if not inside the decoder file")
    r.add_argument("--random-projector", type=int, metavar="SEED",
                   help="no projector weights exist: use a seeded random one (as the ref did)")
    r.add_argument("--vocoder", help="HiFi-GAN generator checkpoint, e.g. "
                   "hifigan_g_00411810.pth (default: Griffin-Lim fallback)")
    r.add_argument("--hifigan-config", default="v1", help="v1, v2, v3 or an official "
                   "config.json (default v1)")
    r.add_argument("--encoder", default="ViT-H-14", help="OpenCLIP architecture")
    r.add_argument("--pretrained", default="laion2b_s32b_b79k", help="OpenCLIP tag")
    r.add_argument("--encoder-weights", help="local OpenCLIP weights file instead of the tag")
    r.add_argument("--embed-dim", type=int, default=1024, help="encoder embedding size")
    r.add_argument("--normalize", action="store_true", help="L2-normalise CLIP features")
    r.add_argument("-o", "--output", required=True, help="bundle file to write")
    r.set_defaults(func=cmd_import_reference)

    d = sub.add_parser("debug-bundle", help="write a tiny untrained bundle (tests, demos)")
    d.add_argument("-o", "--output", required=True)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--vocoder", choices=["hifigan", "griffin-lim"], default="hifigan")
    d.set_defaults(func=cmd_debug_bundle)


def _runtime_line(cfg: BundleConfig) -> str:
    """What the default CPU runtime (acceleration.RuntimeOptions()) does with this bundle."""
    from a2m_core.mel.acceleration import RuntimeOptions, cpu_has_native_bf16

    parts = []
    if cpu_has_native_bf16():
        parts.append("the mel decoder in bf16 (this CPU has bf16 instructions)")
    if cfg.vocoder.kind == "hifigan":
        onnx = RuntimeOptions().wants_onnx(on_cpu=True)
        frozen = getattr(sys, "frozen", False)
        parts.append("HiFi-GAN through ONNX Runtime (exported once per machine)" if onnx
                     else "HiFi-GAN in PyTorch (the gallery build carries no ONNX Runtime; "
                     "the same output, ~1.3x slower)" if frozen
                     else "HiFi-GAN in PyTorch (install onnxruntime and onnx for ~1.3x)")
    if cfg.is_notes:
        parts.append("plan, notes and the SoundFont sampler in PyTorch and C (no ONNX "
                     "Runtime needed)")
    if cfg.encoder.name != "none":
        parts.append("OpenCLIP with int8 Linear layers (RuntimeOptions(encoder_int8=False) "
                     "for float32)")
    return "runtime     on a CPU: " + ("; ".join(parts) or "PyTorch") + \
        " (RuntimeOptions.plain() for eager float32)"


def _check_tensors(bundle) -> None:
    """Refuse a bundle whose tensors do not fit its config, as generate would (so info
    never calls a broken bundle fine). The packaged vocoder is not loaded here."""
    from a2m_core.bundle import BundleModules, _prefixed, build_modules, check_state

    cfg = bundle.config
    if cfg.is_notes or cfg.vocoder.packaged is None:
        mods = build_modules(cfg)
    else:
        from a2m_core.bundle import GatedResidualProjector, MelDecoder

        mods = BundleModules(GatedResidualProjector(cfg.projector), MelDecoder(cfg.decoder), None)
    where = f"bundle {bundle.path.name}" if bundle.path else "bundle"
    for prefix, module in _prefixed(mods, cfg.vocoder.packaged is not None).items():
        check_state(module.state_dict(), bundle.part(prefix), f"{where} ({prefix})")


def _param_count(tensors: dict, prefix: str) -> int:
    return sum(v.numel() for k, v in tensors.items() if k.startswith(prefix + "."))


def cmd_info(args: argparse.Namespace) -> int:
    from a2m_core.bundle import load_bundle
    from a2m_core.defaults import resolve

    path = resolve(args.bundle)
    bundle = load_bundle(path)
    cfg = bundle.config
    if args.json:
        print(json.dumps({"path": str(path), **cfg.to_dict()}, indent=2))
        return 0
    m, e, p, d = cfg.mel, cfg.encoder, cfg.projector, cfg.decoder
    kind = ("UNTRAINED (random weights; output is not music)" if cfg.untrained else
            "starter model (small, CPU-trained; not the paper's model)" if cfg.starter else
            "trained model")
    lines = [
        f"bundle      {cfg.name}  ({path}, {path.stat().st_size / 1e6:.1f} MB, "
        f"format v{cfg.format_version})",
        f"kind        {kind}",
    ]
    if cfg.description:
        lines.append(f"about       {cfg.description}")
    if e.needs_clip:
        enc_line = (f"encoder     OpenCLIP {e.name}, embed {e.embed_dim}, "
                    f"{'L2-normalised' if e.normalize else 'raw'} features; "
                    f"{e.describe_source()}; images: {e.describe_image()}; "
                    f"texts: {e.describe_text()}"
                    + (f", {_param_count(bundle.tensors, 'encoder') / 1e6:.1f} M params"
                       if e.weights_in_bundle else ""))
    else:
        enc_line = f"encoder     images: {e.describe_image()}; texts: {e.describe_text()}"
    voc_params = _param_count(bundle.tensors, "vocoder")
    lines += [
        enc_line,
        f"projector   gated residual, {p.text_dim}+{p.image_dim} -> {p.hidden}, "
        f"gate form '{p.gate_input}', {_param_count(bundle.tensors, 'projector') / 1e6:.2f} M",
    ]
    if cfg.is_notes:
        assert cfg.notes is not None and cfg.sampler is not None
        n = cfg.notes
        lines += [
            f"plan        control head {n.head_hidden} wide: tempo, key, density, register, "
            f"articulation, dynamics, {len(n.instruments)} instruments, texture; "
            f"temperature {n.plan_temperature} "
            f"({_param_count(bundle.tensors, 'notes_head') / 1e6:.2f} M params)",
            f"notes       GRU {n.layers} layers x {n.hidden}, event tokens (bar, position, "
            f"pitch, duration), top-p {n.top_p}, temperature {n.note_temperature} "
            f"({_param_count(bundle.tensors, 'notes_model') / 1e6:.2f} M params)",
            f"sound       {cfg.sampler.describe()}",
            "what it is  the paper's design up to the fused vector (encoders + gated "
            "projector), then a plan of feeling cues, notes and a SoundFont sampler instead "
            "of the paper's BiLSTM mel decoder and HiFi-GAN; `a2m generate --midi` writes "
            "the notes",
        ]
        _check_tensors(bundle)
        if cfg.provenance:
            lines.append("provenance  " + ", ".join(f"{k}: {v}" for k, v in
                                                    cfg.provenance.items()))
        lines.append(
            "paper model `a2m models fetch paper` installs the paper's mel model where a "
            "mirror serves it; or get the authors' checkpoints (best_model_epoch.pt, "
            "hifigan_g_00411810.pth) and run `a2m import-reference`")
        print("\n".join(lines))
        return 0
    lines += [
        f"decoder     BiLSTM {d.layers} layers x {d.hidden} hidden, T={d.n_frames}, "
        f"{d.frames_per_step} frame(s) per step, "
        + (f"{d.latent_dim}-d seeded latent" + (
            f" in {d.latent_segments} stretches of time" if d.latent_segments > 1 else "")
            + ", " if d.latent_dim else "")
        + f"{d.n_mels} mels, "
        f"{_param_count(bundle.tensors, 'decoder') / 1e6:.2f} M params"
        + (f"; detail flow {d.detail_blocks} blocks x {d.detail_channels} channels, "
           f"{d.detail_steps} steps per clip" if d.detail_channels else ""),
        f"vocoder     {cfg.vocoder.describe()}"
        + (f", {voc_params / 1e6:.2f} M params" if voc_params else "")
        + ("; `a2m generate --vocoder griffin-lim` for the fast fallback"
           if cfg.vocoder.kind == "hifigan" else ""),
        f"mel         {m.sample_rate} Hz, n_fft {m.n_fft}, hop {m.hop_length}, win "
        f"{m.win_length}, {m.n_mels} bands {m.fmin:g}-{m.fmax:g} Hz, log clamp "
        f"{m.clamp_min:g}, [-1,1] <- [{m.log_min:.3f}, {m.log_max:.3f}], pad {m.pad_value:g}, "
        f"T={m.n_frames} ({m.duration_s:.2f} s)",
        f"generation  variation {cfg.generation.variation}, latent temperature "
        f"{cfg.generation.latent_temperature}, loudness "
        f"{cfg.generation.loudness_lufs} LUFS, peak {cfg.generation.peak_dbfs} dBFS",
        _runtime_line(cfg),
    ]
    speed = cfg.provenance.get("cpu_seconds_per_clip")
    if speed:
        lines.append("speed       " + ", ".join(f"{v:.1f} s per clip with {k}"
                                                for k, v in speed.items())
                     + f" (measured on a {cfg.provenance.get('timed_on', 'CPU')} when built)")
    _check_tensors(bundle)
    if cfg.provenance:
        lines.append("provenance  " + ", ".join(f"{k}: {v}" for k, v in cfg.provenance.items()
                                                if k != "cpu_seconds_per_clip"))
    if cfg.starter or cfg.untrained:
        lines.append(
            "paper-scale  `a2m models fetch paper --set-default` downloads and checks the "
            "authors' checkpoints and ViT-H-14 / laion2b_s32b_b79k (or `a2m import-reference` "
            "with files you have; or train your own with `a2m-train`)")
    print("\n".join(lines))
    return 0


def cmd_import_reference(args: argparse.Namespace) -> int:
    from a2m_core.encoders import EncoderConfig
    from a2m_core.reference import import_reference

    encoder = EncoderConfig(name=args.encoder, pretrained=None if args.encoder_weights
                            else args.pretrained,
                            weights_file=str(Path(args.encoder_weights).resolve())
                            if args.encoder_weights else None,
                            normalize=args.normalize, embed_dim=args.embed_dim)
    out = import_reference(args.decoder, args.output, vocoder_path=args.vocoder,
                           projector_path=args.projector, hifigan=args.hifigan_config,
                           encoder=encoder, random_projector_seed=args.random_projector)
    print(f"wrote bundle {out}")
    return 0


def cmd_debug_bundle(args: argparse.Namespace) -> int:
    from a2m_core.debug import build_debug_bundle

    out = build_debug_bundle(args.output, seed=args.seed, vocoder=args.vocoder)
    print(f"wrote tiny untrained bundle {out}")
    return 0
