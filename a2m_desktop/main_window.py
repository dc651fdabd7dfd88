"""The main window: painting, comment, hints, seed, Generate; mel view, playback, history.
Its widgets are built in ``layout.py``; what they do is here."""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QIcon, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QListWidgetItem,
    QMainWindow,
)

from a2m_app.live import probe_output
from a2m_app.playback import Player, StreamFactory
from a2m_core import A2MError, Clip, GenerationRequest
from a2m_core.fileio import atomic_write_bytes
from a2m_core.images import load_image
from a2m_core.notes.plan import Pins
from a2m_core.prompt import check_user_text

from . import layout
from .history_store import HistoryStore, Stored
from .layout import NO_SEED
from .widgets import mel_png_bytes, pil_to_pixmap
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


@dataclass
class Generation:
    clip: Clip
    painting: Path
    thumbnail: QPixmap
    seconds: float
    pins: Pins | None = None  # what was pinned when it was made (shown again on recall)
    visitor: bool = False


def default_history_dir(settings: QSettings) -> Path:
    """Beside an INI settings file (a portable install, the tests), else the platform's app
    data folder."""
    if settings.format() == QSettings.Format.IniFormat:
        return Path(settings.fileName()).parent / "history"
    from PySide6.QtCore import QStandardPaths

    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation)
    return Path(base or Path.home() / ".art2music") / "history"


def dispose(window: QMainWindow) -> None:
    """Delete a closed window's Qt objects now, while the QApplication still exists.

    Left to interpreter shutdown, Python frees pyqtgraph's items and Qt's in no fixed order,
    which sometimes aborts the process on exit ("shared QObject was deleted directly").
    """
    import shiboken6

    if shiboken6.isValid(window):
        shiboken6.delete(window)


