"""The trainer window: the Your music tab (``own_music_tab``) and the paper's four tabs
(``paper_tabs``: ArtEmis dataset, Stage 1, Stage 2, Export & evaluate) over one job runner,
with a progress bar, live loss curves, and a log of the structured events. The window keeps
the job runner; the paper tabs' jobs are in ``paper_jobs``, the Your music tab's in
``own_music_tab`` and here."""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QThread, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .paper_jobs import PaperJobs
from .paper_tabs import DETAIL_TIP
from .progress import OWN_NOTES, JobProgress
from .widgets import LossPlot, describe_event
from .worker import JobWorker

log = logging.getLogger(__name__)


def desktop_command(bundle: str) -> tuple[str, list[str]]:
    """How to start the desktop app on ``bundle``: the frozen program beside this one in a
    PyInstaller build, else this Python running the app's module. Never an import: the
    trainer and the app stay separate processes."""
    import sys

    if getattr(sys, "frozen", False):
        return str(Path(sys.executable).with_name("a2m-desktop")), ["--bundle", bundle]
    return sys.executable, ["-m", "a2m_desktop.app", "--bundle", bundle]


class TrainerWindow(PaperJobs, QMainWindow):
    requestRun = Signal(str, object)
    # (job name, "finished" | "stopped" | "failed"), emitted on the GUI thread after the
    # window has shown the outcome. Wait on this rather than on the worker's own signals: a
    # plain callable connected to the worker runs on the worker's thread (PySide6 6.8+), and
    # can fire before a waiting event loop has even started.
    jobEnded = Signal(str, str)

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Art2Music trainer")
        self.settings = settings or QSettings("Art2Music", "Art2Music Trainer")
        self.running: str | None = None
        self._on_done: Callable[[Any], None] | None = None
        self.last_result: Any = None
        self.worker = JobWorker()
        self.thread = QThread(self)
        self.worker.moveToThread(self.thread)
        self.requestRun.connect(self.worker.run)
        self.worker.event.connect(self._on_event)
        self.worker.finished.connect(self._on_finished)
        self.worker.stopped.connect(self._on_stopped)
        self.worker.failed.connect(self._on_failed)
        self.thread.start()
        self._build_ui()
        self.apply_stage1_preset(self.s1_preset.currentText())

    # ------------------------------------------------------------------ layout
    def _build_ui(self) -> None:
        central = QWidget()
        self.setCentralWidget(central)
        outer = QVBoxLayout(central)
        self.tabs = QTabWidget()
        outer.addWidget(self.tabs, 1)

        # Your music: the guided path (own_music_tab.py)
        from .own_music_tab import OwnMusicTab

        self.own_tab = OwnMusicTab(self)
        t = self.own_tab
        self.own_music, self.own_paintings, self.own_work = t.music, t.paintings, t.work
        self.own_licence, self.example_btn, self.own_btn = t.licence, t.example_btn, \
            t.paper_btn
        t.example_btn.clicked.connect(self.use_example_data)
        t.learn_btn.clicked.connect(t.start_learning)
        t.paper_btn.clicked.connect(self.start_own_dataset)
        t.open_btn.clicked.connect(self.open_own_model)
        self.tabs.addTab(t, "Your music")

        from .paper_tabs import artemis_tab, export_tab, stage1_tab, stage2_tab

        self.tabs.addTab(artemis_tab(self), "ArtEmis dataset")
        self.tabs.addTab(stage1_tab(self), "Stage 1")
        self.tabs.addTab(stage2_tab(self), "Stage 2")
        self.tabs.addTab(export_tab(self), "Export && evaluate")  # "&&": a lone & is a mnemonic

        bottom = QHBoxLayout()
        self.progress = QProgressBar()
        self.status = QLabel("Idle")
        self.status.setWordWrap(True)  # a long message wraps instead of widening the window
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setEnabled(False)
        self.stop_btn.clicked.connect(self.stop)
        bottom.addWidget(self.progress, 1)
        bottom.addWidget(self.status, 2)
        bottom.addWidget(self.stop_btn)
        outer.addLayout(bottom)
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(2000)
        self.log_view.setMaximumHeight(140)
        outer.addWidget(self.log_view)
        self.s1_out.edit.textChanged.connect(lambda _: self._update_detail_button())
        self.tabs.currentChanged.connect(lambda _: self._update_detail_button())
        self._update_detail_button()
        self.resize(900, 760)

    # ------------------------------------------------------------------ jobs
    def _start(self, name: str, job: Callable[..., Any],
               on_done: Callable[[Any], None] | None = None) -> bool:
        """Run ``job(emit, stop)`` in the worker thread; ``on_done(result)`` when it
        finishes (not when it is stopped or fails)."""
        if self.running:
            return False
        self.running = name
        self._on_done = on_done
        self._job_progress = JobProgress(OWN_NOTES) if name == "own-notes" else None
        self.worker.stop_event.clear()
        self.progress.setFormat("%p%")
        self.progress.setValue(0)
        self.status.setText(f"{name}: starting…")
        self._set_busy(True)
        self.requestRun.emit(name, job)
        return True

    def _set_busy(self, busy: bool) -> None:
        for b in (self.own_btn, self.own_tab.learn_btn, self.build_btn, self.s1_btn,
                  self.detail_btn, self.s2_btn, self.export_btn, self.eval_btn):
            b.setEnabled(not busy)
        self.stop_btn.setEnabled(busy)
        self._update_detail_button()

    def _stage1_done(self) -> bool:
        out = self.s1_out.text()
        return bool(out) and (Path(out) / "best.pt").is_file()

    def _update_detail_button(self) -> None:
        """The detail flow trains on a finished stage 1: until then it says so."""
        ready = self._stage1_done()
        self.detail_btn.setEnabled(ready and self.running is None)
        self.detail_btn.setToolTip(DETAIL_TIP if ready else
                                   "Run Stage 1 first: the detail flow trains on its "
                                   "finished run (best.pt in the run folder)")

    def _name_generator_field(self, packaged: bool) -> None:
        self.ex_generator_label.setText(
            "Stage-2 generator (empty: the official HiFi-GAN V1)" if packaged else
            "Stage-2 generator (empty: Griffin-Lim)")

    def _next_step(self) -> str:
        if not self._stage1_done():
            return "Next: the Stage 1 tab (CPU quick preset)."
        return "Stage 1 is done; next: the Export & evaluate tab."

    def _need(self, **fields: str) -> bool:
        missing = [name for name, value in fields.items() if not value]
        if missing:
            self.status.setText("Fill in: " + ", ".join(missing))
        return not missing

    def stop(self) -> None:
        if self.running:
            self.worker.stop_event.set()
            self.status.setText(f"{self.running}: stopping at the next safe point…")

    # ------------------------------------------------------------------ events
    def _on_event(self, e: dict) -> None:
        kind = e.get("event")
        if kind in ("finetune", "progress"):
            self._on_progress(e)
            return
        self.log_view.appendPlainText(describe_event(e))
        plot = {"stage1": self.s1_plot, "detail": self.detail_plot}.get(e.get("stage"),
                                                                        self.s2_plot)
        if kind == "step":
            total = max(1, int(e.get("total_steps") or 1))
            self.progress.setValue(round(100 * e["step"] / total))
            eta = e.get("eta_s")
            loss = e.get("loss", e.get("mel_l1"))
            self.status.setText(f"{e['stage']} step {e['step']}/{total}, loss {loss:.4f}"
                                + (f", ETA {eta:.0f} s" if eta is not None else ""))
            plot.add("train", e["step"], float(loss))
        elif kind == "val":
            value = e.get("val_loss", e.get("val_mel_l1"))
            if value is not None:
                plot.add("val", e["step"], float(value))

    def _on_progress(self, e: dict) -> None:
        """A stage's progress: one bar for the whole job (``JobProgress``: never back to
        0 % between stages) and the time left, measured where the stage gives none."""
        from .own_music_tab import duration

        stage, done, total = e["stage"], e.get("done", 0), e.get("total") or 1
        jp = getattr(self, "_job_progress", None)
        if jp is not None:
            percent, eta = jp.update(stage, done, total, e.get("eta_s"))
        else:
            percent, eta = round(100 * done / max(1, int(total))), e.get("eta_s")
        self.progress.setValue(percent)
        if e.get("event") == "finetune":
            text = self.own_tab.on_finetune({**e, "eta_s": eta})
        else:
            text = f"{stage}: {done}/{total}"
            if eta is not None and done < total:
                text += f", about {duration(eta)} left"
        self.status.setText(text)
        if jp is not None and stage != "transcribe" and not jp.dataset_shown:
            jp.dataset_shown = self.own_tab.dataset_ready()  # the corpus is written by now

    def use_example_data(self) -> None:
        """Fill the guided flow with the example music and paintings in the repository."""
        from ..own_music import EXAMPLE_MUSIC, EXAMPLES
        from .own_music_tab import EXAMPLE_LICENCE

        self.own_music.set(EXAMPLE_MUSIC)
        self.own_paintings.set(EXAMPLES)
        if not self.own_work.text():
            self.own_work.set(Path.home() / "Art2Music" / "example-model")
        self.own_licence.setText(EXAMPLE_LICENCE)
        self.status.setText("Example data: 6 pieces, 4 paintings. Press Learn my music.")

    def start_own_dataset(self) -> bool:
        from ..own_music import OwnMusicConfig, OwnMusicError, build_own_dataset, check_inputs
        from ..starter import starter_encoder

        if not self._need(**{"Music folder": self.own_music.text(),
                             "Paintings folder": self.own_paintings.text(),
                             "Work folder": self.own_work.text()}):
            return False
        cfg = OwnMusicConfig(Path(self.own_music.text()), Path(self.own_paintings.text()),
                             Path(self.own_work.text()), licence=self.own_licence.text()
                             or OwnMusicConfig.licence)
        try:
            check_inputs(cfg)  # say what is missing now, not after a minute of work
        except OwnMusicError as err:
            self.status.setText(str(err))
            return False
        self.settings.setValue("own_licence", self.own_licence.text())
        encoder = starter_encoder()

        def job(emit, stop: threading.Event):
            return build_own_dataset(cfg, encoder, stop=stop, progress=lambda st, d, t: emit(
                {"event": "progress", "stage": st, "done": d, "total": t}))

        return self._start("own-dataset", job,
                           lambda result: self._after_own_dataset(Path(result)))

    def _after_own_dataset(self, dataset: Path) -> None:
        """The next steps' fields point at what was just made; the report is shown."""
        work = dataset.parent
        for field, value in ((self.s1_dataset, dataset), (self.s1_out, work / "stage1"),
                             (self.s2_dataset, dataset), (self.ev_dataset, dataset),
                             (self.ex_bundle, work / f"{work.name}.safetensors")):
            field.set(value)
        self.s1_preset.setCurrentText("CPU quick")
        manifest = json.loads((dataset / "manifest.json").read_text(encoding="utf-8"))
        counts = manifest.get("counts", {})
        splits = counts.get("splits", {})
        self.report.setMarkdown(
            f"## Your dataset\n\n{counts.get('windows', '?')} music windows, "
            f"{counts.get('paintings', '?')} paintings ({counts.get('crops', '?')} views), "
            f"{counts.get('pairs', '?')} pairs: train {splits.get('train', 0)}, validation "
            f"{splits.get('val', 0)}, test {splits.get('test', 0)}.\n\nFeeling agreement "
            f"of the pairs: valence r = {counts.get('valence_correlation', '?')}, arousal "
            f"r = {counts.get('arousal_correlation', '?')}.\n\n{self._next_step()}")
        self.status.setText(f"dataset ready: {counts.get('pairs', '?')} pairs. Next: Stage 1 "
                            "(CPU quick preset)")
        self.tabs.setCurrentIndex(2)  # Stage 1

    def open_own_model(self) -> int | None:
        """The desktop app on the model the Your music tab made."""
        model = self.own_tab.config().bundle
        if not model.is_file():
            self.status.setText("Press Learn my music first: no model in the work folder yet")
            return None
        self.ex_bundle.set(model)
        return self.open_in_desktop()

    def open_in_desktop(self) -> int | None:
        """Launch the desktop app on the bundle as its own process; returns its pid."""
        bundle = self.ex_bundle.text()
        if not bundle or not Path(bundle).is_file():
            self.status.setText("Export a bundle first (Bundle file is empty or missing)")
            return None
        from PySide6.QtCore import QProcess

        program, args = desktop_command(bundle)
        ok, pid = QProcess.startDetached(program, args)
        if not ok:
            self.status.setText(f"could not start the desktop app ({program})")
            return None
        self.status.setText(f"desktop app started with {Path(bundle).name}")
        return int(pid)

    def apply_stage1_preset(self, label: str) -> None:
        from ..jobs import preset_by_label, stage1_presets

        cfg = stage1_presets()[preset_by_label(label)]["config"]
        for widget, key in ((self.s1_epochs, "epochs"), (self.s1_batch, "batch_size"),
                            (self.s1_lr, "lr"), (self.s1_hidden, "hidden"),
                            (self.s1_dec_hidden, "decoder_hidden"),
                            (self.s1_layers, "decoder_layers")):
            widget.setValue(cfg[key])

    def _replay_curve(self, run: Path, plot: LossPlot, stage: str) -> None:
        """A resumed run's curve starts with the points it already has (from its JSON log)."""
        log_file = run / "train_log.jsonl"
        if not log_file.is_file():
            return
        for line in log_file.read_text(encoding="utf-8").splitlines():
            try:
                e = json.loads(line)
            except ValueError:
                continue  # a line cut by a kill
            if e.get("stage") != stage:
                continue
            if e.get("event") == "step":
                plot.add("train", e["step"], float(e.get("loss", e.get("mel_l1", 0.0))))
            elif e.get("event") == "val":
                value = e.get("val_loss", e.get("val_mel_l1"))
                if value is not None:
                    plot.add("val", e["step"], float(value))

    def _done(self) -> None:
        self.running, self._on_done = None, None
        self._set_busy(False)

    def _on_finished(self, name: str, result: Any) -> None:
        self.last_result = result
        on_done = self._on_done
        self._done()
        self.progress.setValue(100)
        if on_done is not None:
            on_done(result)
        else:
            self.status.setText(f"{name}: done ({result})")
        self.jobEnded.emit(name, "finished")

    def _on_stopped(self, name: str, message: str) -> None:
        self._done()
        self.status.setText(f"{name}: {message}")
        self.jobEnded.emit(name, "stopped")

    def _on_failed(self, name: str, message: str) -> None:
        self._done()
        self.progress.setFormat("failed at %p%")  # where it stopped, never a false 100 %
        self.status.setText(f"{name} failed: {message}")
        self.log_view.appendPlainText(f"ERROR {name}: {message}")
        self.jobEnded.emit(name, "failed")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.worker.stop_event.set()
        self.settings.sync()
        self.thread.quit()
        self.thread.wait(60_000)
        super().closeEvent(event)
