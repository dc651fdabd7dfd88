"""The main window's layout: the model row, the error banner, painting | comment, hints, seed,
Generate and plan | history, the mel view and the playback row. It builds the widgets, keeps
them on the window and wires them to the window's methods; the behaviour stays in
``main_window.py``."""
from __future__ import annotations

from collections.abc import Callable

import torch
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMainWindow,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from a2m_core.prompt import hint_suggestions

from .plan_panel import PlanPanel
from .widgets import DropZone, MelView

NO_SEED = -1  # the seed box's "deterministic"


class HintCompleter(QCompleter):
    """Completes the hint being typed after the last ';' (AudioSet music labels, then
    frequent MusicCaps caption keywords)."""

    def __init__(self, words: list[str], parent: QWidget) -> None:
        super().__init__(words, parent)
        self.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterMode(Qt.MatchFlag.MatchContains)

    def splitPath(self, path: str) -> list[str]:  # noqa: N802 - Qt naming
        return [path.split(";")[-1].strip()]

    def pathFromIndex(self, index) -> str:  # noqa: N802
        text = self.widget().text()
        head = text.rsplit(";", 1)[0] + "; " if ";" in text else ""
        return head + super().pathFromIndex(index)


def button(text: str, slot: Callable[[], object], tip: str = "") -> QPushButton:
    """A push button wired to ``slot``, with ``tip`` as its tooltip."""
    b = QPushButton(text)
    b.clicked.connect(slot)
    if tip:
        b.setToolTip(tip)
    return b


