"""The bridge's own sound: ``/a2m/stream/...`` plays an endless soundscape on the bridge
machine's device (``a2m_app.live.Soundscape``). Each scene's WAV is written and answered as
any clip is; scenes still queued when the stream stops get error 5.

:class:`StreamHandlers` is mixed into ``server.Bridge``, whose engine, config, replies and
clips folder it uses; the transport stays in ``server.py``, the job worker in ``jobs.py``.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from a2m_core import BadInputError, GenerationCancelled

from . import protocol as p
from .confine import read_confined
from .protocol import ErrorCode, ProtocolError

log = logging.getLogger(__name__)
Address = tuple[str, int]


class StreamHandlers:
    """The ``/a2m/stream/...`` handlers of a bridge (see the module's docstring)."""

    soundscape: Any = None  # the running Soundscape, or None

    def _on_stream_start(self, client: Address, address: str, *args: Any) -> None:
        from a2m_app.live import Soundscape

        if len(args) > 1 or (args and not isinstance(args[0], str)):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{p.STREAM_START} takes [s:device]",
                                p.STREAM_START)
        if self.engine is None:
            raise ProtocolError(ErrorCode.GENERATION_FAILED, "the model is not loaded yet "
                                "(see /a2m/status); start the stream when /a2m/ready comes",
                                p.STREAM_START)
        device = args[0] if args and args[0] else self.config.audio_device
        if self.soundscape is not None:
            self.soundscape.stop()
            self.soundscape = None
        from a2m_app.notes_out import AudioClock, NoteTicker

        # each scene's notes go out as they sound, to whoever listens to this bridge
        ticker = NoteTicker(AudioClock(), [_AudienceNotes(self)]) if self.engine.is_notes \
            else None
        live = Soundscape(lambda scene: self._stream_scene(scene, lambda: live.stopped),
                          self.engine.sample_rate, self._stream_factory,
                          on_error=self._stream_failed, ticker=ticker,
                          channels=self.engine.channels)
        try:
            self.soundscape = live.start(int(device) if device and device.isdigit()
                                         else device or None)
        except Exception as err:  # noqa: BLE001 - PortAudio errors vary
            raise ProtocolError(ErrorCode.GENERATION_FAILED, f"cannot open the sound device "
                                f"{device or '(default)'}: {err}", p.STREAM_START) from err
        log.info("live soundscape started on %s at %d Hz", live.device_label, live.device_rate)
        self._on_stream_status(client, p.STREAM_STATUS)

    def _on_stream_next(self, client: Address, address: str, *args: Any) -> None:
        from a2m_core.soundscape import Scene

        req = p.parse_generate(args)
        if self.soundscape is None:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"no stream: send {p.STREAM_START} "
                                "first", req.request_id)
        data = read_confined(req.image_path, self.allowed, req.request_id)
        reply = self.reply_address(client)
        scene = Scene(data, req.comment, req.hints, req.seed,
                      tag=(req.request_id, reply, req.image_path.name, req))
        if not self.soundscape.next(scene):
            raise ProtocolError(ErrorCode.QUEUE_FULL, "the stream's scene queue is full",
                                req.request_id)
        self.send(reply, p.ACCEPTED, req.request_id, self.soundscape.status()["queued"] - 1)

    def _stream_scene(self, scene: Any, stopped: Callable[[], bool]) -> Any:
        """Generate a streamed scene; its WAV is written and /a2m/done sent as for any clip,
        so a host may also play it itself. A stream stopped meanwhile cancels it."""
        from a2m_core.produce import Outputs, produce

        rid, reply, _, args = scene.tag
        assert self.engine is not None
        wav = self._clip_path(rid)
        made = produce(self.engine, args.request(scene.image),
                       Outputs(wav, wav.with_suffix(".mid") if self.config.midi
                               and self.engine.is_notes else None), cancel=stopped)
        self._prune(keep=wav)
        self._send_plan(reply, rid, made)
        self.send(reply, p.DONE, rid, str(wav), float(made.clip.duration_s),
                  int(made.clip.sample_rate), final=True)
        return made.clip  # its notes go out live as the scene plays

    def _stream_failed(self, scene: Any, err: Exception) -> None:
        rid, reply, name, _ = scene.tag
        if isinstance(err, GenerationCancelled):
            self.send_error(reply, rid, str(err), ErrorCode.CANCELLED)
            return
        code = ErrorCode.FILE_REFUSED if isinstance(err, BadInputError) else \
            ErrorCode.GENERATION_FAILED
        self.send_error(reply, rid, f"{name[:60]}: {err}", code)

    def _on_stream_stop(self, client: Address, address: str, *args: Any) -> None:
        if self.soundscape is not None:
            self.soundscape.stop()
            self.soundscape = None
        self._on_stream_status(client, p.STREAM_STATUS)

    def _on_stream_status(self, client: Address, address: str, *args: Any) -> None:
        if args:
            return  # values: another bridge's reply
        live = self.soundscape
        st = live.status() if live is not None else {"playing": "", "queued": 0,
                                                     "underruns": 0, "device": ""}
        self.send(self.reply_address(client), p.STREAM_STATUS, st["playing"], st["queued"],
                  st["underruns"], st["device"], "playing" if live is not None else "stopped")


class _AudienceNotes:
    """``/a2m/note`` to everyone the bridge tells about itself (senders, reply_to)."""

    def __init__(self, bridge: Any) -> None:
        self.bridge = bridge

    def note_on(self, note: Any) -> None:
        for addr in self.bridge._audience():
            self.bridge.send(addr, p.NOTE, note.pitch, note.velocity, float(note.duration),
                             note.part)

    def note_off(self, note: Any) -> None:
        pass  # the message carries the duration

    def close(self) -> None:
        pass
