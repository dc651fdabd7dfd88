"""``a2m-train``'s notes wing: the notes starter, the note corpus and a model of your own
music."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .cli_common import ProgressPrinter, log
from .cli_common import add_common as common


def add_notes_parsers(sub: argparse._SubParsersAction) -> None:
    from .data.note_corpus import SOURCES as NOTE_SOURCES
    from .data.timbre import CANDIDATES

    st = sub.add_parser("starter", help="rebuild the starter bundle (offline: music and "
                        "paintings from the package registries)",
                        description="corpus -> paintings -> emotion pairs -> stage 1 -> "
                        "export -> Table IV. Resumable: re-run the same command after a kill.")
    st.add_argument("-o", "--output", default=str(Path(__file__).resolve().parents[1]
                                                  / "a2m_core" / "assets" /
                                                  "starter.safetensors"))
    st.add_argument("--work", default="build/starter", help="scratch folder")
    st.add_argument("--kind", choices=["notes", "mel"], default="notes",
                    help="notes: the default starter (plan, notes, SoundFont sampler); mel: "
                    "the earlier BiLSTM + HiFi-GAN starter (trainer/starter.py)")
    st.add_argument("--epochs", type=int, help="note-model (notes) or stage-1 (mel) epochs "
                    "(default: the recipe's)")
    st.add_argument("--report", help="also write the Table IV markdown here")
    common(st)
    st.set_defaults(func=cmd_starter)


    nc = sub.add_parser("notes-corpus", help="build a note corpus: windows of notes with "
                        "their true controls", description="Cut music21's Bach chorales and "
                        "folk tunes into ~10.4 s windows at seeded tempi, loudness and "
                        "instruments; each window keeps its notes (as event tokens), the "
                        "controls measured from them, a caption and a licence row.")
    nc.add_argument("--out", required=True, help="corpus folder (skipped when complete)")
    nc.add_argument("--sources", nargs="+", default=list(NOTE_SOURCES), choices=NOTE_SOURCES)
    nc.add_argument("--workers", type=int, default=2, help="parsing processes (2)")
    common(nc)
    nc.set_defaults(func=cmd_notes_corpus)

    om = sub.add_parser("own-music", help="a model of your own recordings and paintings",
                        description="Notes (the default, minutes on a CPU): transcribe your "
                        "recordings (basic-pitch; .mid files as they are), fine-tune the "
                        "starter's note model on them, play it on your paintings and say "
                        "in a sentence whether it plays notes and follows feeling. Paper "
                        "(--model paper): the paper's mel dataset, for stage 1 on a GPU "
                        "(on a CPU it learns a drone). The trainer window's 'Your music' "
                        "tab runs the same. Without --music/--paintings: examples/.")
    om.add_argument("--music", help="folder of recordings (.wav .flac .ogg .mp3 .mid ...)")
    om.add_argument("--paintings", help="folder of painting images (3 or more)")
    om.add_argument("--work", required=True, help="folder for the corpus, crops and dataset")
    om.add_argument("--licence", default="mine; for training only",
                    help="the music's licence, recorded with every window")
    om.add_argument("--model", choices=("notes", "paper"), default="notes",
                    help="notes: fine-tune a notes model (default); paper: the mel dataset "
                    "for the paper's stage 1 (GPU)")
    om.add_argument("--instrument", choices=sorted(CANDIDATES),
                    help="play every window on this instrument (default: each recording's "
                    "measured timbre)")
    om.add_argument("--steps", type=int, default=150,
                    help="note-model fine-tuning steps (150: about 3 min on 2 cores)")
    om.add_argument("--base", help="the notes bundle to fine-tune (a path or a model name; "
                    "default: the starter)")
    om.add_argument("--no-verdict", action="store_true",
                    help="skip playing the model on the paintings afterwards")
    common(om)
    om.set_defaults(func=cmd_own_music)



def cmd_starter(args: argparse.Namespace) -> int:
    if args.kind == "notes":
        return _notes_starter(args)
    from .starter import StarterConfig, build_starter, starter_report

    printer = ProgressPrinter(args.json_progress)
    try:
        result = build_starter(Path(args.output), Path(args.work),
                               StarterConfig(seed=args.seed, **(
                                   {"epochs": args.epochs} if args.epochs else {})),
                               progress=printer)
    finally:
        printer.close()
    _report(starter_report(result), args.report)
    return 0


def _report(text: str, path: str | None) -> None:
    """Print a starter's report and, with ``--report``, write it there (atomically)."""
    if path:
        from a2m_core.fileio import atomic_path

        with atomic_path(Path(path)) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
    print(text)


