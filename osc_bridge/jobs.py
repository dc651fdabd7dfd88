"""The bridge's jobs: one worker thread takes each accepted ``/a2m/generate`` (or
``/a2m/loop``) in turn, calls the shared engine with a progress callback and a cancel event,
writes the clip, bounds the clips folder and sends exactly one final reply.

:class:`JobWorker` is mixed into ``server.Bridge``, whose engine, config, lock, queue and
replies it uses; the transport and the address map stay in ``server.py``.
"""
from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from a2m_core import A2MError, BadInputError, GenerationCancelled

from . import protocol as p
from .protocol import ErrorCode

log = logging.getLogger(__name__)
Address = tuple[str, int]


@dataclass
class Job:
    args: p.GenerateArgs
    reply: Address
    image: bytes = b""  # read once at acceptance (see confine.py): never looked up again
    loop: bool = False  # /a2m/loop: write the seamless-loop version
    cancel: threading.Event = field(default_factory=threading.Event)
    finished: bool = False


class JobWorker:
    """The worker side of a bridge (see the module's docstring)."""

    def _finish(self, job: Job, wav: Path | None = None, duration: float = 0.0,
                error: tuple[str, ErrorCode] | None = None) -> None:
        with self._cond:
            if job.finished:
                return
            job.finished = True
            if self._jobs.get(job.args.request_id) is job:
                del self._jobs[job.args.request_id]
            if self._current is job:
                # Not busy any more before the client hears "done": a status right after
                # the final reply must not still say busy.
                self._current = None
        if error:
            self.send_error(job.reply, job.args.request_id, *error)
        else:
            assert self.engine is not None  # a clip exists: the model is loaded
            self.send(job.reply, p.DONE, job.args.request_id, str(wav), float(duration),
                      int(self.engine.sample_rate), final=True)

    def _work(self) -> None:
        while True:
            with self._cond:
                while (not self._queue or self.state != p.READY_STATE) and not self._stopping:
                    self._cond.wait()
                if not self._queue:
                    return
                job = self._queue.popleft()
                self._current = job
            try:
                self._run(job)
            finally:
                with self._cond:
                    self._current = None

    def _run(self, job: Job) -> None:
        from a2m_core.produce import Outputs, produce

        a = job.args
        started = time.perf_counter()

        def progress(stage: str, fraction: float) -> None:
            self.send(job.reply, p.PROGRESS, a.request_id, stage, float(fraction))

        assert self.engine is not None  # the worker waits for the model
        try:
            request = a.request(job.image, loop=job.loop)
            wav = self._clip_path(a.request_id, request.suffix())
            outputs = Outputs(wav, wav.with_suffix(".mid") if self.config.midi
                              and self.engine.is_notes else None, bits=request.bits)
            made = produce(self.engine, request, outputs, progress=progress,
                           cancel=job.cancel,
                           on_chunk=(lambda chunk: None) if self.config.progress_per_chunk
                           else None)
            self._prune(keep=wav)
            self._send_plan(job.reply, a.request_id, made)
        except GenerationCancelled:
            self._finish(job, error=("cancelled", ErrorCode.CANCELLED))
        except BadInputError as err:  # the bytes were read at acceptance: name the file
            self._finish(job, error=(f"{a.image_path.name[:60]}: {err}", ErrorCode.FILE_REFUSED))
        except A2MError as err:
            self._finish(job, error=(str(err), ErrorCode.GENERATION_FAILED))
        except Exception as err:  # noqa: BLE001 - keep serving whatever happened
            log.exception("generation of %r failed", a.request_id)
            self._finish(job, error=(f"generation failed: {type(err).__name__}: {err}",
                                     ErrorCode.GENERATION_FAILED))
        else:
            log.info("done %r in %.1f s -> %s", a.request_id, time.perf_counter() - started, wav)
            self._finish(job, wav=wav, duration=made.clip.duration_s)

    def _send_plan(self, addr: Address, request_id: str, made: Any) -> None:
        """``/a2m/plan`` and ``/a2m/why`` for a notes bundle's clip (its MIDI beside the WAV
        with ``--midi``); nothing for a mel bundle, whose replies stay as they were."""
        plan = made.clip.plan
        if plan is None:
            return
        midi = str(made.files.get("midi", ""))
        self.send(addr, p.PLAN, request_id, plan.describe(), float(plan.tempo_bpm), plan.key,
                  plan.instrument, midi)
        self.send(addr, p.WHY, request_id, plan.why)

    def _prune(self, keep: Path) -> list[Path]:
        """Bound the clips folder (--keep-clips / --keep-bytes): the oldest clips go first,
        never ``keep`` (the clip about to be replied about)."""
        cfg = self.config
        if cfg.keep_clips is None and cfg.keep_bytes is None:
            return []
        clips = sorted((c for c in self.out_dir.iterdir() if _CLIP_NAME.match(c.name)
                        and c.is_file()), key=lambda c: (c.stat().st_mtime, c.name))
        sizes = {c: c.stat().st_size for c in clips}
        removed = []
        for clip in clips:
            count, total = len(clips) - len(removed), sum(sizes.values())
            over = (cfg.keep_clips is not None and count > cfg.keep_clips) or \
                (cfg.keep_bytes is not None and total > cfg.keep_bytes)
            if not over:
                break
            if clip == keep:
                continue
            try:
                clip.unlink()
                clip.with_suffix(".mid").unlink(missing_ok=True)  # its notes go with it
            except OSError as err:
                log.warning("cannot remove old clip %s: %s", clip.name, err)
                continue
            removed.append(clip)
            sizes.pop(clip)
        if removed:
            log.info("removed %d old clip(s) (--keep-clips/--keep-bytes)", len(removed))
        return removed

    def _clip_path(self, request_id: str, suffix: str = ".wav") -> Path:
        safe = re.sub(r"[^A-Za-z0-9_-]+", "_", request_id)[:40] or "clip"
        stamp = time.strftime("%Y%m%d-%H%M%S")
        while True:  # unique by construction; the loop only guards against the impossible
            path = self.out_dir / f"{stamp}-{safe}-{uuid.uuid4().hex[:8]}{suffix}"
            if not path.exists():
                return path


# The names _clip_path gives: only these are ever pruned from the clips folder.
_CLIP_NAME = re.compile(r"^\d{8}-\d{6}-[A-Za-z0-9_-]+-[0-9a-f]{8}\.(wav|flac|ogg|mp3)$")
