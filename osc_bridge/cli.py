"""``a2m-osc serve`` (the bridge) and ``a2m-osc send`` (a client for quick manual checks)."""
from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from . import protocol as p

if TYPE_CHECKING:
    from .early import EarlyStage

log = logging.getLogger("a2m-osc")


def _setup_logging(verbose: bool, log_file: str | None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.handlers.RotatingFileHandler(log_file, maxBytes=2_000_000,
                                                             backupCount=3))
    # open_clip logs chatty INFO lines on the root logger: keep root at WARNING and open
    # our own loggers up.
    logging.basicConfig(level=logging.WARNING, handlers=handlers,
                        format="%(asctime)s a2m-osc %(levelname)s %(message)s")
    for name in ("a2m-osc", "osc_bridge", "a2m_core"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.INFO)


def list_devices() -> int:
    from a2m_app.live import probe_output

    ok, why, devices = probe_output()
    if not ok:
        print(f"a2m-osc: {why} (the bridge still writes WAV files)", file=sys.stderr)
        return 1
    for index, name in devices:
        print(f"{index:3d}  {name}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    if args.list_devices:
        return list_devices()
    sock = args.early_socket  # bound by osc_bridge.launch before the heavy imports
    if sock is not None and sock.getsockname()[:2] != _wanted(args.host, args.port, sock):
        if args.early is not None:
            args.early.handover()
            args.early = None
        sock.close()
        sock = None
    if sock is None:
        try:
            sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET,
                                 socket.SOCK_DGRAM)
            sock.bind((args.host, args.port))
        except OSError as err:
            sock.close()
            print(f"a2m-osc: error: cannot listen on {args.host}:{args.port}: {err}",
                  file=sys.stderr)
            return 1
    try:
        return _serve(args, sock)
    finally:
        sock.close()


def _wanted(host: str, port: int, sock: socket.socket) -> tuple:
    """The address an early socket must have to be the one asked for (port 0: any)."""
    return (sock.getsockname()[0] if host in ("localhost", "") else host,
            sock.getsockname()[1] if port == 0 else port)


def _serve(args: argparse.Namespace, sock: socket.socket) -> int:
    from a2m_core import A2MError, Art2Music

    from .replies import is_loopback
    from .server import Bridge, BridgeConfig

    _setup_logging(args.verbose, args.log_file)
    if not is_loopback(args.host):
        log.warning("listening on %s: any machine that can reach it may ask for clips "
                    "(images are still limited to the --allow folders)", args.host)
    # What can be checked at once is (a model that is not installed, a missing file); the
    # load itself runs behind a socket that already answers (never deaf while loading).
    from a2m_core.defaults import resolve

    try:
        source = args.model or args.bundle
        path = resolve(source)
        if not Path(path).is_file():
            raise A2MError(f"bundle not found: {path}")
    except A2MError as err:
        print(f"a2m-osc: error: {err}", file=sys.stderr)
        return 1

    def load() -> Art2Music:
        engine = Art2Music.load(path, device=args.device)
        if engine.config.untrained:
            log.warning("bundle %s is untrained (random weights): clips will not be music",
                        engine.name)
        return engine

    config = BridgeConfig(host=args.host, port=args.port, reply_port=args.reply_port,
                          allow=tuple(Path(a) for a in args.allow), out_dir=Path(args.out),
                          queue_depth=args.queue_depth,
                          finish_current_on_shutdown=args.finish_current,
                          reply_hosts=tuple(args.reply_hosts),
                          reply_to_source_port=args.reply_to_source_port,
                          keep_clips=args.keep_clips, keep_bytes=args.keep_bytes,
                          audio_device=args.audio_device, heartbeat_s=args.heartbeat,
                          progress_per_chunk=args.progress_per_chunk, midi=args.midi)
    early = args.early
    # a signal caught by the early stage after the handover lands in the same event
    stop = early.stopping if early is not None else threading.Event()
    bridge = Bridge(load, config, model_label=Path(path).stem, sock=sock)
    held = early.handover() if early is not None else []
    bridge.start()
    bridge.feed(held)  # what arrived while starting, served in its order

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if stop.is_set():
        log.info("received a stop signal while starting")
    print(f"a2m-osc: listening on udp://{bridge.address[0]}:{bridge.address[1]}, loading "
          f"{Path(path).name} (requests are queued meanwhile)", flush=True)
    said = False
    while not stop.wait(0.1):
        if said:
            continue
        if bridge.ready.is_set():
            print(f"a2m-osc: serving {bridge.engine.name} on udp://{bridge.address[0]}:"
                  f"{bridge.address[1]} (Ctrl+C to stop)", flush=True)
            said = True
        elif bridge.state == "error":  # keeps answering: hosts see the reason in status
            print(f"a2m-osc: error: the model failed to load: {bridge.load_error}",
                  file=sys.stderr, flush=True)
            said = True
    bridge.stop()
    if bridge.loading:
        log.info("stopped while the model was loading")
    # Every reply is sent and every file written (atomically). Finalising the interpreter
    # now would only collect torch's objects for seconds (3-4 s measured), or abort the
    # process if the model is still loading in native code: flush and leave.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _build(address: str, args: list) -> bytes:
    builder = OscMessageBuilder(address=address)
    for a in args:
        builder.add_arg(a)
    return builder.build().dgram


