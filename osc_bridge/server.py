"""Transport and the address map: a UDP OSC server, its handlers and a bounded queue.

Threads:
- the server thread runs python-osc's blocking UDP server; its handlers only parse,
  validate and enqueue (or answer status/cancel at once), so the socket never waits on a
  generation;
- the worker thread takes one job at a time and calls the shared engine with a progress
  callback (-> ``/a2m/progress``) and a cancel event (checked at stage boundaries).

Every accepted request id gets exactly one final reply: ``/a2m/done`` or ``/a2m/error``.

Beside it: ``jobs.py`` (the worker: generate, write, prune, the final reply),
``replies.py`` (the rate limit, whether an address is this machine's) and ``live_output.py``
(the ``/a2m/stream/...`` handlers); the first and the last are mixed into :class:`Bridge`.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pythonosc import osc_packet
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_server import BlockingOSCUDPServer

from a2m_core import Art2Music
from a2m_core.fileio import remove_stale_temps

from . import protocol as p
from .confine import read_confined
from .jobs import Job, JobWorker
from .live_output import StreamHandlers
from .protocol import ErrorCode, ProtocolError
from .replies import RateLimit, is_local, local_hosts

log = logging.getLogger(__name__)

Address = tuple[str, int]


RECEIVE_BUFFER = 8 << 20  # bytes: a flood of 1,000 requests waits here, not on the floor


def grow_receive_buffer(sock: socket.socket, want: int = RECEIVE_BUFFER) -> int:
    """Ask the kernel for a ``want``-byte receive buffer (the default ~212 KB drops datagrams
    in a burst); returns and logs what it granted (Linux caps it at net.core.rmem_max)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, want)
        granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    except OSError as err:
        log.info("could not grow the receive buffer: %s", err)
        return 0
    log.info("receive buffer: %d KB granted of %d KB asked%s", granted >> 10, want >> 10,
             "" if granted >= want else " (raise net.core.rmem_max for more)")
    return granted


@dataclass
class BridgeConfig:
    host: str = "127.0.0.1"  # loopback unless exposing on a network on purpose
    port: int = 9000  # where requests arrive (0: any free port, for tests)
    reply_port: int = 9001  # replies go to the sender's host on this port
    allow: tuple[Path, ...] = ()  # folders images may come from; empty: the current folder
    out_dir: Path = Path("a2m-clips")  # where clips are written (never overwritten)
    queue_depth: int = 8  # waiting requests beyond the running one; more -> queue full
    finish_current_on_shutdown: bool = False  # else the running job is cancelled
    # /a2m/reply_to may name the sender's own host; other hosts only when listed here.
    reply_hosts: tuple[str, ...] = ()
    reply_to_source_port: bool = False  # reply to the port the request came from
    reply_rate: float = 200.0  # non-final replies per second per destination (burst 2x)
    keep_clips: int | None = None  # keep at most this many clips in out_dir (oldest go)
    keep_bytes: int | None = None  # ... or at most this many bytes of clips
    audio_device: str | None = None  # the live soundscape's output device (default: system's)
    heartbeat_s: float | None = None  # send /a2m/heartbeat this often to everyone who talked
    # /a2m/progress for every vocoder chunk (~15 per clip) instead of once per stage; the
    # clip is the same either way (a one-shot clip is its stream collected).
    progress_per_chunk: bool = False
    # notes bundles: write each clip's notes as a MIDI file beside its WAV (/a2m/plan names it)
    midi: bool = False

    def allowed_folders(self) -> tuple[Path, ...]:
        return tuple(Path(a).expanduser().resolve() for a in (self.allow or (Path.cwd(),)))


class _Server(BlockingOSCUDPServer):
    # python-osc silently drops datagrams that don't look like OSC; let them through so the
    # dispatcher can log them and answer with an error.
    def verify_request(self, request: Any, client_address: Any) -> bool:
        return True


