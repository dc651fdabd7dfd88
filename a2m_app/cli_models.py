"""``a2m models list | fetch NAME | verify [NAME] | remove NAME`` (see ``model_store.py``)."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from a2m_core.errors import ModelLoadError
from a2m_core.model_store import fetch_model, human_size, list_models, remove_model, verify_model
from a2m_core.registry import models_home, registry

# The CLI's exit code for "a check failed" (verify found damage).
EXIT_CHECK_FAILED = 1


def add_models_parser(sub: Any) -> None:
    m = sub.add_parser("models", help="list, fetch, verify or remove published models",
                       description=f"Models live in $A2M_HOME (now: {models_home()}). "
                       "$A2M_REGISTRY may name a JSON file of extra entries.")
    msub = m.add_subparsers(dest="models_command", required=True)
    ls = msub.add_parser("list", help="each model, whether installed, its size, the default")
    ls.set_defaults(func=cmd_list)
    f = msub.add_parser("fetch", help="download, verify and build a model into a bundle")
    f.add_argument("name", help="model name (see `a2m models list`)")
    f.add_argument("--from", dest="source", metavar="BASE",
                   help="an http(s) mirror or a local folder laid out like the publisher's "
                   "repository (files at their repository paths; may also hold "
                   "open_clip_pytorch_model.bin)")
    f.add_argument("--set-default", action="store_true",
                   help="make it the default of a2m, the desktop app and the OSC bridge")
    f.add_argument("--all", action="store_true", help="also fetch optional files")
    f.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=cmd_fetch)
    v = msub.add_parser("verify", help="re-check installed files against their ids")
    v.add_argument("name", nargs="?", help="one model (default: every installed one)")
    v.set_defaults(func=cmd_verify)
    r = msub.add_parser("remove", help="delete an installed model (never the starter)")
    r.add_argument("name")
    r.set_defaults(func=cmd_remove)
    d = msub.add_parser("default", help="make an installed model the default")
    d.add_argument("name")
    d.set_defaults(func=cmd_default)


def cmd_list(args: argparse.Namespace) -> int:
    rows = list_models()
    width = max(len(r.name) for r in rows)
    for r in rows:
        mark = "*" if r.is_default else " "
        state = f"installed, {human_size(r.size_bytes)}" if r.installed else \
            f"not installed{', ' + r.size_hint if r.size_hint else ''}"
        print(f"{mark} {r.name:<{width}}  {state}\n    {r.description}")
    print(f"(* the default; models live in {models_home()})")
    return 0


class _Bar:
    """One tqdm bar per file: bytes, speed, time left."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.bar, self.what = quiet, None, None

    def __call__(self, what: str, done: int, total: int | None) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        if what != self.what:
            self.close()
            self.what = what
            self.bar = tqdm(total=total, initial=done, unit="B", unit_scale=True,
                            unit_divisor=1024, desc=what.rsplit("/", 1)[-1], file=sys.stderr,
                            leave=True)
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def cmd_fetch(args: argparse.Namespace) -> int:
    bar = _Bar(args.quiet)
    try:
        result = fetch_model(args.name, source=args.source, progress=bar,
                             include_optional=args.all, make_default=args.set_default)
    finally:
        bar.close()
    if result.fetched_bytes or result.files:
        print(f"{result.name}: {len(result.files)} file(s) verified "
              f"({human_size(result.fetched_bytes)} transferred now)")
    from a2m_core.registry import is_soundfont

    if is_soundfont(result.name):
        print(f"{result.name}: SoundFont {result.bundle} (checked); notes models find it "
              f"by its sha256 from now on")
        return 0
    print(f"{result.name}: bundle {result.bundle}")
    default = " (now the default)" if args.set_default else \
        f"; make it the default with `a2m models default {result.name}`"
    print(f"use it: a2m generate --bundle {result.name} --image painting.jpg "
          f"--comment '...'{default}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    names = [args.name] if args.name else [r.name for r in list_models() if r.installed]
    bad = 0
    for name in names:
        problems = verify_model(name)
        if problems:
            bad += 1
            for p in problems:
                print(f"{name}: {p}")
        else:
            print(f"{name}: ok")
    return EXIT_CHECK_FAILED if bad else 0


def cmd_remove(args: argparse.Namespace) -> int:
    freed = remove_model(args.name)
    print(f"{args.name}: removed ({human_size(freed)} freed)")
    return 0


def cmd_default(args: argparse.Namespace) -> int:
    from a2m_core.registry import bundle_path, set_default_model

    if args.name not in registry():
        raise ModelLoadError(f"unknown model '{args.name}'; known: "
                             f"{', '.join(sorted(registry()))}")
    if not bundle_path(args.name).is_file():
        raise ModelLoadError(f"model '{args.name}' is not installed: run "
                             f"`a2m models fetch {args.name}`")
    set_default_model(args.name)
    print(f"{args.name} is now the default")
    return 0
