"""The trainer window: four tabs (Dataset, Stage 1, Stage 2, Export & evaluate) over one job
runner, a progress bar, live loss curves, and a log of the structured events."""
from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QSettings, QThread, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from .worker import JobWorker

log = logging.getLogger(__name__)


class PathField(QWidget):
    """A line edit with a Browse… button; remembers its value in the settings."""

    def __init__(self, key: str, settings: QSettings, folder: bool, save: bool = False,
                 filter_: str = "") -> None:
        super().__init__()
        self.key, self.settings, self.folder, self.save, self.filter = (key, settings, folder,
                                                                        save, filter_)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit(str(settings.value(key, "") or ""))
        self.edit.textChanged.connect(lambda t: settings.setValue(key, t))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        layout.addWidget(self.edit, 1)
        layout.addWidget(browse)

    def _browse(self) -> None:
        if self.folder:
            path = QFileDialog.getExistingDirectory(self, "Choose folder", self.text())
        elif self.save:
            path, _ = QFileDialog.getSaveFileName(self, "Save as", self.text(), self.filter)
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Choose file", self.text(), self.filter)
        if path:
            self.edit.setText(path)

    def text(self) -> str:
        return self.edit.text().strip()

    def set(self, value: str | Path) -> None:
        self.edit.setText(str(value))


