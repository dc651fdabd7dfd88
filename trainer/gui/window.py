"""The trainer window: the Your music tab (``own_music_tab``) and the paper's four tabs
(``paper_tabs``: ArtEmis dataset, Stage 1, Stage 2, Export & evaluate) over one job runner,
with a progress bar, live loss curves, and a log of the structured events. The window keeps
the jobs: each ``start_*`` reads its tab's fields and runs in the worker thread."""
from __future__ import annotations

import json
import logging
import threading
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

from .paper_tabs import DETAIL_TIP
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


class TrainerWindow(QMainWindow):
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
    def _start(self, name: str, job) -> bool:
        if self.running:
            return False
        self.running = name
        self.worker.stop_event.clear()
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

    def start_build(self) -> bool:
        from ..data.builder import BuildConfig, build_articaps

        f = {"ArtEmis CSV": self.artemis.text(), "Images": self.images.text(),
             "MusicCaps CSV": self.musiccaps.text(), "Audio folder": self.audio.text(),
             "Dataset folder": self.dataset_out.text()}
        if not self._need(**f):
            return False
        encoder, state = None, None
        if self.clip_bundle.text():
            from a2m_core.bundle import load_bundle

            try:
                bundle = load_bundle(self.clip_bundle.text())
            except Exception as err:  # noqa: BLE001
                self.status.setText(f"Encoder bundle: {err}")
                return False
            encoder = bundle.config.encoder
            state = bundle.part("encoder") if encoder.weights_in_bundle else None
        cfg = BuildConfig(artemis=Path(f["ArtEmis CSV"]), images=Path(f["Images"]),
                          musiccaps=Path(f["MusicCaps CSV"]), audio=Path(f["Audio folder"]),
                          out=Path(f["Dataset folder"]), encoder=encoder, encoder_state=state)

        def job(emit, stop: threading.Event):
            result = build_articaps(cfg, stop=stop, progress=lambda stage, d, t: emit(
                {"event": "progress", "stage": stage, "done": d, "total": t}))
            return result

        return self._start("build", job)

    def start_stage1(self) -> bool:
        from ..jobs import preset_by_label, stage1_config
        from ..train.stage1 import train_stage1

        if not self._need(**{"Dataset folder": self.s1_dataset.text(),
                             "Run folder": self.s1_out.text()}):
            return False
        cfg = stage1_config(preset_by_label(self.s1_preset.currentText()),
                            epochs=self.s1_epochs.value(), batch_size=self.s1_batch.value(),
                            lr=self.s1_lr.value(), hidden=self.s1_hidden.value(),
                            decoder_hidden=self.s1_dec_hidden.value(),
                            decoder_layers=self.s1_layers.value(), log_every=1,
                            device=self.s1_device.currentText())
        dataset, out = self.s1_dataset.text(), self.s1_out.text()
        self.s1_plot.reset()
        self._replay_curve(Path(out), self.s1_plot, "stage1")
        return self._start("stage1", lambda emit, stop: train_stage1(dataset, out, cfg, emit,
                                                                     stop))

    def start_detail(self) -> bool:
        from ..starter import StarterConfig, detail_recipe
        from ..train.detail import train_detail

        if not self._need(**{"Dataset folder": self.s1_dataset.text(),
                             "Run folder": self.s1_out.text()}):
            return False
        cfg = detail_recipe(StarterConfig(), steps=self.detail_steps.value(), log_every=5,
                            device=self.s1_device.currentText())
        dataset, run = self.s1_dataset.text(), Path(self.s1_out.text())
        self.detail_plot.reset()
        self._replay_curve(run / "detail", self.detail_plot, "detail")
        return self._start("detail", lambda emit, stop: train_detail(
            dataset, run, run / "detail", cfg, emit, stop))

    def start_stage2(self) -> bool:
        from ..train.stage2 import Stage2Config, train_stage2

        if not self._need(**{"Dataset folder": self.s2_dataset.text(),
                             "Run folder": self.s2_out.text()}):
            return False
        self.settings.setValue("s2_preset", self.s2_preset.text())
        cfg = Stage2Config(hifigan=self.s2_preset.text() or "v1",
                           stage1=self.s2_stage1.text() or None,
                           max_steps=self.s2_steps.value(), batch_size=self.s2_batch.value(),
                           log_every=1)
        dataset, out = self.s2_dataset.text(), self.s2_out.text()
        self.s2_plot.reset()
        self._replay_curve(Path(out), self.s2_plot, "stage2")
        return self._start("stage2", lambda emit, stop: train_stage2(dataset, out, cfg, emit,
                                                                     stop))

    def start_export(self) -> bool:
        from ..jobs import export

        if not self._need(**{"Stage-1 best.pt": self.ex_stage1.text(),
                             "Bundle file": self.ex_bundle.text()}):
            return False
        stage1, gen, out = self.ex_stage1.text(), self.ex_generator.text() or None, \
            self.ex_bundle.text()
        packaged = self.ex_hifigan.isChecked()
        return self._start("export", lambda emit, stop: export(
            stage1, out, gen, packaged_hifigan=packaged, name=Path(out).stem))

    def start_evaluate(self) -> bool:
        from ..evaluate.table4 import evaluate_table4

        if not self._need(**{"Bundle file": self.ex_bundle.text(),
                             "Dataset": self.ev_dataset.text()}):
            return False
        bundle, dataset = self.ex_bundle.text(), self.ev_dataset.text()
        out = Path(bundle).with_name(Path(bundle).stem + "-eval")
        self.report.setSearchPaths([str(out)])  # the report's pictures live beside it
        rater = None
        if self.rate_endpoint.text().strip():
            from ..evaluate.rating import Rater, RaterConfig, RatingError

            if not self.rate_model.text().strip():
                self.status.setText("LLM rating: give the model name (or clear the endpoint)")
                return False
            try:
                rater = Rater(RaterConfig(provider=self.rate_provider.currentText(),
                                          model=self.rate_model.text().strip(),
                                          endpoint=self.rate_endpoint.text().strip(),
                                          api_key_env=self.rate_key_env.text().strip() or None))
            except RatingError as err:
                self.status.setText(f"LLM rating: {err}")
                return False

        def job(emit, stop):
            def progress(st, d, t):
                emit({"event": "progress", "stage": st, "done": d, "total": t})

            result = evaluate_table4(bundle, dataset, out=out, progress=progress)
            if rater is not None and not stop.is_set():
                from ..evaluate.rating import rate_batch, read_items

                items = rate_batch(rater, read_items(out), progress=progress)
                result["ratings"] = [i.row() for i in items]
            return result

        return self._start("evaluate", job)

    def stop(self) -> None:
        if self.running:
            self.worker.stop_event.set()
            self.status.setText(f"{self.running}: stopping at the next safe point…")

    # ------------------------------------------------------------------ events
    def _on_event(self, e: dict) -> None:
        kind = e.get("event")
        if kind == "finetune":
            if e.get("total"):
                self.progress.setValue(round(100 * e["done"] / max(1, int(e["total"]))))
            self.status.setText(self.own_tab.on_finetune(e))
            return
        if kind == "progress":
            total = max(1, int(e["total"]))
            self.progress.setValue(round(100 * e["done"] / total))
            self.status.setText(f"{e['stage']}: {e['done']}/{e['total']}")
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

    def use_example_data(self) -> None:
        """Fill the guided flow with the example music and paintings in the repository."""
        from ..own_music import EXAMPLE_MUSIC, EXAMPLES

        self.own_music.set(EXAMPLE_MUSIC)
        self.own_paintings.set(EXAMPLES)
        if not self.own_work.text():
            self.own_work.set(Path.home() / "Art2Music" / "example-model")
        self.own_licence.setText("CC0 renderings of public-domain music (examples/own-music)")
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

        return self._start("own-dataset", job)

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

    def show_dataset_report(self, result: Any) -> None:
        """After a build: what was skipped and why, and the feeling-consistency report."""
        lines = [f"## Dataset: {result.pairs} pairs, {result.clips} clips, "
                 f"{result.paintings} paintings", ""]
        if result.skipped:
            lines += ["Skipped rows (reasons; every row is listed in skipped.csv):", ""]
            lines += [f"- {reason}: {count}" for reason, count in sorted(
                result.skipped.items(), key=lambda kv: -kv[1])]
            lines.append("")
        report = Path(result.out) / "report" / "report.md"
        if report.is_file():
            lines.append(report.read_text(encoding="utf-8"))
        self.report.setMarkdown("\n".join(lines))
        self.tabs.setCurrentIndex(self.tabs.count() - 1)

    def _done(self) -> None:
        self.running = None
        self._set_busy(False)

    def _on_finished(self, name: str, result: Any) -> None:
        self.last_result = result
        self._done()
        self.progress.setValue(100)
        if name == "evaluate":
            from ..evaluate.rating import ratings_markdown
            from ..evaluate.table4 import render_markdown

            self.report.setMarkdown(render_markdown(result)
                                    + ratings_markdown(result.get("ratings", [])))
            self.status.setText("evaluate: done")
        elif name == "own-dataset":
            self._after_own_dataset(Path(result))
        elif name == "own-notes":
            self.ex_bundle.set(result["bundle"])
            corpus = Path(result["bundle"]).parent / "notes-corpus"
            self.report.setSearchPaths([str(corpus)])
            self.report.setMarkdown(self.own_tab.report_markdown(result))
            verdict = result.get("verdict", {}).get("sentence", "")
            self.status.setText(f"your model is ready. {verdict}")
            self.tabs.setCurrentIndex(self.tabs.count() - 1)
        elif name == "build":
            self.status.setText(f"build: {result.pairs} pairs, {result.clips} clips, splits "
                                f"{result.split_sizes}")
            self.show_dataset_report(result)
            for field in (self.s1_dataset, self.s2_dataset, self.ev_dataset):
                if not field.text():
                    field.set(result.out)
        else:
            self.status.setText(f"{name}: done ({result})")
            if name == "stage1":
                self.ex_stage1.set(result)
                if not self.s2_stage1.text():
                    self.s2_stage1.set(result)
            elif name == "detail":
                self.ex_stage1.set(result)  # the stage-1 weights with the flow
            elif name == "stage2":
                self.ex_generator.set(result)
        self.jobEnded.emit(name, "finished")

    def _on_stopped(self, name: str, message: str) -> None:
        self._done()
        self.status.setText(f"{name}: {message}")
        self.jobEnded.emit(name, "stopped")

    def _on_failed(self, name: str, message: str) -> None:
        self._done()
        self.status.setText(f"{name} failed: {message}")
        self.log_view.appendPlainText(f"ERROR {name}: {message}")
        self.jobEnded.emit(name, "failed")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.worker.stop_event.set()
        self.settings.sync()
        self.thread.quit()
        self.thread.wait(60_000)
        super().closeEvent(event)
