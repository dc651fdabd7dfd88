"""``a2m-train``: build ArtiCaps, train both stages, evaluate, export, rebuild the starter.

Progress: bars on a terminal; with ``--json-progress``, one JSON object per line on stdout
(``{"event": "progress", "stage": ..., "done": ..., "total": ...}``) for GUIs to parse.
"""
from __future__ import annotations

import argparse
import logging
import sys

from .cli_common import log


def cmd_gui(args: argparse.Namespace) -> int:
    """The trainer window, for those who type ``a2m-train gui`` (its command: a2m-trainer)."""
    from .gui.app import main as window

    return window([])


def build_parser() -> argparse.ArgumentParser:
    from a2m_core import __version__

    ap = argparse.ArgumentParser(prog="a2m-train", description="Art2Music training tools")
    ap.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    ap.add_argument("-v", "--verbose", action="store_true", help="log details and show "
                    "tracebacks")
    sub = ap.add_subparsers(dest="command", required=True)
    from .cli_notes import add_notes_parsers
    from .cli_paper import add_paper_parsers

    add_paper_parsers(sub)
    add_notes_parsers(sub)
    gui = sub.add_parser("gui", help="open the trainer window (the same as a2m-trainer)")
    gui.set_defaults(func=cmd_gui)
    from a2m_core.commandline import verbose_anywhere

    verbose_anywhere(ap)
    return ap


def quiet_libraries() -> None:
    """Keep other packages' deprecation notes and TensorFlow's start-up lines (librosa,
    pkg_resources, musicnn's TF 1 layers) off a person's screen; ``-v`` shows them."""
    import os
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for category in (DeprecationWarning, FutureWarning, PendingDeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("ignore", category=UserWarning,
                            module=r"^(?!a2m_core|a2m_app|trainer)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="a2m-train: %(levelname)s: %(message)s")
    if not args.verbose:
        quiet_libraries()
    from a2m_core.errors import A2MError

    from .data.builder import BuildConflict
    from .data.sources import SourceError
    from .evaluate.rating import RatingError

    try:
        return args.func(args)
    except (A2MError, SourceError, BuildConflict, RatingError, RuntimeError,
            FileNotFoundError, ValueError) as err:
        if args.verbose:
            log.exception("failed")
        print(f"a2m-train: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("a2m-train: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
