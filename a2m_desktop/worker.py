"""The engine in a worker thread: the GUI sends requests as signals and gets results back as
signals carrying numpy arrays and clips, so the window never blocks, also on CPU."""
from __future__ import annotations

import logging
import threading
import time

from PySide6.QtCore import QObject, Signal, Slot

from a2m_core import A2MError, Art2Music, GenerationCancelled, GenerationRequest
from a2m_core.produce import Outputs, produce

log = logging.getLogger(__name__)


class EngineWorker(QObject):
    bundleLoaded = Signal(str, str, str)  # name, device, kind: "starter", "untrained" or ""
    bundleFailed = Signal(str)
    progress = Signal(str, float)  # stage, overall fraction
    melReady = Signal(object)  # np.ndarray [n_mels, T]
    finished = Signal(object, float)  # Clip, seconds
    failed = Signal(str)
    cancelled = Signal()
    chunkReady = Signal(int, object, int)  # first sample, float32 samples, clip length

    def __init__(self) -> None:
        super().__init__()
        self.engine: Art2Music | None = None
        # Set from the GUI thread directly (not through a queued slot): the worker is busy.
        self.cancel_event = threading.Event()
        self.stream = False  # stream the vocoder's chunks (play while generating)

    @Slot(str, str)
    def load(self, bundle: str, device: str) -> None:
        try:
            engine = Art2Music.load(bundle or None, device=device)
        except A2MError as err:
            self.bundleFailed.emit(str(err))
            return
        except Exception as err:  # noqa: BLE001
            log.exception("loading %s failed", bundle)
            self.bundleFailed.emit(f"unexpected error loading the model: {err}")
            return
        self.engine = engine
        cfg = engine.config
        kind = "untrained" if cfg.untrained else "starter" if cfg.starter else ""
        self.bundleLoaded.emit(engine.name, str(engine.device), kind)

    @Slot(object)
    def generate(self, request: GenerationRequest) -> None:
        if self.engine is None:
            self.failed.emit("no model is loaded")
            return
        # cancel_event is cleared by the GUI when it sends the request, not here: a Cancel
        # pressed before this slot starts must not be lost.
        start = time.perf_counter()
        try:
            made = produce(self.engine, request, Outputs(),
                           progress=lambda stage, f: self.progress.emit(stage, f),
                           cancel=self.cancel_event, on_mel=self.melReady.emit,
                           on_chunk=(lambda c: self.chunkReady.emit(c.start, c.audio, c.total))
                           if self.stream else None)
            clip = made.clip
        except GenerationCancelled:
            self.cancelled.emit()
        except A2MError as err:
            self.failed.emit(str(err))
        except Exception as err:  # noqa: BLE001 - keep the app alive, log the bug
            log.exception("generation failed")
            self.failed.emit(f"generation failed: {type(err).__name__}: {err}")
        else:
            self.finished.emit(clip, time.perf_counter() - start)