class MainWindow(QMainWindow):
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

    def _add_to_history(self, clip: Clip, painting: Path, thumb: QPixmap, seconds: float,
                        visitor: bool = False, pins: Pins | None = None,
                        keep: bool = True, select: bool = True) -> None:
        """A row for the clip (and, with ``keep``, its files in the History folder, so it is
        there after a restart)."""
        gen = Generation(clip, painting, thumb.scaled(
            48, 48, Qt.AspectRatioMode.KeepAspectRatio), seconds, pins, visitor)
        self.history.append(gen)
        if keep:
            self.history_store.save(Stored(clip, painting, pins, seconds, visitor))
        seed = "deterministic" if clip.seed is None else f"seed {clip.seed}"
        said = clip.comment or "(no comment: the painting alone)"
        short = said if len(said) <= 30 else said[:29] + "…"
        plan = (f" · {clip.plan.tempo_bpm:.0f} bpm {clip.plan.key} · {clip.plan.instrument}"
                if clip.plan else "")
        who = "visitor · " if visitor else ""
        item = QListWidgetItem(QIcon(gen.thumbnail), f"{short}\n{who}{seed}{plan}")
        lines = [f"“{clip.comment}”" if clip.comment else "No comment: the painting alone",
                 f"{painting.name} · {seed} · {clip.duration_s:.1f} s"]
        if clip.plan is not None:
            lines += [f"Plan: {clip.plan.describe()}", f"Why: {clip.plan.why}"]
        item.setToolTip("\n".join(line for line in lines if line))
        self.history_list.addItem(item)
        if select and not visitor:  # a visitor's clip joins; the window's own stays selected
            self.history_list.setCurrentRow(len(self.history) - 1)
        self._update_buttons()

    def _restore_history(self) -> None:
        """The clips kept before this window opened, oldest first, as they were made."""
        for s in self.history_store.load():
            thumb = QPixmap(str(s.painting)) if s.painting.is_file() else QPixmap()
            self._add_to_history(s.clip, s.painting, thumb, s.seconds, visitor=s.visitor,
                                 pins=s.pins, keep=False, select=False)
        if self.history:
            self.history_list.setCurrentRow(len(self.history) - 1)

    def clear_history(self) -> None:
        """Forget every clip of the History, on screen and on disk."""
        self.stop()
        self.history_store.clear()
        self.history.clear()
        self.current = None
        self.history_list.clear()
        self.plan_panel.show_plan(None)
        self._update_buttons()

    @Slot(object, str)
    def _on_visitor_clip(self, clip: Clip, painting: str) -> None:
        """A clip Installation mode made for a visitor: into the History like any other."""
        self._add_to_history(clip, Path(painting), QPixmap(painting), 0.0, visitor=True)

    def _on_finished(self, clip: Clip, seconds: float) -> None:
        self.busy = False
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

    def select_history(self, row: int) -> None:
        if 0 <= row < len(self.history):
            self.stop()
            self.current = self.history[row]
            self.mel_view.set_mel(self.current.clip.mel)
            self.plan_panel.show_plan(self.current.clip.plan)
            self.plan_panel.set_pins(self.current.pins)  # the pins it was made with
            self._update_buttons()

    # ------------------------------------------------------------------ playback
    def _choose_output(self, index: int) -> None:
        self.player.device = self.output_combo.itemData(index)
        self.settings.setValue("output_device", self.output_combo.currentText())

    def _on_chunk(self, start: int, audio: np.ndarray, total: int) -> None:
        """Streamed samples: the first chunk starts playback, the rest follow it in."""
        if start == 0:
            self.stop()
            try:
                self.player.play_stream(total, self.sample_rate_hint)
            except Exception as err:  # noqa: BLE001 - device errors vary
                self.show_error(f"Playback failed: {err}")
                return
            self._live = True
            self.timer.start()
        if self._live:
            self.player.feed(start, audio)

    @property
    def sample_rate_hint(self) -> int:
        engine = self.worker.engine
        return engine.sample_rate if engine is not None else 22050

    def play(self) -> None:
        self._live = False
        if self.current is None or not self.audio_ok:
            return
        clip = self.current.clip
        audio = clip.audio
        if self.loop_box.isChecked():  # the seamless version: no click where it wraps
            from a2m_core.soundscape import make_loop

            audio = make_loop(audio, clip.sample_rate)
        try:
            self.player.play(audio, clip.sample_rate)
        except Exception as err:  # noqa: BLE001 - device errors vary (PortAudioError, ...)
            self.show_error(f"Playback failed: {err}")
            return
        self.timer.start()

    def stop(self) -> None:
        self._live = False
        self.player.stop()
        self.timer.stop()
        self.mel_view.set_playhead(None)

    def _tick(self) -> None:
        self.mel_view.set_playhead(self.player.position)
        if self.player.reached_end:
            self.stop()  # the audio callback only flags the end; stopping happens here

    # ------------------------------------------------------------------ saving
    def _save_path(self, title: str, suggested: str, filters: str) -> str | None:
        folder = str(self.settings.value("last_save_dir", "") or Path.home())
        path, _ = QFileDialog.getSaveFileName(self, title, str(Path(folder) / suggested),
                                              filters)
        return path or None

    def _suggested_name(self, suffix: str) -> str:
        """``starry-night-seed7-harp.wav``: the painting, the seed and the instrument, and a
        number where that name is taken in the folder, so each variation gets its own."""
        assert self.current is not None
        clip = self.current.clip
        seed = "" if clip.seed is None else f"-seed{clip.seed}"
        inst = f"-{clip.plan.instrument}" if clip.plan is not None else ""
        stem = f"{self.current.painting.stem or 'clip'}{seed}{inst}"
        folder = Path(str(self.settings.value("last_save_dir", "") or Path.home()))
        name, n = f"{stem}{suffix}", 2
        while (folder / name).exists():
            name, n = f"{stem}-{n}{suffix}", n + 1
        return name

    def save_audio(self, path: str | None = None) -> Path | None:
        if self.current is None:
            return None
        return self._save_current("Save clip", ".wav", "WAV (*.wav);;FLAC (*.flac)",
                                  self.current.clip.save, path)

    def save_midi(self, path: str | None = None) -> Path | None:
        """The current clip's notes as a MIDI file (notes bundles)."""
        if self.current is None or self.current.clip.plan is None:
            return None
        return self._save_current("Save MIDI", ".mid", "MIDI (*.mid)",
                                  self.current.clip.save_midi, path)

    def _save_current(self, title: str, suffix: str, filters: str, write, path: str | None
                      ) -> Path | None:
        """Ask where (unless ``path``), write with ``write(path)``, say so or show why not."""
        path = path or self._save_path(title, self._suggested_name(suffix), filters)
        if not path:
            return None
        try:
            saved = write(path)
        except (A2MError, OSError) as err:
            self.show_error(f"Could not save {path}: {err}")
            return None
        self.settings.setValue("last_save_dir", str(saved.parent))
        self.statusBar().showMessage(f"Saved {saved}", 5000)
        return saved

    def export_soundscape(self, path: str | None = None, seconds: float = 20.0
                          ) -> Path | None:
        """The history as one long piece: each clip looped to ``seconds``, crossfaded."""
        from a2m_core.soundscape import join_scenes, write_audio

        if not self.history:
            return None
        path = path or self._save_path("Export soundscape", "soundscape.wav",
                                       "WAV (*.wav);;FLAC (*.flac)")
        if not path:
            return None
        sr = self.history[0].clip.sample_rate
        audio = join_scenes([g.clip.audio for g in self.history],
                            [seconds] * len(self.history), sr)
        try:
            saved = write_audio(path, audio, sr)
        except (A2MError, OSError) as err:
            self.show_error(f"Could not save {path}: {err}")
            return None
        self.statusBar().showMessage(f"Saved {saved} ({audio.size / sr:.0f} s)", 5000)
        return saved

    def open_installation(self, full_screen: bool = True):
        """Installation mode on the current painting (a separate full-screen window)."""
        from .installation import InstallationView

        if self.painting is None or self.worker.engine is None or not self.audio_ok:
            self.show_error("Installation mode needs a painting, a loaded model and an audio "
                            "output")
            return None
        self.stop()
        view = InstallationView(self.worker.engine, self.painting, self.player._factory,
                                device=self.player.device)
        view.clipMade.connect(self._on_visitor_clip)
        self.installation = view
        if full_screen:
            view.showFullScreen()
        else:
            view.show()
        return view

    def save_mel(self, path: str | None = None) -> Path | None:
        if self.current is None:
            return None
        path = path or self._save_path("Save mel-spectrogram", self._suggested_name(".png"),
                                       "PNG (*.png)")
        if not path:
            return None
        target = Path(path)
        try:
            atomic_write_bytes(target, mel_png_bytes(self.mel_view, self.current.clip.mel))
        except OSError as err:
            self.show_error(f"Could not save {path}: {err}")
            return None
        self.statusBar().showMessage(f"Saved {target}", 5000)
        return target

    # ------------------------------------------------------------------ settings
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

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self.models_dialog is not None:
            self.models_dialog.close()  # stops a running fetch (kept for resuming)
        if self.installation is not None:
            self.installation.close()
        self.stop()
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
