"""Runs one trainer job at a time in a QThread and reports its events as Qt signals.

Jobs are the plain Python APIs (build_articaps, train_stage1, train_stage2, export_bundle,
evaluate_table4); their progress callbacks become ``event`` signals carrying dicts, the
GUI's Stop button sets a ``threading.Event`` that each API checks. Every job can be started
again after a stop and continues where it left off.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

log = logging.getLogger(__name__)

Job = Callable[[Callable[[dict], None], threading.Event], Any]


class JobWorker(QObject):
    event = Signal(dict)  # {"event": "step"|"val"|"progress"|..., ...}
    finished = Signal(str, object)  # job name, result
    stopped = Signal(str, str)  # job name, message
    failed = Signal(str, str)  # job name, message

    def __init__(self) -> None:
        super().__init__()
        self.stop_event = threading.Event()

    @Slot(str, object)
    def run(self, name: str, job: Job) -> None:
        from ..data.builder import BuildStopped

        try:
            result = job(self.event.emit, self.stop_event)
        except (BuildStopped, InterruptedError) as err:  # builders stop at a safe point
            self.stopped.emit(name, str(err))
        except Exception as err:  # noqa: BLE001 - every failure becomes a message
            log.exception("%s failed", name)
            self.failed.emit(name, failure_text(err))
        else:
            if self.stop_event.is_set():
                self.stopped.emit(name, "stopped; start again to resume from the last "
                                  "checkpoint")
            else:
                self.finished.emit(name, result)


def failure_text(err: BaseException) -> str:
    """What a person reads when a job fails: the message alone when it was written for them
    (the project's own errors and a bad value), else the kind of fault too, for a report."""
    from a2m_core.errors import A2MError

    from ..data.sources import SourceError
    from ..own_music import OwnMusicError

    if isinstance(err, (A2MError, OwnMusicError, SourceError, FileNotFoundError, ValueError)):
        return str(err)
    return f"unexpected {type(err).__name__}: {err} (the log has the details)"