def build(w: QMainWindow) -> None:
    """Build the widgets of ``w`` (a ``main_window.MainWindow``: it is not imported here, so
    the window stays the one module that imports this one), each kept as ``w.<name>``."""
    central = QWidget()
    w.setCentralWidget(central)
    outer = QVBoxLayout(central)

    model_row = QHBoxLayout()
    w.model_label = QLabel("Loading model…")
    w.model_label.setWordWrap(True)  # a long model note wraps rather than widen the window
    w.model_label.setMinimumWidth(120)
    w._model_text = ""  # the line for the loaded model (without "(kept)")
    w.model_combo = QComboBox()
    w.model_combo.setToolTip("Which model generates: the built-in starter, models "
                             "fetched in Models…, or a bundle file you opened")
    w.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    w.model_combo.activated.connect(w._on_model_chosen)
    w.models_btn = button("Models…", w.open_models_dialog,
                          "Fetch the paper's model and others, set the default, remove")
    w.open_bundle_btn = button("Open bundle…", w._choose_bundle)
    w.device_combo = QComboBox()
    w.device_combo.addItems(["auto", "cpu"] + (["cuda"] if torch.cuda.is_available()
                                               else []))
    w.device_combo.setToolTip("Where the model runs (CUDA appears when a GPU is found)")
    w.device_combo.activated.connect(lambda _i: w.load_model(w.current_model))
    model_row.addWidget(QLabel("Model:"))
    model_row.addWidget(w.model_combo)
    model_row.addWidget(w.model_label, 1)
    model_row.addWidget(QLabel("Device:"))
    model_row.addWidget(w.device_combo)
    model_row.addWidget(w.models_btn)
    model_row.addWidget(w.open_bundle_btn)
    outer.addLayout(model_row)

    w.error_banner = QLabel()
    w.error_banner.setWordWrap(True)
    w.error_banner.setStyleSheet("QLabel { background: #fde2e1; color: #8a1c1c; "
                                 "padding: 6px; border-radius: 4px; }")
    w.error_banner.hide()
    # Keep the banner's room when it hides, so the controls never jump up and down.
    policy = w.error_banner.sizePolicy()
    policy.setRetainSizeWhenHidden(True)
    w.error_banner.setSizePolicy(policy)
    outer.addWidget(w.error_banner)

    splitter = QSplitter(Qt.Orientation.Horizontal)
    outer.addWidget(splitter, 1)

    left = QWidget()
    left_l = QVBoxLayout(left)
    w.drop_zone = DropZone()
    w.drop_zone.fileDropped.connect(w.open_painting)
    open_btn = button("Open painting…", w._choose_painting)
    left_l.addWidget(w.drop_zone, 1)
    left_l.addWidget(open_btn)
    splitter.addWidget(left)

    mid = QWidget()
    grid = QGridLayout(mid)
    grid.addWidget(QLabel("Your comment"), 0, 0, 1, 3)
    w.comment = QPlainTextEdit()
    w.comment.textChanged.connect(w._on_comment_changed)
    w.comment.setPlaceholderText("What does the painting make you feel? e.g. “The swirling "
                                 "sky feels alive and restless” (optional: without words, "
                                 "the painting alone sets the feeling)")
    grid.addWidget(w.comment, 1, 0, 1, 3)
    grid.addWidget(QLabel("Music hints"), 2, 0)
    w.hints = QLineEdit()
    w.hints.setPlaceholderText("optional, ';'-separated: Orchestra; dreamy strings")
    w.hints.setCompleter(HintCompleter(hint_suggestions(), w.hints))
    grid.addWidget(w.hints, 2, 1, 1, 2)
    grid.addWidget(QLabel("Seed"), 3, 0)
    w.seed = QSpinBox()
    w.seed.setRange(NO_SEED, 2**31 - 1)
    w.seed.setSpecialValueText("deterministic")
    w.seed.setValue(NO_SEED)
    w.seed.setToolTip("Same seed, same clip. 'deterministic' is the model's own output.")
    grid.addWidget(w.seed, 3, 1)
    w.variation_btn = button("New variation", w.new_variation)
    grid.addWidget(w.variation_btn, 3, 2)
    w.generate_btn = button("Generate", w.generate)
    w.generate_btn.setDefault(True)
    w.cancel_btn = button("Cancel", w.cancel)
    w.cancel_btn.setEnabled(False)
    grid.addWidget(w.generate_btn, 4, 0, 1, 2)
    grid.addWidget(w.cancel_btn, 4, 2)
    w.progress = QProgressBar()
    w.progress.setRange(0, 100)
    w.stage_label = QLabel("")
    grid.addWidget(w.progress, 5, 0, 1, 3)
    grid.addWidget(w.stage_label, 6, 0, 1, 3)
    w.plan_panel = PlanPanel()
    grid.addWidget(w.plan_panel, 7, 0, 1, 3)
    grid.setRowStretch(1, 1)
    splitter.addWidget(mid)

    right = QWidget()
    right_l = QVBoxLayout(right)
    right_l.addWidget(QLabel("History"))
    w.history_list = QListWidget()
    w.history_list.setIconSize(QSize(48, 48))
    w.history_list.setWordWrap(True)
    w.history_list.setTextElideMode(Qt.TextElideMode.ElideRight)
    w.history_list.currentRowChanged.connect(w.select_history)
    right_l.addWidget(w.history_list)
    w.clear_history_btn = button("Clear history", lambda: w.clear_history(),
                                 "Forget every clip in the History, here and after a restart "
                                 "(files you saved stay where you saved them)")
    right_l.addWidget(w.clear_history_btn)
    splitter.addWidget(right)
    splitter.setSizes([360, 420, 260])

    w.mel_view = MelView()
    outer.addWidget(w.mel_view)

    play_row = QHBoxLayout()
    w.play_btn = button("Play", w.play)
    w.stop_btn = button("Stop", w.stop)
    w.live_box = QCheckBox("Play while generating")
    w.live_box.setToolTip("Start playing as soon as the first second is ready (the "
                          "vocoder streams); off: press Play when the clip is done")
    w.live_box.setChecked(True)
    w.loop_box = QCheckBox("Loop")
    w.loop_box.toggled.connect(lambda on: setattr(w.player, "loop", on))
    w.volume = QSlider(Qt.Orientation.Horizontal)
    w.volume.setRange(0, 100)
    w.volume.setValue(80)
    w.volume.setMinimumWidth(90)
    w.volume.setMaximumWidth(140)
    w.volume.valueChanged.connect(lambda v: setattr(w.player, "volume", v / 100))
    w.output_combo = QComboBox()
    for index, name in w.audio_devices:
        w.output_combo.addItem(name, index)
    w.output_combo.currentIndexChanged.connect(w._choose_output)
    # the reason in full as a tooltip: a long one must not squeeze the row's controls
    w.playback_label = QLabel("No sound device" if w.audio_why else "")
    w.playback_label.setToolTip(w.audio_why)
    w.playback_label.setStyleSheet("color: #a33;")
    # lambdas: clicked() passes a bool these methods would take as their first argument
    w.save_audio_btn = button("Save audio…", lambda: w.save_audio())
    w.save_midi_btn = button("Save MIDI…", lambda: w.save_midi(),
                             "The clip's notes as a MIDI file, for a DAW, Max or "
                             "TouchDesigner (notes bundles)")
    w.save_mel_btn = button("Save mel PNG…", lambda: w.save_mel())
    w.export_scape_btn = button("Export soundscape…", lambda: w.export_soundscape(),
                                "Every clip of the history, each looped to 20 s and "
                                "crossfaded into the next, as one file")
    w.install_btn = button("Installation mode", lambda: w.open_installation())
    for widget in (w.play_btn, w.stop_btn, w.live_box, w.loop_box,
                   QLabel("Volume"), w.volume, w.output_combo, w.playback_label):
        play_row.addWidget(widget)
    play_row.addStretch(1)
    outer.addLayout(play_row)
    # the saving and showing buttons on a row of their own: one row of everything was wider
    # than a 1280-pixel screen, and Qt cut the labels short ("Play while genera")
    save_row = QHBoxLayout()
    save_row.addWidget(w.install_btn)
    w.notes_out = QLineEdit()
    w.notes_out.setPlaceholderText("notes out: host:port")
    w.notes_out.setMaximumWidth(170)
    w.notes_out.setToolTip("While a notes clip plays, send each note as OSC /a2m/note "
                           "(pitch, velocity, duration, part) to this host:port, e.g. "
                           "127.0.0.1:9001 for TouchDesigner or Max; empty: nowhere")
    w.notes_midi = QCheckBox("MIDI port")
    w.notes_midi.setToolTip("Also play the notes out of a virtual MIDI port named "
                            "Art2Music (Ableton, Max, TouchDesigner play them on their own "
                            "instruments)")
    save_row.addWidget(w.notes_out)
    save_row.addWidget(w.notes_midi)
    save_row.addStretch(1)
    for b in (w.save_audio_btn, w.save_midi_btn, w.save_mel_btn, w.export_scape_btn):
        save_row.addWidget(b)
    outer.addLayout(save_row)

    quit_action = QAction("Quit", w)
    quit_action.setShortcut("Ctrl+Q")
    quit_action.triggered.connect(w.close)
    w.addAction(quit_action)
    # The status bar exists from the start: created by the first message, it would push
    # the bottom row up under the pointer.
    w.statusBar().setSizeGripEnabled(False)
    w.resize(1100, 720)
    w._update_buttons()