class _Dispatcher(Dispatcher):
    def __init__(self, bridge: Bridge) -> None:
        super().__init__()
        self._bridge = bridge

    def call_handlers_for_packet(self, data: bytes, client_address: Address) -> list:
        bridge = self._bridge
        if bridge.is_own_address(client_address):
            log.warning("dropped a packet that claims to come from the bridge itself")
            return []
        try:
            osc_packet.OscPacket(data)
        except Exception as err:  # noqa: BLE001 - ParseError, UnicodeDecodeError, ...
            address, rid = p.salvage_request_id(data)
            if address in p.REPLIES:
                return []  # never answer a reply, however mangled: no ping-pong
            why = ("a string argument is not valid UTF-8" if isinstance(err, UnicodeError)
                   else f"malformed OSC packet: {err}")
            log.warning("malformed packet from %s:%d (%d bytes): %s", *client_address,
                        len(data), why)
            bridge.send_error(bridge.reply_address(client_address), rid, why,
                              ErrorCode.BAD_REQUEST, final=bool(rid))
            return []
        try:
            return super().call_handlers_for_packet(data, client_address)
        except Exception:  # noqa: BLE001 - nothing may reach the server loop
            log.exception("packet from %s:%d could not be dispatched", *client_address)
            return []


class Bridge(StreamHandlers, JobWorker):
    """The OSC front of one shared engine. ``start()`` returns once it is listening.

    ``engine`` may be a loader (a callable returning the engine): the socket then answers
    from the start, ``/a2m/status`` says ``loading``, requests are queued and served once the
    model is ready, and ``/a2m/ready`` goes to every address that has talked to the bridge.
    A load that fails leaves the bridge answering, in state ``error``, with the reason.
    """

    def __init__(self, engine: Art2Music | Callable[[], Art2Music],
                 config: BridgeConfig | None = None, model_label: str = "",
                 stream_factory: Callable[..., Any] | None = None,
                 sock: socket.socket | None = None) -> None:
        """``sock``: a UDP socket already bound (``a2m-osc serve`` binds it before the heavy
        imports); else the bridge binds ``config.host:config.port`` itself."""
        self._stream_factory = stream_factory  # live output (tests pass a fake)
        self.soundscape: Any = None
        if isinstance(engine, Art2Music):
            self.engine: Art2Music | None = engine
            self._loader: Callable[[], Art2Music] | None = None
            self.state = p.READY_STATE
        else:
            self.engine, self._loader, self.state = None, engine, p.LOADING
        self.model_label = model_label or (self.engine.name if self.engine else "model")
        self.load_error = ""
        self.ready = threading.Event()
        if self.engine is not None:
            self.ready.set()
        self._listeners: set[Address] = set()  # who hears /a2m/ready and heartbeats
        self._stop_beat = threading.Event()
        self.config = config or BridgeConfig()
        self.allowed = self.config.allowed_folders()
        self.out_dir = Path(self.config.out_dir).expanduser().resolve()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._reply_to: dict[Address, Address] = {}
        self._queue: deque[Job] = deque()
        self._jobs: dict[str, Job] = {}
        self._current: Job | None = None
        self._cond = threading.Condition()
        self._stopping = False
        self._limit = RateLimit(self.config.reply_rate)
        self.sent: Counter[Address] = Counter()  # datagrams sent per destination (soak, tests)
        self.stale_removed = remove_stale_temps(self.out_dir)
        self._dispatcher = dispatcher = _Dispatcher(self)
        for address, handler in ((p.GENERATE, self._on_generate), (p.LOOP, self._on_generate),
                                 (p.GENERATE_JSON, self._on_generate),
                                 (p.CANCEL, self._on_cancel),
                                 (p.STATUS, self._on_status), (p.REPLY_TO, self._on_reply_to),
                                 (p.STREAM_START, self._on_stream_start),
                                 (p.STREAM_NEXT, self._on_stream_next),
                                 (p.STREAM_STOP, self._on_stream_stop),
                                 (p.STREAM_STATUS, self._on_stream_status)):
            dispatcher.map(address, self._guard(handler), needs_reply_address=True)
        dispatcher.set_default_handler(self._guard(self._on_unknown), needs_reply_address=True)
        if sock is None:
            self.server = _Server((self.config.host, self.config.port), dispatcher)
        else:
            self.server = _Server(sock.getsockname()[:2], dispatcher, bind_and_activate=False)
            self.server.socket.close()
            self.server.socket, self.server.server_address = sock, sock.getsockname()[:2]
        self.receive_buffer = grow_receive_buffer(self.server.socket)
        self._threads: list[threading.Thread] = []
        self._local_hosts = local_hosts()

    # ------------------------------------------------------------------ lifecycle
    @property
    def address(self) -> Address:
        host, port = self.server.server_address[:2]
        return host, port

    def start(self) -> Bridge:
        self._threads = [
            threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                             name="a2m-osc-server", daemon=True),
            threading.Thread(target=self._work, name="a2m-osc-worker", daemon=True),
        ]
        if self._loader is not None:
            self._threads.append(threading.Thread(target=self._load, name="a2m-osc-loader",
                                                  daemon=True))
        if self.config.heartbeat_s:
            self._threads.append(threading.Thread(target=self._beat, name="a2m-osc-heartbeat",
                                                  daemon=True))
        self._started_at = time.monotonic()  # for the heartbeat's uptime
        for t in self._threads:
            t.start()
        log.info("listening on udp://%s:%d; replies to the sender's host on port %d; clips "
                 "in %s; images allowed from %s", *self.address, self.config.reply_port,
                 self.out_dir, ", ".join(map(str, self.allowed)))
        if self.stale_removed:
            log.info("removed %d temp file(s) left by an interrupted write",
                     len(self.stale_removed))
        return self

    def stop(self, finish_current: bool | None = None, timeout: float = 60.0) -> None:
        """Stop listening, cancel queued requests (each gets an error reply), and finish or
        cancel the running one; returns when the worker has ended (or after ``timeout``)."""
        finish = self.config.finish_current_on_shutdown if finish_current is None \
            else finish_current
        with self._cond:
            if self._stopping:
                return
            self._stopping = True
            dropped = list(self._queue)
            self._queue.clear()
            current = self._current
            if current is not None and not finish:
                current.cancel.set()
            self._cond.notify_all()
        if self.soundscape is not None:
            self.soundscape.stop()
            self.soundscape = None
        self._stop_beat.set()
        self.server.shutdown()
        self._drain()
        for job in dropped:
            self._finish(job, error=("server shutting down", ErrorCode.CANCELLED))
        if current is not None:
            log.info("shutting down: %s request %s", "finishing" if finish else "cancelling",
                     current.args.request_id)
        for t in self._threads:
            # A model load can't be interrupted: its (daemon) thread is not waited for.
            if t is not threading.current_thread() and t.name != "a2m-osc-loader":
                t.join(timeout)
        self.server.server_close()
        log.info("stopped (%d queued requests cancelled)", len(dropped))

    @property
    def loading(self) -> bool:
        """True while the model loader still runs (it cannot be interrupted)."""
        return any(t.name == "a2m-osc-loader" and t.is_alive() for t in self._threads)

    def feed(self, datagrams: list[tuple[bytes, Address]]) -> None:
        """Serve datagrams that arrived before the server loop ran (``early.EarlyStage``
        held them), in order, as if they arrived now."""
        for data, client in datagrams:
            self._dispatcher.call_handlers_for_packet(data, client)

    def _drain(self, limit: int = 1000) -> None:
        """Answer what already waits in the socket when the server loop stops: a generate
        sent just before SIGTERM gets its error 5 like any queued one, a status its status."""
        sock, dispatcher = self.server.socket, self._dispatcher
        try:
            sock.setblocking(False)
        except OSError:
            return
        for _ in range(limit):
            try:
                data, client = sock.recvfrom(65536)
            except OSError:  # BlockingIOError: nothing left (or the socket is gone)
                return
            dispatcher.call_handlers_for_packet(data, client[:2])

    def _load(self) -> None:
        assert self._loader is not None
        t = time.perf_counter()
        try:
            engine = self._loader()
        except Exception as err:  # noqa: BLE001 - every failure is reported, none kills us
            log.error("the model failed to load: %s", err)
            with self._cond:
                self.state, self.load_error = p.FAILED, str(err)
                dropped = list(self._queue)
                self._queue.clear()
                self._cond.notify_all()
            for job in dropped:
                self._finish(job, error=(f"the model failed to load: {err}",
                                         ErrorCode.GENERATION_FAILED))
            return
        with self._cond:
            self.engine, self.state = engine, p.READY_STATE
            self.model_label = engine.name
            self._cond.notify_all()
        self.ready.set()
        log.info("model %s ready on %s after %.1f s", engine.name, engine.device,
                 time.perf_counter() - t)
        for addr in self._audience():
            self.send(addr, p.READY, engine.name, str(engine.device), final=True)

    def _audience(self) -> list[Address]:
        """Whoever hears /a2m/ready and heartbeats: senders seen and reply_to targets."""
        return sorted(self._listeners | set(self._reply_to.values()))

    def _remember(self, addr: Address) -> None:
        """Someone to tell about /a2m/ready and heartbeats (bounded: spoofed senders)."""
        if len(self._listeners) > 256:
            self._listeners.clear()
        self._listeners.add(addr)

    def _beat(self) -> None:
        """``/a2m/heartbeat`` to every address that asked for status, queued a request or set
        a reply_to: a host can tell a bridge that hangs from one that is just busy."""
        period = float(self.config.heartbeat_s or 0)
        while not self._stop_beat.wait(period):
            with self._cond:
                depth, state = len(self._queue), self.state
            for addr in self._audience():
                self.send(addr, p.HEARTBEAT, state, depth,
                          round(time.monotonic() - self._started_at, 1))

    # ------------------------------------------------------------------ replies
    def reply_address(self, client: Address) -> Address:
        port = client[1] if self.config.reply_to_source_port else self.config.reply_port
        return self._reply_to.get(client[:2], (client[0], port))

    def is_own_address(self, addr: Address) -> bool:
        """Whether ``addr`` is where this bridge listens (a reply there would loop)."""
        host, port = addr[:2]
        if port != self.address[1]:
            return False
        bound = self.address[0]
        return host == bound or host in self._local_hosts or bound in ("0.0.0.0", "::") \
            and is_local(host, self._local_hosts)

    def send(self, addr: Address, address: str, *args: Any, final: bool = False) -> None:
        """Send one message; non-final ones are rate-limited per destination, and nothing is
        ever sent to the bridge's own listening address."""
        if self.is_own_address(addr):
            log.warning("refused to send %s to the bridge's own address %s:%d", address, *addr)
            return
        if not final and not self._limit.allow(addr):
            return
        builder = OscMessageBuilder(address=address)
        for a in args:
            kind = (builder.ARG_TYPE_STRING if isinstance(a, str) else
                    builder.ARG_TYPE_FLOAT if isinstance(a, float) else builder.ARG_TYPE_INT)
            builder.add_arg(a, kind)
        try:
            self.server.socket.sendto(builder.build().dgram, addr)
            self.sent[addr] += 1
        except OSError as err:  # an unreachable client must not take the server down
            log.warning("cannot send %s to %s:%d: %s", address, *addr, err)

    def send_error(self, addr: Address, request_id: str, message: str, code: ErrorCode,
                   final: bool = True) -> None:
        log.info("error %s (%s) for %r: %s", int(code), code.name, request_id, message)
        self.send(addr, p.ERROR, request_id, message, int(code),
                  final=final and bool(request_id))

    # ------------------------------------------------------------------ handlers
    def _guard(self, handler: Any) -> Any:
        """Turn a handler's ProtocolError into an error reply and any other failure into a
        log line: nothing raised in a handler may reach the server loop."""

        def guarded(client: Address, address: str, *args: Any) -> None:
            if address in p.REPLIES:
                return  # another bridge's reply (or a spoof): answering it could loop
            try:
                handler(client, address, *args)
            except ProtocolError as err:
                self.send_error(self.reply_address(client), err.request_id, str(err), err.code)
            except Exception as err:  # noqa: BLE001
                log.exception("handler for %s failed", address)
                self.send_error(self.reply_address(client), p.request_id_of(args),
                                f"internal error handling {address}: {type(err).__name__}",
                                ErrorCode.BAD_REQUEST)

        return guarded

    def _on_unknown(self, client: Address, address: str, *args: Any) -> None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"unknown address {address} (see "
                            f"osc_bridge/README.md)")

    def _on_reply_to(self, client: Address, address: str, *args: Any) -> None:
        host, port = p.parse_reply_to(args)
        if host != client[0] and host not in self.config.reply_hosts:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{p.REPLY_TO} may only name your own "
                                f"host ({client[0]}); the operator can allow others with "
                                "--reply-hosts")
        if self.is_own_address((host, port)):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{p.REPLY_TO} names the bridge's own "
                                "address: replies would loop")
        if len(self._reply_to) > 1000 and client[:2] not in self._reply_to:
            self._reply_to.clear()  # bounded: spoofed sources must not grow it forever
        self._reply_to[client[:2]] = (host, port)
        log.info("replies for %s:%d now go to %s:%d", *client[:2], host, port)

    def _on_status(self, client: Address, address: str, *args: Any) -> None:
        if args:
            return  # a /a2m/status with values is another bridge's reply: not a question
        with self._cond:
            depth, busy = len(self._queue), int(self._current is not None)
            engine, state = self.engine, self.state
        self._remember(self.reply_address(client))
        device = str(engine.device) if engine is not None else ""
        self.send(self.reply_address(client), p.STATUS, self.model_label, device, depth, busy,
                  state if state != p.FAILED else f"error: {self.load_error}")

    def _on_generate(self, client: Address, address: str, *args: Any) -> None:
        req = p.parse_generate_json(args) if address == p.GENERATE_JSON else \
            p.parse_generate(args)
        if self.state == p.FAILED:
            raise ProtocolError(ErrorCode.GENERATION_FAILED, f"the model failed to load: "
                                f"{self.load_error}", req.request_id)
        try:
            data = read_confined(req.image_path, self.allowed, req.request_id)
        except ProtocolError:
            raise
        except Exception as err:  # noqa: BLE001 - whatever it was, answer with the id
            raise ProtocolError(ErrorCode.FILE_REFUSED, f"image {req.image_path.name[:60]} "
                                f"cannot be read: {type(err).__name__}",
                                req.request_id) from err
        image = req.image_path
        job = Job(req, self.reply_address(client), image=data, loop=address == p.LOOP)
        with self._cond:
            if self._stopping:
                raise ProtocolError(ErrorCode.CANCELLED, "server shutting down", req.request_id)
            if req.request_id in self._jobs:
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"request id {req.request_id!r} is "
                                    f"already queued or running", req.request_id)
            if len(self._queue) >= self.config.queue_depth:
                raise ProtocolError(ErrorCode.QUEUE_FULL, f"queue full ({self.config.queue_depth}"
                                    f" waiting); try again later", req.request_id)
            position = len(self._queue) + int(self._current is not None)
            self._remember(job.reply)
            self._queue.append(job)
            self._jobs[req.request_id] = job
            self._cond.notify()
        log.info("accepted %r from %s:%d (position %d): %s", req.request_id, *client[:2],
                 position, image.name)
        self.send(job.reply, p.ACCEPTED, req.request_id, position)

    def _on_cancel(self, client: Address, address: str, *args: Any) -> None:
        rid = p.parse_cancel(args)
        with self._cond:
            job = self._jobs.get(rid)
            queued = job is not None and job in self._queue
            if queued:
                self._queue.remove(job)
        if job is None:
            log.info("cancel for %r ignored: not queued or running", rid)
        elif queued:
            self._finish(job, error=("cancelled while queued", ErrorCode.CANCELLED))
        else:
            job.cancel.set()  # the worker stops at the next stage boundary and replies

    # ------------------------------------------------------------------ worker