def _spin(value: int, lo: int, hi: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setValue(value)
    return box


# Stage-1 sizes per preset: (epochs, batch, lr, projector hidden, LSTM hidden, LSTM layers),
# and the config fields that go with them.
STAGE1_PRESETS: dict[str, dict[str, Any]] = {
    "CPU quick": {"sizes": (20, 16, 1e-3, 256, 256, 2),
                  "fixed": {"frames_per_step": 8, "latent_dim": 16, "keep": "last"}},
    "Paper (GPU)": {"sizes": (10, 32, 1e-4, 512, 512, 4), "fixed": {}},
}


def desktop_command(bundle: str) -> tuple[str, list[str]]:
    """How to start the desktop app on ``bundle``: the frozen program beside this one in a
    PyInstaller build, else this Python running the app's module. Never an import: the
    trainer and the app stay separate processes."""
    import sys

    if getattr(sys, "frozen", False):
        return str(Path(sys.executable).with_name("a2m-desktop")), ["--bundle", bundle]
    return sys.executable, ["-m", "a2m_desktop.app", "--bundle", bundle]


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


DETAIL_TIP = ("A flow that samples the note-scale detail (onsets, pitch lines) the decoder's "
              "L1 fit averages away, guided by the painting and comment, trained on the "
              "finished Stage 1 run. Export then uses its best.pt (in the run folder's "
              "detail/)")


def describe_event(e: dict) -> str:
    """One trainer event as a line a person reads (the JSON stays in the run's log file)."""
    kind, stage = e.get("event"), e.get("stage", "")
    if kind == "step":
        loss = e.get("loss", e.get("mel_l1"))
        eta = f", about {e['eta_s'] / 60:.0f} min left" if e.get("eta_s") else ""
        return f"{stage} step {e['step']}/{e.get('total_steps', '?')}: loss {loss:.4f}{eta}"
    if kind == "val":
        value = e.get("val_loss", e.get("val_mel_l1"))
        best = " (best so far)" if e.get("improved") else ""
        return f"{stage} epoch {e.get('epoch', '?')}: validation loss {value:.4f}{best}"
    if kind == "resumed":
        where = ", ".join(f"{k} {e[k]}" for k in ("epoch", "step") if e.get(k) is not None)
        return f"{stage} resumed from its checkpoint" + (f" at {where}" if where else "")
    if kind == "renditions":
        return (f"{stage}: stage 1's renditions of {e.get('pairs')} training pairs made in "
                f"{e.get('seconds')} s (the flow learns the detail they lack)")
    rest = ", ".join(f"{k.replace('_', ' ')} {_number(v)}" for k, v in e.items()
                     if k not in ("event", "stage", "time"))
    return f"{stage} {kind}" + (f": {rest}" if rest else "")


def _number(value: Any) -> str:
    """A figure as a person reads it: 0.9784 rather than 0.9784080982208252."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class LossPlot(pg.PlotWidget):
    """Training loss per logged step, validation loss per evaluation, redrawn as events come."""

    def __init__(self, title: str) -> None:
        super().__init__(title=title)
        self.setMinimumHeight(200)
        self.addLegend()
        self.setLabel("bottom", "step")
        self.train = self.plot([], [], pen=pg.mkPen("#4c72b0", width=2), name="train")
        self.val = self.plot([], [], pen=pg.mkPen("#dd8452", width=2), symbol="o",
                             symbolSize=6, name="validation")
        self.points: dict[str, tuple[list[float], list[float]]] = {"train": ([], []),
                                                                   "val": ([], [])}

    def add(self, series: str, step: float, value: float) -> None:
        xs, ys = self.points[series]
        xs.append(step)
        ys.append(value)
        (self.train if series == "train" else self.val).setData(xs, ys)

    def reset(self) -> None:
        for series in self.points:
            self.points[series] = ([], [])
        self.train.setData([], [])
        self.val.setData([], [])


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
        s = self.settings
        central = QWidget()
        self.setCentralWidget(central)
        outer = QVBoxLayout(central)
        self.tabs = QTabWidget()
        outer.addWidget(self.tabs, 1)

        # Your music: the guided flow
        tab = QWidget()
        lay = QVBoxLayout(tab)
        guide = QLabel(
            "<b>Train on your own music</b><br>1. Pick a folder of recordings and a folder of "
            "paintings (3 or more of each), or press <i>Example data</i>.<br>2. <i>Make the "
            "dataset</i>: each recording is cut into 10-second windows and described from "
            "what is measured in it; paintings and windows are paired by feeling.<br>3. "
            "<i>Stage 1</i> tab: the <i>CPU quick</i> preset trains in minutes.<br>4. "
            "<i>Export &amp; evaluate</i> tab: export, evaluate, then <i>Open in desktop "
            "app</i>.")
        guide.setWordWrap(True)
        lay.addWidget(guide)
        form = QFormLayout()
        self.own_music = PathField("own_music", s, folder=True)
        self.own_paintings = PathField("own_paintings", s, folder=True)
        self.own_work = PathField("own_work", s, folder=True)
        self.own_licence = QLineEdit(str(s.value("own_licence", "mine; for training only")))
        for field, tip in (
                (self.own_music, "Recordings (.wav .flac .ogg .mp3 ...), searched in "
                                 "subfolders too; each is cut into 10.4 s windows"),
                (self.own_paintings, "Images of the paintings (.jpg .png .webp .tif); each "
                                     "is used whole and as crops"),
                (self.own_work, "Where the corpus, the crops and the dataset are written "
                                "(a stopped run continues)"),
                (self.own_licence, "Recorded with every window in licences.csv and in the "
                                   "bundle's provenance")):
            field.setToolTip(tip)
        for label, w in (("Music folder", self.own_music), ("Paintings folder",
                         self.own_paintings), ("Work folder", self.own_work),
                         ("Licence of the music", self.own_licence)):
            form.addRow(label, w)
        lay.addLayout(form)
        row = QHBoxLayout()
        self.example_btn = QPushButton("Example data")
        self.example_btn.setToolTip("Six short pieces and four public-domain paintings that "
                                    "ship with Art2Music: the whole flow in minutes")
        self.example_btn.clicked.connect(self.use_example_data)
        self.own_btn = QPushButton("Make the dataset")
        self.own_btn.clicked.connect(self.start_own_dataset)
        row.addWidget(self.example_btn)
        row.addWidget(self.own_btn)
        lay.addLayout(row)
        lay.addStretch(1)
        self.tabs.addTab(tab, "Your music")

        # Dataset (ArtEmis + MusicCaps)
        tab = QWidget()
        form = QFormLayout(tab)
        self.artemis = PathField("artemis", s, folder=False, filter_="CSV (*.csv)")
        self.images = PathField("images", s, folder=True)
        self.musiccaps = PathField("musiccaps", s, folder=False, filter_="CSV (*.csv)")
        self.audio = PathField("audio", s, folder=True)
        self.dataset_out = PathField("dataset_out", s, folder=True)
        self.clip_bundle = PathField("clip_bundle", s, folder=False,
                                     filter_="Bundles (*.safetensors)")
        if not self.clip_bundle.text():
            # Training needs stored embeddings; the built-in model's encoders are the ones
            # that install offline, so they are the sensible default.
            from a2m_core.defaults import STARTER

            if STARTER.is_file():
                self.clip_bundle.set(STARTER)
        for field, tip in (
                (self.artemis, "ArtEmis-format CSV: art_style, painting, emotion, utterance"),
                (self.images, "Folder of paintings in WikiArt layout: <style>/<painting>.jpg"),
                (self.musiccaps, "MusicCaps-format CSV (ytid, start_s, end_s, caption, "
                                 "aspect_list); `a2m-train corpus` writes one for your music"),
                (self.audio, "Folder of the clips the MusicCaps CSV names (<ytid>.wav/.ogg/"
                             ".flac/.mp3)"),
                (self.dataset_out, "Where the dataset is written; a stopped build resumes"),
                (self.clip_bundle, "Embed paintings and texts with this bundle's encoders "
                                   "(training needs them). Default: the built-in model's")):
            field.setToolTip(tip)
        for label, field in (("ArtEmis CSV", self.artemis), ("Images (WikiArt layout)",
                             self.images), ("MusicCaps CSV", self.musiccaps),
                             ("Audio folder", self.audio), ("Dataset folder", self.dataset_out),
                             ("Encoder from bundle", self.clip_bundle)):
            form.addRow(label, field)
        guide = QLabel(
            "The paper's dataset, ArtiCaps: ArtEmis's paintings and viewers' comments, each "
            "paired with the MusicCaps music clip whose caption feels closest. You need the "
            "ArtEmis CSV and its WikiArt images, a MusicCaps-format CSV and its audio "
            "(`a2m-train corpus` makes one from music that installs from the registries). "
            "\"Encoder from bundle\": the image and text encoders that embed every painting "
            "and comment for training; the built-in model's work offline, the paper's "
            "(ViT-H-14) needs its 3.9 GB weights. For your own recordings, use the Your music "
            "tab instead.")
        guide.setWordWrap(True)
        form.insertRow(0, guide)
        self.build_btn = QPushButton("Build dataset")
        self.build_btn.clicked.connect(self.start_build)
        form.addRow(self.build_btn)
        self.tabs.addTab(tab, "ArtEmis dataset")

        # Stage 1
        tab = QWidget()
        lay = QVBoxLayout(tab)
        form = QFormLayout()
        self.s1_dataset = PathField("s1_dataset", s, folder=True)
        self.s1_out = PathField("s1_out", s, folder=True)
        self.s1_epochs = _spin(10, 1, 10_000)
        self.s1_batch = _spin(32, 1, 4096)
        self.s1_lr = QDoubleSpinBox()
        self.s1_lr.setDecimals(6)
        self.s1_lr.setRange(1e-6, 1.0)
        self.s1_lr.setValue(1e-4)
        self.s1_hidden = _spin(512, 4, 4096)
        self.s1_dec_hidden = _spin(512, 4, 4096)
        self.s1_layers = _spin(4, 1, 8)
        self.s1_preset = QComboBox()
        self.s1_preset.addItems(list(STAGE1_PRESETS))
        self.s1_preset.setToolTip("CPU quick: the starter's sizes, minutes on a laptop. Paper: "
                                  "the published sizes (LSTM 4x512, batch 32), for a GPU")
        self.s1_preset.currentTextChanged.connect(self.apply_stage1_preset)
        self.s1_device = QComboBox()
        self.s1_device.addItems(["auto", "cpu"] + (["cuda"] if _cuda() else []))
        self.s1_device.setToolTip("Where training runs (auto: a GPU when there is one)")
        for w, tip in ((self.s1_dataset, "A dataset built in the Dataset tab"),
                       (self.s1_out, "Checkpoints and the JSON log go here; Start again "
                                     "resumes from its last.pt"),
                       (self.s1_epochs, "Passes over the training pairs"),
                       (self.s1_batch, "Pairs per step"), (self.s1_lr, "Adam learning rate"),
                       (self.s1_hidden, "Fused vector size (projector output)"),
                       (self.s1_dec_hidden, "LSTM units per direction"),
                       (self.s1_layers, "Stacked BiLSTM layers")):
            w.setToolTip(tip)
        form.addRow("Preset", self.s1_preset)
        form.addRow("Device", self.s1_device)
        for label, w in (("Dataset folder", self.s1_dataset), ("Run folder", self.s1_out),
                         ("Epochs", self.s1_epochs), ("Batch size", self.s1_batch),
                         ("Learning rate", self.s1_lr), ("Projector hidden", self.s1_hidden),
                         ("LSTM hidden", self.s1_dec_hidden), ("LSTM layers", self.s1_layers)):
            form.addRow(label, w)
        lay.addLayout(form)
        self.s1_btn = QPushButton("Start stage 1")
        self.s1_btn.clicked.connect(self.start_stage1)
        lay.addWidget(self.s1_btn)
        self.s1_plot = LossPlot("Stage 1: frequency-weighted L1")
        lay.addWidget(self.s1_plot, 1)
        # Stage 1b: the detail flow on the finished run (decoders with a latent)
        row = QHBoxLayout()
        self.detail_steps = _spin(6000, 1, 1_000_000)
        self.detail_steps.setToolTip("Optimiser steps of the detail flow (the starter: 6,000, "
                                     "about 11 minutes on 2 CPU cores)")
        self.detail_btn = QPushButton("Train the detail flow on this run")
        self.detail_btn.setToolTip(DETAIL_TIP)
        self.detail_btn.clicked.connect(self.start_detail)
        row.addWidget(QLabel("Detail flow steps"))
        row.addWidget(self.detail_steps)
        row.addWidget(self.detail_btn, 1)
        lay.addLayout(row)
        self.detail_plot = LossPlot("Detail flow: flow-matching loss")
        lay.addWidget(self.detail_plot, 1)
        self.tabs.addTab(tab, "Stage 1")

        # Stage 2
        tab = QWidget()
        lay = QVBoxLayout(tab)
        form = QFormLayout()
        self.s2_dataset = PathField("s2_dataset", s, folder=True)
        self.s2_out = PathField("s2_out", s, folder=True)
        self.s2_stage1 = PathField("s2_stage1", s, folder=False, filter_="best.pt (*.pt)")
        self.s2_preset = QLineEdit(str(s.value("s2_preset", "v1")))
        self.s2_steps = _spin(10_000, 1, 10_000_000)
        self.s2_batch = _spin(16, 1, 1024)
        for label, w in (("Dataset folder", self.s2_dataset), ("Run folder", self.s2_out),
                         ("Stage-1 best.pt (optional)", self.s2_stage1),
                         ("HiFi-GAN (v1/v2/v3/config)", self.s2_preset),
                         ("Steps", self.s2_steps), ("Batch size", self.s2_batch)):
            form.addRow(label, w)
        lay.addLayout(form)
        self.s2_btn = QPushButton("Start stage 2")
        self.s2_btn.clicked.connect(self.start_stage2)
        lay.addWidget(self.s2_btn)
        self.s2_plot = LossPlot("Stage 2: mel L1 (train) / validation mel L1")
        lay.addWidget(self.s2_plot, 1)
        self.tabs.addTab(tab, "Stage 2")

        # Export & evaluate
        tab = QWidget()
        lay = QVBoxLayout(tab)
        form = QFormLayout()
        self.ex_stage1 = PathField("ex_stage1", s, folder=False, filter_="best.pt (*.pt)")
        self.ex_generator = PathField("ex_generator", s, folder=False)
        self.ex_bundle = PathField("ex_bundle", s, folder=False, save=True,
                                   filter_="Bundles (*.safetensors)")
        self.ev_dataset = PathField("ev_dataset", s, folder=True)
        self.ex_hifigan = QCheckBox("No stage-2 generator: use the official HiFi-GAN V1 "
                                    "universal (packaged)")
        self.ex_hifigan.setToolTip("Off: the Griffin-Lim fallback (fast, phasey)")
        self.ex_hifigan.setChecked(True)
        self.ex_generator_label = QLabel()
        self.ex_hifigan.toggled.connect(self._name_generator_field)
        self._name_generator_field(self.ex_hifigan.isChecked())
        for label, w in (("Stage-1 best.pt", self.ex_stage1),
                         (self.ex_generator_label, self.ex_generator),
                         ("Bundle file", self.ex_bundle), ("Dataset to evaluate on",
                                                            self.ev_dataset)):
            form.addRow(label, w)
        form.addRow("", self.ex_hifigan)
        # The paper's LLM feeling rating of the full-input clips, when a rater is configured.
        self.rate_endpoint = QLineEdit(str(s.value("rate_endpoint", "") or ""))
        self.rate_endpoint.setPlaceholderText("empty: no LLM rating; e.g. "
                                              "http://127.0.0.1:8000/v1")
        self.rate_endpoint.setToolTip("An OpenAI-compatible chat-completions server (or "
                                      "Gemini's API): it rates how well each clip's feeling "
                                      "matches its painting and comment, 0-10")
        self.rate_provider = QComboBox()
        self.rate_provider.addItems(["openai", "gemini"])
        self.rate_provider.setCurrentText(str(s.value("rate_provider", "openai")))
        self.rate_model = QLineEdit(str(s.value("rate_model", "") or ""))
        self.rate_model.setPlaceholderText("e.g. gpt-4o-audio-preview")
        self.rate_key_env = QLineEdit(str(s.value("rate_key_env", "") or ""))
        self.rate_key_env.setPlaceholderText("OPENAI_API_KEY / GEMINI_API_KEY")
        self.rate_key_env.setToolTip("The environment variable holding the API key (the key "
                                     "itself is never typed here, saved or logged)")
        for w, key in ((self.rate_endpoint, "rate_endpoint"), (self.rate_model, "rate_model"),
                       (self.rate_key_env, "rate_key_env")):
            w.textChanged.connect(lambda t, k=key: s.setValue(k, t))
        self.rate_provider.currentTextChanged.connect(lambda t: s.setValue("rate_provider", t))
        rate_row = QHBoxLayout()
        for w in (self.rate_provider, self.rate_endpoint, self.rate_model, self.rate_key_env):
            rate_row.addWidget(w, 2 if w is self.rate_endpoint else 1)
        form.addRow("LLM feeling rating", rate_row)
        lay.addLayout(form)
        row = QHBoxLayout()
        self.export_btn = QPushButton("Export bundle")
        self.export_btn.clicked.connect(self.start_export)
        self.eval_btn = QPushButton("Evaluate (Table IV)")
        self.eval_btn.clicked.connect(self.start_evaluate)
        row.addWidget(self.export_btn)
        row.addWidget(self.eval_btn)
        self.open_app_btn = QPushButton("Open in desktop app")
        self.open_app_btn.setToolTip("Start the Art2Music desktop app with this bundle (a "
                                     "separate program: closing one leaves the other)")
        self.open_app_btn.clicked.connect(self.open_in_desktop)
        row.addWidget(self.open_app_btn)
        lay.addLayout(row)
        self.report = QTextBrowser()
        lay.addWidget(self.report, 1)
        self.tabs.addTab(tab, "Export && evaluate")  # "&&": a lone & is a Qt mnemonic

        bottom = QHBoxLayout()
        self.progress = QProgressBar()
        self.status = QLabel("Idle")
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
        for b in (self.own_btn, self.build_btn, self.s1_btn, self.detail_btn, self.s2_btn,
                  self.export_btn, self.eval_btn):
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
        from ..train.stage1 import Stage1Config, train_stage1

        if not self._need(**{"Dataset folder": self.s1_dataset.text(),
                             "Run folder": self.s1_out.text()}):
            return False
        cfg = Stage1Config(epochs=self.s1_epochs.value(), batch_size=self.s1_batch.value(),
                           lr=self.s1_lr.value(), hidden=self.s1_hidden.value(),
                           decoder_hidden=self.s1_dec_hidden.value(),
                           decoder_layers=self.s1_layers.value(), log_every=1,
                           device=self.s1_device.currentText(),
                           **STAGE1_PRESETS[self.s1_preset.currentText()]["fixed"])
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
        from ..export import export_bundle

        if not self._need(**{"Stage-1 best.pt": self.ex_stage1.text(),
                             "Bundle file": self.ex_bundle.text()}):
            return False
        stage1, gen, out = self.ex_stage1.text(), self.ex_generator.text() or None, \
            self.ex_bundle.text()
        packaged = None
        if gen is None and self.ex_hifigan.isChecked():
            from a2m_core.packaged import HIFIGAN_UNIVERSAL_V1

            packaged = HIFIGAN_UNIVERSAL_V1
        return self._start("export", lambda emit, stop: export_bundle(
            stage1, out, gen, name=Path(out).stem, packaged_vocoder=packaged))

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
        self.status.setText("Example data: 6 pieces, 4 paintings. Press Make the dataset.")

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

    def apply_stage1_preset(self, name: str) -> None:
        for widget, value in zip((self.s1_epochs, self.s1_batch, self.s1_lr, self.s1_hidden,
                                  self.s1_dec_hidden, self.s1_layers),
                                 STAGE1_PRESETS[name]["sizes"]):
            widget.setValue(value)

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
