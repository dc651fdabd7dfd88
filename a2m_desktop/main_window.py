"""The main window: painting, comment, hints, seed, Generate; mel view, playback, history.
Its widgets are built in ``layout.py``; what they do is here."""
from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
)

from a2m_app.live import probe_output
from a2m_app.playback import Player, StreamFactory
from a2m_core import A2MError, Clip, GenerationRequest
from a2m_core.images import load_image
from a2m_core.notes.plan import Pins
from a2m_core.prompt import check_user_text

from . import layout
from .history_list import Generation, HistoryList, default_history_dir
from .history_store import HistoryStore
from .layout import NO_SEED
from .listening import Listening
from .saving import Saving
from .widgets import pil_to_pixmap
from .worker import EngineWorker

log = logging.getLogger(__name__)

STAGE_NAMES = {"encode": "Encoding painting and comment", "mel": "Decoding the mel-spectrogram",
               "vocoder": "Synthesising audio", "finish": "Levelling",
               "notes": "Drawing the plan and the notes", "done": "Done"}
IMAGE_FILTER = "Paintings (*.jpg *.jpeg *.png *.webp *.tif *.tiff *.bmp)"


# What the model line adds after "name on device", by the kind of bundle loaded.
MODEL_NOTES = {
    "starter": "  — the starter model; see README for the paper-scale one",
    "untrained": "  — untrained (random weights): its clips are not music",
}
BANNER_NOTE_MS = 8000  # a note about a refused file, when nothing else changed, then goes
INSTALL_TIP = ("Full screen: this painting, a comment field for visitors,\nand sound that "
               "never stops, played on this computer's sound device.\nEsc leaves.")


def dispose(window: QMainWindow) -> None:
    """Delete a closed window's Qt objects now, while the QApplication still exists.

    Left to interpreter shutdown, Python frees pyqtgraph's items and Qt's in no fixed order,
    which sometimes aborts the process on exit ("shared QObject was deleted directly").
    """
    import shiboken6

    if shiboken6.isValid(window):
        shiboken6.delete(window)


