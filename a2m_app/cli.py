"""``a2m``: generate a clip, describe a bundle, import the authors' checkpoints.

Every failure a user can cause prints one line (``a2m: error: ...``) and exits non-zero;
a traceback only appears with ``--verbose``.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from a2m_core.errors import A2MError

if TYPE_CHECKING:
    pass

log = logging.getLogger("a2m")

EXIT_USER_ERROR = 1
EXIT_BUG = 3
EXIT_INTERRUPTED = 130


def _unique_path(path: Path) -> Path:
    """``name.wav`` or, if taken, ``name-2.wav``, ``name-3.wav``...: never overwrite."""
    candidate, n = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate


def _check_destination(path: Path, flag: str) -> None:
    """Refuse, before any work, an output that can't be written as asked: a folder, a
    missing folder, a read-only file (never replaced), or a FIFO or device."""
    from a2m_core.errors import BadInputError

    if path.is_dir():
        raise BadInputError(f"{flag} {path}: that is a folder; name a file in it")
    if not path.parent.is_dir():
        raise BadInputError(f"{flag} {path}: the folder {path.parent} does not exist")
    if path.exists() or path.is_symlink():
        if not path.is_file():
            raise BadInputError(f"{flag} {path}: not a regular file (a FIFO, device or "
                                f"broken link); name a new file")
        if not path.stat().st_mode & 0o222 or not os.access(path, os.W_OK):
            raise BadInputError(f"{flag} {path}: the file is read-only and is left as it "
                                f"is; name another file")
    if not os.access(path.parent, os.W_OK):
        raise BadInputError(f"{flag} {path}: the folder {path.parent} is not writable")


def request_of(args: argparse.Namespace):  # -> GenerationRequest
    """The ``generate`` flags as a request (the same names as ``/a2m/generate/json``)."""
    from a2m_core.request import GenerationRequest

    fmt = Path(args.output).suffix.lstrip(".") if args.output else args.format
    return GenerationRequest(Path(args.image), args.comment, args.hints, args.seed,
                             args.emotion, _pins(args), args.variation, args.loop,
                             args.loop_crossfade, fmt or None, args.bits)


def cmd_generate(args: argparse.Namespace) -> int:
    # Every check a user can fail runs before the model loads; the text and format ones
    # even before torch is imported, which the SoundFont's read overlaps (warmup).
    from a2m_core import warmup
    from a2m_core.errors import BadInputError
    from a2m_core.produce import Outputs
    from a2m_core.prompt import check_user_text

    warmup.start(args.bundle)
    try:
        check_user_text(args.comment, args.emotion)
    except ValueError as err:
        raise BadInputError(str(err)) from err
    image = Path(args.image)
    if args.output and args.format and Path(args.output).suffix.lstrip(".").lower() != \
            args.format.lower():
        raise BadInputError(f"-o {args.output} and --format {args.format} disagree: name "
                            f"one kind")
    if (args.notes_to or args.midi_port) and not args.play:
        raise BadInputError("--notes-to and --midi-port send the notes as they play: add "
                            "--play")
    if args.notes_to:
        from .notes_out import parse_target

        try:
            parse_target(args.notes_to)
        except ValueError as err:
            raise BadInputError(f"--notes-to {err}") from None
    if args.output:
        out = Path(args.output)
    else:
        suffix = f"-seed{args.seed}" if args.seed is not None else ""
        out = _unique_path(Path(f"{image.stem}{suffix}.{args.format or 'wav'}"))
    outputs = Outputs(out, args.midi, args.plan, args.bits)
    for flag, dest in (("-o", args.output), ("--midi", args.midi), ("--plan", args.plan)):
        if dest:
            _check_destination(Path(dest), flag)
    request = request_of(args)
    _check_image(image)  # before torch loads: a wrong path is refused in a blink
    from a2m_core.engine import Art2Music
    from a2m_core.images import load_image
    from a2m_core.produce import produce

    load_image(image)
    t0 = time.perf_counter()
    engine = Art2Music.load(args.bundle, device=args.device, vocoder=args.vocoder)
    if request.pins is not None and request.pins.any() and not engine.is_notes:
        raise BadInputError(f"pinned controls need a notes bundle; '{engine.name}' is a mel "
                            f"bundle (it has no notes)")
    if engine.config.untrained:
        print(f"a2m: note: bundle '{engine.name}' is untrained (random weights): the clip "
              f"will not sound like music", file=sys.stderr)
    load_s = time.perf_counter() - t0

    # the device check first: its note must not land on the progress bar's line
    player = _player_or_note() if args.play else None
    if player is not None and (args.notes_to or args.midi_port):
        from .notes_out import AudioClock, NoteTicker, sinks_for

        try:
            player.ticker = NoteTicker(AudioClock(), sinks_for(args.notes_to or "",
                                                               args.midi_port))
        except (ValueError, OSError) as err:
            raise BadInputError(f"notes out: {err}") from err
    from tqdm import tqdm

    bar = tqdm(total=100, desc="generating", unit="%", file=sys.stderr,
               disable=args.quiet, bar_format="{desc:<10}{percentage:3.0f}%|{bar}| {elapsed}")

    def progress(stage: str, fraction: float) -> None:
        bar.set_description(stage, refresh=False)  # drawn once, with its own percentage
        bar.update(round(fraction * 100) - bar.n)

    from a2m_core.clip import channels_of

    def play(chunk) -> None:  # the first streamed chunk starts the sound
        if chunk.start == 0:
            player.play_stream(chunk.total, engine.sample_rate, channels_of(chunk.audio))
        player.feed(chunk.start, chunk.audio)

    if args.no_loudness:
        engine.set_generation_params(loudness_lufs=None)
    made = produce(engine, request, outputs, progress=progress,
                   on_chunk=play if player is not None else None)
    clip = made.clip
    if player is not None and player.ticker is not None:
        from .notes_out import timed_notes

        player.follow_notes(timed_notes(clip), clip.duration_s)
    bar.close()
    for note in [engine.truncation_note(clip.prompt), *clip.remarks]:
        if note:
            print(f"a2m: note: {note}", file=sys.stderr)
    timing = ", ".join(f"{k} {v:.2f}s" for k, v in clip.timings.items())
    if clip.plan is not None:
        print(f"plan: {clip.plan.describe()}")
        print(f"why:  {clip.why}")
    print(f"wrote {made.files['audio']} ({clip.duration_s:.2f} s at {clip.sample_rate} Hz)")
    if "midi" in made.files:
        print(f"wrote {made.files['midi']} ({len(clip.notes or [])} notes)")
    if "plan" in made.files:
        print(f"wrote {made.files['plan']} (the plan)")
    if not args.quiet:
        print(f"prompt: {clip.prompt}\nload {load_s:.2f}s, {timing} on {engine.device} "
              f"(vocoder: {engine.vocoder_name})", file=sys.stderr)
    if player is not None:
        try:
            player.wait(timeout=clip.duration_s + 10.0)
        except KeyboardInterrupt:
            pass  # Ctrl-C stops the sound; the clip is already saved
        finally:
            player.stop()
            if player.ticker is not None:
                player.ticker.close()
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from a2m_core.errors import BadInputError

    from .batch import read_rows, run_collection

    if args.workers < 1:
        raise BadInputError("--workers must be at least 1")
    rows = read_rows(Path(args.collection))  # a bad file is refused before any model loads
    bar = tqdm(total=len(rows), desc="rows", unit="row", file=sys.stderr,
               disable=args.quiet, smoothing=0.1)
    errors: list[str] = []

    def progress(done: int, total: int, record: dict) -> None:
        if bar.n == 0 and bar.total != total:
            bar.reset(total=total)
        bar.update(1)
        if record["error"]:
            errors.append(f"row {record['row']} ({record['name']}): {record['error']}")
            bar.write(f"a2m: row {record['row']} ({record['name']}): {record['error']}")

    try:
        counts = run_collection(Path(args.collection), Path(args.out), args.bundle,
                                workers=args.workers, cluster=args.cluster,
                                progress=progress)
    finally:
        bar.close()
    print(f"{counts['rows']} rows: {counts['made']} made, {counts['skipped']} already done, "
          f"{counts['errors']} with an error; manifest {Path(args.out) / 'manifest.jsonl'}")
    return 0


def _check_image(path: Path) -> None:
    """Refuse a missing or unreadable painting with PIL alone (no torch import)."""
    from PIL import Image

    from a2m_core.errors import BadInputError

    if path.is_dir():
        raise BadInputError(f"--image {path} is a folder: name one painting in it")
    if not path.is_file():
        raise BadInputError(f"image not found: {path}")
    try:
        with Image.open(path) as img:
            img.verify()
    except Exception as err:  # noqa: BLE001 - PIL raises many types for corrupt files
        raise BadInputError(f"cannot read {path}: not a readable image ({err})") from err


def _player_or_note():
    """A player on the default output device, or None with a one-line note (no device, no
    PortAudio): the clip is still generated and saved."""
    from .live import probe_output

    ok, why, _ = probe_output()
    if not ok:
        print(f"a2m: note: {why}; the clip is saved without playing", file=sys.stderr)
        return None
    from .playback import Player

    return Player()


def cmd_soundscape(args: argparse.Namespace) -> int:
    from a2m_core.clip import check_audio_path, write_audio
    from a2m_core.errors import BadInputError
    from a2m_core.prompt import check_user_text
    from a2m_core.soundscape import join_scenes, read_playlist

    # Every scene is checked before the model loads: a typo in row 9 costs nothing.
    check_audio_path(Path(args.output))
    scenes = read_playlist(args.playlist, args.seconds)
    from a2m_core.engine import Art2Music
    from a2m_core.images import load_image

    for i, scene in enumerate(scenes, start=1):
        try:
            check_user_text(scene.comment)
            load_image(scene.image)
        except (ValueError, A2MError) as err:
            raise BadInputError(f"{Path(args.playlist).name} scene {i}: {err}") from err
    engine = Art2Music.load(args.bundle, device=args.device)
    from tqdm import tqdm

    clips = []
    for scene in tqdm(scenes, desc="scenes", unit="scene", file=sys.stderr,
                      disable=args.quiet):
        clips.append(engine.generate(scene.image, scene.comment, hints=scene.hints,
                                     seed=scene.seed).audio)
    audio = join_scenes(clips, [s.seconds for s in scenes], engine.sample_rate,
                        args.crossfade)
    saved = write_audio(args.output, audio, engine.sample_rate)
    print(f"wrote {saved} ({len(audio) / engine.sample_rate:.1f} s, {len(scenes)} scenes)")
    return 0


def _pins(args: argparse.Namespace):  # -> Pins
    from a2m_core.notes.plan import Pins

    return Pins(tempo_bpm=args.tempo, key=args.key, mode=args.mode, notes_per_s=args.density,
                register=args.register, articulation=args.articulation,
                dynamic=args.dynamics, instrument=args.instrument, texture=args.texture)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="a2m", description="Art2Music: painting + comment "
                                     "-> a feeling-aligned music clip")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details and show "
                        "tracebacks")
    from a2m_core import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="generate a clip from a painting and a comment")
    g.add_argument("--image", required=True, help="painting (jpg/png/webp/tiff)")
    g.add_argument("--comment", default="", help="what the painting makes you feel "
                   "(optional: without one the painting alone sets the feeling)")
    g.add_argument("--bundle", help="bundle file or installed model name (default: "
                   "$A2M_BUNDLE, the model set with `a2m models default`, or the starter)")
    g.add_argument("--hints", help="music hints: AudioSet labels and keywords, e.g. "
                   "'Jazz; mellow piano'")
    g.add_argument("--emotion", help="an ArtEmis emotion label: amusement, anger, awe, "
                   "contentment, disgust, excitement, fear, sadness, 'something else'")
    g.add_argument("--seed", type=int, help="variation seed (omit for the deterministic clip)")
    g.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default auto)")
    g.add_argument("--vocoder", choices=["bundle", "griffin-lim"], default="bundle",
                   help="bundle: the bundle's own (HiFi-GAN for the starter); griffin-lim: "
                   "the fast fallback, phasey")
    g.add_argument("-o", "--output", help="WAV, FLAC, OGG or MP3 path, by suffix (default: "
                   "<painting>.wav here, never overwriting)")
    g.add_argument("--format", choices=["wav", "flac", "ogg", "mp3"], help="the file's kind "
                   "when -o is not given (default wav)")
    g.add_argument("--bits", type=int, choices=[16, 24], default=16, help="WAV and FLAC: "
                   "16- or 24-bit PCM (default 16)")
    g.add_argument("--no-loudness", action="store_true", help="skip loudness normalisation")
    g.add_argument("--loop", action="store_true", help="write a clip that repeats seamlessly "
                   "(its tail crossfaded into its head; it is --loop-crossfade shorter)")
    g.add_argument("--loop-crossfade", type=float, default=0.5, metavar="S",
                   help="seconds of the loop's crossfade (0.5)")
    g.add_argument("--play", action="store_true", help="play on the default sound device "
                   "while generating (starts on the first streamed chunk)")
    g.add_argument("--notes-to", metavar="HOST:PORT", help="with --play: send each note as "
                   "it sounds as OSC /a2m/note (pitch, velocity, duration, part), e.g. to "
                   "TouchDesigner or Max")
    g.add_argument("--midi-port", nargs="?", const="Art2Music", metavar="NAME",
                   help="with --play: also play the notes out of a virtual MIDI port "
                   "(default name Art2Music; needs python-rtmidi and a MIDI system)")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    g.add_argument("--midi", metavar="FILE.mid", help="notes bundles: also write the notes as "
                   "a MIDI file (for a DAW, Max or TouchDesigner)")
    g.add_argument("--plan", metavar="FILE.json", help="notes bundles: also write the plan "
                   "(tempo, key, instrument, ..., the why-line and the painting's look)")
    g.add_argument("--variation", type=float, metavar="0-2", help="how far the draw strays "
                   "from what the painting and comment ask: 0 plays exactly that, 1 the "
                   "bundle's usual spread (default: the bundle's own)")
    pin = g.add_argument_group(
        "pin controls (notes bundles; the rest follow the painting and the comment)")
    pin.add_argument("--tempo", type=float, metavar="BPM", help="tempo, 40-200 bpm")
    pin.add_argument("--key", help="key or tonic, e.g. 'A minor', Eb")
    pin.add_argument("--mode", choices=["major", "minor"])
    pin.add_argument("--density", type=float, metavar="NOTES_PER_S",
                     help="onsets per second (chords count once)")
    pin.add_argument("--register", choices=["low", "middle", "high"])
    pin.add_argument("--articulation", choices=["legato", "detached", "staccato"])
    pin.add_argument("--dynamics", choices=["pp", "p", "mp", "mf", "f", "ff"])
    pin.add_argument("--instrument", help="piano, strings, organ, choir, brass, flute, "
                     "violin, clarinet, guitar, harp, harpsichord, marimba, vibraphone, "
                     "accordion")
    pin.add_argument("--texture", choices=["melody", "chords"])
    g.set_defaults(func=cmd_generate)

    sc = sub.add_parser("soundscape", help="one long piece from a playlist of scenes, each "
                        "looped to its length and crossfaded into the next")
    sc.add_argument("--playlist", required=True, help="CSV with columns image,comment and "
                    "optional hints,seed,seconds (paths relative to the CSV)")
    sc.add_argument("-o", "--output", required=True, help="WAV or FLAC to write")
    sc.add_argument("--bundle", help="bundle file or installed model name")
    sc.add_argument("--seconds", type=float, default=20.0, help="a scene's length when the "
                    "CSV gives none (20)")
    sc.add_argument("--crossfade", type=float, default=2.0, help="seconds between scenes (2)")
    sc.add_argument("--device", default="auto")
    sc.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sc.set_defaults(func=cmd_soundscape)

    from .cli_models import add_models_parser

    add_models_parser(sub)

    b = sub.add_parser("batch", help="a whole collection: one clip, MIDI and plan per row of "
                       "a CSV or JSON Lines file, resumable (see README, A whole collection)")
    b.add_argument("collection", help="CSV (header row) or .jsonl; columns: image, comment, "
                   "hints, emotion, seed, seconds, tempo, key, mode, instrument, dynamics, "
                   "density, register, articulation, texture, style, name")
    b.add_argument("-o", "--out", required=True, help="folder for the clips and "
                   "manifest.jsonl (run the same command again to resume)")
    b.add_argument("--bundle", help="bundle file or installed model name (default: the "
                   "default model)")
    b.add_argument("--workers", type=int, default=1, help="rows made side by side on this "
                   "machine, each in its own process (default 1)")
    b.add_argument("--cluster", metavar="dask://HOST:PORT", help="send the rows to a Dask "
                   "scheduler's workers instead (pip install 'art2music[cluster]')")
    b.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=cmd_batch)

    from .cli_bundles import add_bundle_parsers

    add_bundle_parsers(sub)
    from a2m_core.commandline import verbose_anywhere

    verbose_anywhere(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="a2m: %(levelname)s: %(message)s")
    try:
        return args.func(args)
    except A2MError as err:
        if args.verbose:
            log.exception("failed")
        print(f"a2m: error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("a2m: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `a2m info | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as err:  # noqa: BLE001 - a bug, but still one line unless --verbose
        if args.verbose:
            raise
        print(f"a2m: unexpected error: {type(err).__name__}: {err} (run with --verbose for "
              f"details)", file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