def _notes_starter(args: argparse.Namespace) -> int:
    import json

    from .notes_starter import (
        NotesStarterConfig,
        build_notes_starter,
        starter_report,
        starter_train_config,
    )

    train = starter_train_config(seed=args.seed, **({"note_epochs": args.epochs}
                                                    if args.epochs else {}))
    printer = ProgressPrinter(args.json_progress)
    try:
        result = build_notes_starter(Path(args.output), Path(args.work),
                                     NotesStarterConfig(seed=args.seed, train=train),
                                     progress=printer)
    finally:
        printer.close()
    _report(starter_report(result), args.report)
    print(json.dumps({k: v for k, v in result.items() if k != "table4"}, indent=1))
    return 0


def cmd_notes_corpus(args: argparse.Namespace) -> int:
    from .data.note_corpus import NoteCorpusConfig, build_note_corpus

    printer = ProgressPrinter(args.json_progress)
    try:
        counts = build_note_corpus(NoteCorpusConfig(out=Path(args.out),
                                                    sources=tuple(args.sources),
                                                    seed=args.seed, workers=args.workers),
                                   progress=printer)
    finally:
        printer.close()
    print(f"note corpus {args.out}: {counts['windows']} windows of {counts['pieces']} pieces "
          f"{counts['by_source']}, split {counts['by_split']}; windows.jsonl, licences.csv, "
          f"NOTICE.md")
    return 0


def cmd_own_music(args: argparse.Namespace) -> int:
    from .own_music import EXAMPLE_MUSIC, EXAMPLES, OwnMusicConfig, build_own_dataset
    from .starter import starter_encoder

    music = Path(args.music) if args.music else EXAMPLE_MUSIC
    paintings = Path(args.paintings) if args.paintings else EXAMPLES
    if args.model == "notes":
        return _own_notes(args, music, paintings)
    cfg = OwnMusicConfig(music, paintings, Path(args.work), licence=args.licence,
                         seed=args.seed)
    printer = ProgressPrinter(args.json_progress)
    try:
        dataset = build_own_dataset(cfg, starter_encoder(), progress=printer)
    finally:
        printer.close()
    work = Path(args.work)
    from .data.recordings import recording_notes

    for file, note in sorted(recording_notes(work / "corpus").items()):
        print(f"  {file}: {note}")
    print(f"dataset {dataset} (see its report.md). Next (a GPU; on a CPU it learns a "
          f"drone):\n"
          f"  a2m-train stage1 --dataset {dataset} --out {work / 'stage1'} --preset paper\n"
          f"  a2m-train export --stage1 {work / 'stage1' / 'best.pt'} -o "
          f"{work / (work.name + '.safetensors')}")
    return 0


def _own_notes(args: argparse.Namespace, music: Path, paintings: Path) -> int:
    from .data.own_notes import read_rows
    from .own_music import OwnNotesModelConfig, build_own_notes_model

    work = Path(args.work)
    cfg = OwnNotesModelConfig(music, paintings, work, licence=args.licence,
                              instrument=args.instrument, note_steps=args.steps,
                              base=args.base, seed=args.seed, verdict=not args.no_verdict)
    printer = ProgressPrinter(args.json_progress)

    def event(e: dict) -> None:
        if args.json_progress:
            print(json.dumps(e), flush=True)
        elif e["stage"] in ("plan", "notes"):
            printer(f"fine-tune {e['stage']}", e["done"], e["total"])
        if e.get("eta_s") is not None and e["stage"] == "notes" and not args.json_progress \
                and e["done"] % 30 == 0:
            log.info("fine-tune: step %d of %d, loss %.3f, about %.0f s left", e["done"],
                     e["total"], e.get("loss") or 0.0, e["eta_s"])

    try:
        result = build_own_notes_model(cfg, progress=printer, callback=event)
    finally:
        printer.close()
    corpus = work / "notes-corpus"
    for row in read_rows(corpus, "recordings.csv"):
        print(f"  {row['file']}: {row['windows']} windows, {float(row['notes_per_s']):.1f} "
              f"notes/s, {row['key']}, {float(row['tempo']):.0f} bpm, sounds like "
              f"{row['instrument']}")
    for row in read_rows(corpus, "skipped.csv"):
        print(f"  {row['file']}: left out: {row['note']}")
    kept = (f", keeping epoch {result['kept_epoch']} (lowest validation loss)"
            if result.get("kept_epoch") else "")
    print(f"model {result['bundle']} (fine-tuned in {result['seconds']:.0f} s{kept}; the "
          f"corpus report: {corpus / 'report.md'})")
    if "verdict" in result:
        print(f"verdict: {result['verdict']['sentence']}")
    print(f"Play it: a2m generate --bundle {result['bundle']} --image PAINTING --comment "
          f"\"...\"")
    return 0