class MainWindow(HistoryList, Listening, Saving, QMainWindow):
    requestLoad = Signal(str, str)
    requestGenerate = Signal(object)
    modelReady = Signal()
    # Emitted on the GUI thread once the window has taken in a generation's outcome
    # ("finished" | "failed" | "cancelled"). Wait on this, not on the worker's signals: a
    # plain callable connected to the worker runs on the worker's thread (PySide6 6.8+).
    generationEnded = Signal(str)

    def __init__(self, bundle: str | None = None, settings: QSettings | None = None,
                 stream_factory: StreamFactory | None = None,
                 history_dir: Path | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Art2Music")
        self.settings = settings or QSettings("Art2Music", "Art2Music Desktop")
        self.history_store = HistoryStore(history_dir or default_history_dir(self.settings))
        self._pending_pins: Pins | None = None
        self.painting: Path | None = None
        self.current: Generation | None = None
        self.history: list[Generation] = []
        self.busy = False
        self.model_loaded = False
        self.loading: str | None = None  # the model being loaded ("" = the default)
        self.current_model = ""  # what is loaded: a model name, a bundle path, "" = default
        self.engine_name = ""
        self._fallback: str | None = None
        self._banner_cause: str | None = None
        self.installation = None  # the installation-mode window, while open
        self._live = False  # streamed chunks go to the player (until Stop or another Play)
        self.models_dialog = None

        self.worker = EngineWorker()
        self.thread = QThread(self)
        self.worker.moveToThread(self.thread)
        self.requestLoad.connect(self.worker.load)
        self.requestGenerate.connect(self.worker.generate)
        self.worker.bundleLoaded.connect(self._on_loaded)
        self.worker.bundleFailed.connect(self._on_load_failed)
        self.worker.progress.connect(self._on_progress)
        self.worker.melReady.connect(self._on_mel)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.worker.cancelled.connect(self._on_cancelled)
        self.worker.chunkReady.connect(self._on_chunk)
        self.thread.start()

        self.player = Player(stream_factory)
        if stream_factory is None:
            self.audio_ok, self.audio_why, self.audio_devices = probe_output()
        else:
            self.audio_ok, self.audio_why, self.audio_devices = True, "", [(0, "test stream")]
        layout.build(self)
        self._restore_settings()
        self.timer = QTimer(self)
        self.timer.setInterval(33)  # ~30 fps playhead
        self.timer.timeout.connect(self._tick)
        self._restore_history()
        self.load_model(bundle if bundle is not None else
                        str(self.settings.value("bundle", "") or ""))

    # ------------------------------------------------------------------ state
    def _update_buttons(self) -> None:
        has_clip = self.current is not None
        ready = self.model_loaded and not self.busy and self.loading is None
        self.generate_btn.setEnabled(ready)
        self.variation_btn.setEnabled(ready)
        self.cancel_btn.setEnabled(self.busy)
        for w in (self.play_btn, self.stop_btn, self.live_box, self.loop_box, self.volume,
                  self.output_combo):
            w.setEnabled(self.audio_ok and (has_clip or w is not self.play_btn))
        self.save_audio_btn.setEnabled(has_clip)
        self.save_midi_btn.setEnabled(has_clip and self.current.clip.plan is not None)
        self.save_mel_btn.setEnabled(has_clip)
        self.export_scape_btn.setEnabled(bool(self.history))
        self.clear_history_btn.setEnabled(bool(self.history) and not self.busy)
        why_not = ("it plays on a sound device, and none was found" if not self.audio_ok
                   else "load a model first" if not self.model_loaded
                   else "open a painting first" if self.painting is None
                   else "wait for the clip being generated" if self.busy else "")
        self.install_btn.setEnabled(not why_not)
        self.install_btn.setToolTip(INSTALL_TIP + (f"\n\nNot now: {why_not}." if why_not
                                                   else ""))
        idle = not self.busy and self.loading is None
        for w in (self.open_bundle_btn, self.device_combo, self.model_combo):
            w.setEnabled(idle)

    def show_error(self, message: str, cause: str | None = None) -> None:
        """Show ``message`` in the banner; ``cause`` ("comment", "painting") lets the banner
        clear itself as soon as the user fixes that."""
        log.warning("%s", message)
        self.error_banner.setText(message)
        self.error_banner.show()
        self._banner_cause = cause

    def _clear_note(self, message: str) -> None:
        if self._banner_cause == "painting kept" and self.error_banner.text() == message:
            self.clear_error()

    def clear_error(self) -> None:
        self.error_banner.hide()
        self.error_banner.setText("")
        self._banner_cause = None
        if self.model_loaded and self.loading is None:  # "(kept)" went with the banner
            self.model_label.setText(self._model_text)

    def _on_comment_changed(self) -> None:
        if self._banner_cause == "comment" and _comment_problem(self.comment.toPlainText()
                                                                ) is None:
            self.clear_error()

    # ------------------------------------------------------------------ model
    def load_model(self, source: str, fallback: str | None = None) -> None:
        """Load a model by name (``starter``, ``paper``…), bundle path, or "" (the default).

        The current model keeps working until the new one has loaded; only then is it saved
        in the settings. ``fallback`` is the reason this load replaces one that failed at
        start-up (it is shown, and nothing is saved).
        """
        self.loading = source
        self._fallback = fallback
        self.model_label.setText(f"Loading {self._model_title(source)}…")
        self._update_buttons()
        self.requestLoad.emit(source, self.device_combo.currentText())

    @staticmethod
    def _model_title(source: str) -> str:
        if not source:
            return "the default model"
        return Path(source).name if ("/" in source or "\\" in source or
                                     source.endswith(".safetensors")) else source

    def _choose_bundle(self) -> None:
        start = self.current_model if Path(self.current_model or ".").is_file() else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open model bundle", start,
                                              "Art2Music bundles (*.safetensors)")
        if path:
            self.load_model(path)

    def _on_model_chosen(self, index: int) -> None:
        source = self.model_combo.itemData(index)
        if source is not None and source != self.current_model:
            self.load_model(source)

    def refresh_models(self) -> None:
        """Fill the model picker: the starter and every installed model, always; the
        bundle file in use when it is one."""
        from a2m_core import A2MError
        from a2m_core.model_store import list_models

        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        try:
            rows = list_models()
        except A2MError as err:
            self.show_error(str(err))
            rows = []
        for r in rows:
            if r.installed:
                self.model_combo.addItem(r.name + ("  (default)" if r.is_default else ""),
                                         r.name)
        current = self.current_model
        if current and self.model_combo.findData(current) < 0:
            self.model_combo.addItem(self._model_title(current), current)
        at = self.model_combo.findData(current) if current else -1
        if at < 0 and self.engine_name:  # "" (the default): show which model that is
            from a2m_core.registry import default_model

            at = self.model_combo.findData(default_model() or "starter")
        self.model_combo.setCurrentIndex(max(at, 0))
        self.model_combo.blockSignals(False)

    def open_models_dialog(self) -> None:
        from .models_dialog import ModelsDialog

        if self.models_dialog is None:
            self.models_dialog = ModelsDialog(self)
            self.models_dialog.modelsChanged.connect(self.refresh_models)
            self.models_dialog.useModel.connect(self.load_model)
        self.models_dialog.refresh()
        self.models_dialog.show()
        self.models_dialog.raise_()

    def _on_loaded(self, name: str, device: str, kind: str) -> None:
        self.model_loaded = True
        self.current_model, self.loading, self.engine_name = self.loading or "", None, name
        note = MODEL_NOTES.get(kind, "")
        self._model_text = f"{name} on {device}{note}"
        self.model_label.setText(self._model_text)
        engine = self.worker.engine
        self.plan_panel.set_notes_bundle(engine is not None and engine.is_notes)
        if engine is not None:
            self.plan_panel.set_variation(min(engine.variation, 2.0))
        if self._fallback:
            self.show_error(self._fallback)
        else:
            self.clear_error()
            self.settings.setValue("bundle", self.current_model)
            self.settings.setValue("device", self.device_combo.currentText())
        self._fallback = None
        self.refresh_models()
        self._update_buttons()
        self.modelReady.emit()

    def _on_load_failed(self, message: str) -> None:
        failed, self.loading = self.loading or "", None
        title = self._model_title(failed)
        if self.model_loaded:  # the worker still holds the previous engine: keep using it
            self.model_label.setText(f"{self.engine_name} (kept)")
            self.show_error(f"Could not load {title}: {message}. Still using "
                            f"{self.engine_name}.")
            self.refresh_models()
        elif failed:  # nothing loaded yet (start-up): fall back to the built-in default
            self.load_model("", fallback=f"Could not load {title}: {message}. Using the "
                            "default model instead; pick another in the Model list.")
        else:
            self.model_label.setText("No model loaded")
            self.show_error(f"Could not load the model: {message}")
        self._update_buttons()

    # ------------------------------------------------------------------ painting
    def _choose_painting(self) -> None:
        folder = str(self.settings.value("last_image_dir", "") or "")
        path, _ = QFileDialog.getOpenFileName(self, "Open painting", folder, IMAGE_FILTER)
        if path:
            self.open_painting(path)

    def open_painting(self, path: str) -> bool:
        """Show a painting; on a bad file keep the previous one and say why."""
        try:
            img = load_image(path)
        except A2MError as err:
            if self.painting is None:
                self.show_error(str(err))
                return False
            # nothing is broken: the previous painting stays, so the note goes by itself
            message = f"{err} (the previous painting is kept)"
            self.show_error(message, cause="painting kept")
            QTimer.singleShot(BANNER_NOTE_MS, lambda: self._clear_note(message))
            return False
        self.painting = Path(path)
        self.drop_zone.set_painting(pil_to_pixmap(img))
        self.drop_zone.setToolTip(str(self.painting))
        self.settings.setValue("last_image_dir", str(self.painting.parent))
        self.clear_error()
        return True

    # ------------------------------------------------------------------ generation
    def new_variation(self) -> None:
        self.seed.setValue(random.randrange(0, 2**31 - 1))
        self.generate()

    def generate(self) -> bool:
        comment = self.comment.toPlainText().strip()
        if self.painting is None:
            self.show_error("Drop a painting first (or use Open painting…).", cause="painting")
            return False
        problem = _comment_problem(comment)  # an empty comment is fine: the painting leads
        if problem:
            self.show_error(problem, cause="comment")
            return False
        if self.busy or not self.model_loaded:
            return False
        self.clear_error()
        self.busy = True
        self.progress.setValue(0)
        self.stage_label.setText("Starting…")
        self._update_buttons()
        seed = None if self.seed.value() == NO_SEED else self.seed.value()
        self.worker.cancel_event.clear()
        self.worker.stream = self.audio_ok and self.live_box.isChecked()
        self._live = False
        self._pending_pins = self.plan_panel.pins()
        self.requestGenerate.emit(self.request(comment, seed))
        return True

    def request(self, comment: str, seed: int | None) -> GenerationRequest:
        """What the form asks for, as every surface asks it."""
        panel = self.plan_panel
        return GenerationRequest(self.painting, comment, self.hints.text().strip() or None,
                                 seed, panel.emotion_label(), panel.pins(),
                                 panel.variation_value())

    def cancel(self) -> None:
        if self.busy:
            self.worker.cancel_event.set()
            self.stage_label.setText("Cancelling after the current stage…")

    def _on_progress(self, stage: str, fraction: float) -> None:
        self.progress.setValue(round(fraction * 100))
        self.stage_label.setText(STAGE_NAMES.get(stage, stage) + "…")

    def _on_mel(self, mel: np.ndarray) -> None:
        self.mel_view.set_mel(mel)

    @Slot(object, str)
    def _on_visitor_clip(self, clip: Clip, painting: str) -> None:
        """A clip Installation mode made for a visitor: into the History like any other."""
        self._add_to_history(clip, Path(painting), QPixmap(painting), 0.0, visitor=True)

    def _on_finished(self, clip: Clip, seconds: float) -> None:
        self.busy = False
        if self._live:  # it is playing as it streamed in: its notes go out from now
            self._follow_notes(clip, len(clip.audio))
        self._add_to_history(clip, self.painting or Path(),
                             self.drop_zone._pixmap or QPixmap(), seconds,
                             pins=self._pending_pins)
        self.progress.setValue(100)
        self.stage_label.setText(f"Done in {seconds:.1f} s")
        self._update_buttons()
        self.generationEnded.emit("finished")

    def _on_failed(self, message: str) -> None:
        self.busy = False
        self.progress.setValue(0)
        self.stage_label.setText("")
        self.show_error(message)
        self._update_buttons()
        self.generationEnded.emit("failed")

    def _on_cancelled(self) -> None:
        self.busy = False
        self.progress.setValue(0)
        self.stage_label.setText("Cancelled")
        if self.current is not None:  # the preview mel was of the cancelled clip
            self.mel_view.set_mel(self.current.clip.mel)
        self._update_buttons()
        self.generationEnded.emit("cancelled")

    def open_installation(self, full_screen: bool = True):
        """Installation mode on the current painting (a separate full-screen window)."""
        from .installation import InstallationView

        if self.painting is None or self.worker.engine is None or not self.audio_ok:
            self.show_error("Installation mode needs a painting, a loaded model and an audio "
                            "output")
            return None
        self.stop()
        view = InstallationView(self.worker.engine, self.painting, self.player._factory,
                                device=self.player.device, notes_out=self._installation_notes())
        view.clipMade.connect(self._on_visitor_clip)
        self.installation = view
        if full_screen:
            view.showFullScreen()
        else:
            view.show()
        return view

    # ------------------------------------------------------------------ settings
    def _installation_notes(self) -> list:
        """Installation mode's own note sinks, as the Notes out fields say (its soundscape
        closes them when it ends)."""
        from a2m_app.notes_out import sinks_for

        try:
            return sinks_for(self.notes_out.text(), "Art2Music installation"
                             if self.notes_midi.isChecked() else None)
        except (ValueError, OSError) as err:
            log.warning("installation mode sends no notes: %s", err)
            return []

    def _apply_notes_out(self) -> None:
        problem = self.set_notes_out(self.notes_out.text(), self.notes_midi.isChecked())
        if problem:
            self.show_error(problem)
            if "MIDI" in problem:
                self.notes_midi.setChecked(False)

    def _restore_settings(self) -> None:
        device = str(self.settings.value("device", "auto"))
        if self.device_combo.findText(device) >= 0:
            self.device_combo.setCurrentText(device)
        self.volume.setValue(int(self.settings.value("volume", 80)))
        self.player.volume = self.volume.value() / 100
        out = str(self.settings.value("output_device", ""))
        if out and self.output_combo.findText(out) >= 0:
            self.output_combo.setCurrentText(out)
        self.player.device = self.output_combo.currentData()
        self.notes_out.setText(str(self.settings.value("notes_out", "") or ""))
        self.notes_midi.setChecked(str(self.settings.value("notes_midi", "false")) == "true")
        if self.notes_out.text() or self.notes_midi.isChecked():
            self._apply_notes_out()
        self.notes_out.editingFinished.connect(self._apply_notes_out)
        self.notes_midi.toggled.connect(lambda _: self._apply_notes_out())

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self.models_dialog is not None:
            self.models_dialog.close()  # stops a running fetch (kept for resuming)
        if self.installation is not None:
            self.installation.close()
        self.stop()
        if self.player.ticker is not None:
            self.player.ticker.close()
        self.worker.cancel_event.set()
        self.settings.setValue("volume", self.volume.value())
        self.settings.sync()
        self.thread.quit()
        self.thread.wait(30_000)
        super().closeEvent(event)


def _comment_problem(text: str) -> str | None:
    """Why a comment can't be used ("... at most 1,000 characters ..."), or None."""
    try:
        check_user_text(text)
    except ValueError as err:
        return f"The comment is too long: {err}."
    return None