def cmd_send(args: argparse.Namespace) -> int:
    """Send one message and print replies until the final one (or the timeout)."""
    rid: str | None = None
    if args.what in ("generate", "stream-next"):
        if len(args.values) < 3:
            print(f"a2m-osc: error: send {args.what} REQUEST_ID IMAGE COMMENT [SEED] [HINTS]",
                  file=sys.stderr)
            return 1
        rid, image, comment, *rest = args.values
        values: list = [rid, str(Path(image).expanduser().resolve()), comment]
        if rest:
            values.append(int(rest[0]) if rest[0].isdigit() else rest[0])
        values += rest[1:2]
        address = p.GENERATE if args.what == "generate" else p.STREAM_NEXT
        final = (p.DONE, p.ERROR)
    elif args.what == "status":
        address, values, final = p.STATUS, [], (p.STATUS, p.ERROR)
    elif args.what in ("stream-start", "stream-stop", "stream-status"):
        address = {"stream-start": p.STREAM_START, "stream-stop": p.STREAM_STOP,
                   "stream-status": p.STREAM_STATUS}[args.what]
        values, final = list(args.values[:1]) if args.what == "stream-start" else [], \
            (p.STREAM_STATUS, p.ERROR)
    else:  # cancel
        address, values, final = p.CANCEL, [args.values[0]] if args.values else [], ()
        rid = values[0] if values else None
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(("0.0.0.0" if args.host not in ("127.0.0.1", "localhost") else "127.0.0.1",
                   args.reply_port))
    except OSError as err:
        print(f"a2m-osc: error: cannot listen for replies on port {args.reply_port}: {err}",
              file=sys.stderr)
        return 1
    sock.sendto(_build(address, values), (args.host, args.port))
    if not final:
        print(f"sent {address} {values}")
        return 0
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data, _ = sock.recvfrom(65536)
        except TimeoutError:
            break
        msg = OscMessage(data)
        print(msg.address, *msg.params)
        if msg.address in final and (rid is None or not msg.params or msg.params[0] == rid):
            return 0 if msg.address != p.ERROR else 2
    print(f"a2m-osc: no final reply within {args.timeout:.0f} s (is the bridge running on "
          f"{args.host}:{args.port}?)", file=sys.stderr)
    return 3


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _size(text: str) -> int:
    """``500M``, ``2G``, ``800K`` or a byte count -> bytes."""
    units = {"K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    t = text.strip().upper().removesuffix("B")
    try:
        value = float(t[:-1]) * units[t[-1]] if t and t[-1] in units else float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 500M, 2G)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    from a2m_core import __version__

    ap = argparse.ArgumentParser(prog="a2m-osc", description="Art2Music OSC bridge")
    ap.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="log details (DEBUG); a failed request's traceback is logged either "
                    "way")
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the bridge")
    s.add_argument("--host", default="127.0.0.1", help="interface to listen on (default "
                   "127.0.0.1; 0.0.0.0 exposes it on the network)")
    s.add_argument("--port", type=int, default=9000, help="UDP port for requests (9000)")
    s.add_argument("--reply-port", type=int, default=9001, help="UDP port replies go to on "
                   "the sender's host (9001), unless it sent /a2m/reply_to")
    s.add_argument("--allow", action="append", default=[], metavar="DIR",
                   help="folder images may come from (repeatable; default: current folder)")
    s.add_argument("--out", default="a2m-clips", help="folder for clips (a2m-clips)")
    model = s.add_mutually_exclusive_group()
    model.add_argument("--model", metavar="NAME", help="an installed model by name: starter, "
                       "paper, ... (see `a2m models list`; default: the default model)")
    model.add_argument("--bundle", help="a model bundle file")
    s.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    s.add_argument("--queue-depth", type=int, default=8, help="waiting requests (8)")
    s.add_argument("--reply-hosts", nargs="+", default=[], metavar="HOST",
                   help="hosts /a2m/reply_to may name besides the sender's own (default: "
                   "none; see the security section of osc_bridge/README.md)")
    s.add_argument("--reply-to-source-port", action="store_true",
                   help="reply to the port each request came from instead of --reply-port")
    s.add_argument("--audio-device", metavar="DEVICE", help="the live soundscape's output "
                   "device, by index or name (see --list-devices; default: the system's)")
    s.add_argument("--list-devices", action="store_true", help="list audio output devices "
                   "and exit")
    s.add_argument("--heartbeat", type=float, metavar="S", help="send /a2m/heartbeat every S "
                   "seconds to every host that has talked to the bridge")
    s.add_argument("--midi", action="store_true",
                   help="notes bundles: write each clip's notes as a MIDI file beside its WAV "
                   "(named in /a2m/plan)")
    s.add_argument("--progress-per-chunk", action="store_true",
                   help="send /a2m/progress for every vocoder chunk (about 15 a clip) "
                   "instead of once per stage")
    s.add_argument("--keep-clips", type=_positive_int, metavar="N",
                   help="keep at most N clips in --out (oldest removed first)")
    s.add_argument("--keep-bytes", type=_size, metavar="SIZE",
                   help="keep at most SIZE of clips in --out, e.g. 500M or 2G")
    s.add_argument("--finish-current", action="store_true",
                   help="on shutdown, finish the running request instead of cancelling it")
    s.add_argument("--log-file", help="also log to this file (rotated at 2 MB)")
    s.set_defaults(func=cmd_serve)

    c = sub.add_parser("send", help="send one message and print the replies")
    c.add_argument("what", choices=["generate", "status", "cancel", "stream-start",
                                    "stream-next", "stream-stop", "stream-status"])
    c.add_argument("values", nargs="*", help="generate, stream-next: REQUEST_ID IMAGE COMMENT "
                   "[SEED] [HINTS]; cancel: REQUEST_ID; stream-start: [DEVICE]")
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, default=9000)
    c.add_argument("--reply-port", type=int, default=9001)
    c.add_argument("--timeout", type=float, default=300.0, help="seconds to wait (300)")
    c.set_defaults(func=cmd_send)
    from a2m_core.commandline import verbose_anywhere

    verbose_anywhere(ap)
    return ap


def main(argv: list[str] | None = None, sock: socket.socket | None = None,
         early: EarlyStage | None = None) -> int:
    """``sock``: the request socket ``osc_bridge.launch`` bound early (used by ``serve``);
    ``early``: the stage answering on it until the bridge takes over."""
    args = build_parser().parse_args(argv)
    args.early_socket, args.early = sock, early
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
