"""The trainer window's "Your music" tab: the guided path from a folder of recordings to a
model that plays them in a painting's feeling, on a CPU, in minutes.

Notes (the main path): *Learn my music* transcribes the recordings, fine-tunes the starter's
note model on them (live loss curve and a measured ETA) and ends with a verdict in words;
*Open in desktop app* plays the result. The paper's mel path stays below it as "Paper
(GPU)": it makes the paired mel dataset for the Stage 1 tab, and says that on a CPU it
learns a drone.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

# The tabs are given their window (a TrainerWindow: its settings, jobs and status line);
# they do not import it, so the window module stays the one that imports them.

AS_MEASURED = "as the recordings sound"
EXAMPLE_LICENCE = "CC0 renderings of public-domain music (examples/own-music)"
REPORT_TAB = "Export && evaluate"  # "&&": a lone & is a mnemonic
GUIDE = (
    "<b>Teach Art2Music your own music</b><br>"
    "1. Pick a folder of recordings (or MIDI files) and a folder of paintings, or press "
    "<i>Example data</i>.<br>"
    "2. <i>Learn my music</i>: each recording is transcribed into notes, the starter's note "
    "model is fine-tuned on them (about 3 minutes for the example data on 2 cores), and the "
    "model is played on your paintings: a sentence says whether it plays notes and follows "
    "feeling.<br>"
    "3. <i>Open in desktop app</i> to play it with any painting and comment.")
PAPER_NOTE = (
    "The paper's own model predicts a mel spectrogram and needs a GPU and hours: trained on "
    "a CPU it learns a static drone. This makes its paired dataset for the Stage 1 tab.")


class OwnMusicTab(QWidget):
    """Fields, buttons and loss curve of the guided path; jobs run in the window's runner."""

    def __init__(self, window: QMainWindow) -> None:
        from .widgets import LossPlot, PathField

        super().__init__()
        self.window = window
        self.base: str | None = None  # the notes bundle fine-tuned (None: the starter)
        s = window.settings
        lay = QVBoxLayout(self)
        guide = QLabel(GUIDE)
        guide.setWordWrap(True)
        lay.addWidget(guide)
        form = QFormLayout()
        self.music = PathField("own_music", s, folder=True)
        self.paintings = PathField("own_paintings", s, folder=True)
        self.work = PathField("own_work", s, folder=True)
        self.licence = QLineEdit(str(s.value("own_licence", "mine; for training only")))
        self.instrument = QComboBox()
        from ..data.timbre import CANDIDATES

        self.instrument.addItems([AS_MEASURED, *CANDIDATES])
        self.steps = QSpinBox()
        self.steps.setRange(20, 5000)
        self.steps.setValue(150)
        for field, tip in (
                (self.music, "Recordings (.wav .flac .ogg .mp3 ...) or MIDI files (.mid), "
                             "searched in subfolders too"),
                (self.paintings, "Images of the paintings (.jpg .png .webp .tif); each is "
                                 "used whole and as crops"),
                (self.work, "Where the notes, the crops, the model and its verdict are "
                            "written (a stopped run continues)"),
                (self.licence, "Recorded with every window and in the model's provenance"),
                (self.instrument, "The instrument your model plays: measured from each "
                                  "recording's timbre, or one you choose"),
                (self.steps, "Fine-tuning steps of the note model (150: about 2½ minutes on "
                             "2 cores; more learns your tunes more closely)")):
            field.setToolTip(tip)
        for label, w in (("Music folder", self.music), ("Paintings folder", self.paintings),
                         ("Work folder", self.work), ("Licence of the music", self.licence),
                         ("Instrument", self.instrument), ("Fine-tuning steps", self.steps)):
            form.addRow(label, w)
        lay.addLayout(form)
        # the example's licence must not stay on someone's own music
        self.music.edit.textChanged.connect(self._music_changed)
        row = QHBoxLayout()
        self.example_btn = QPushButton("Example data")
        self.example_btn.setToolTip("Six short pieces and four public-domain paintings that "
                                    "ship with Art2Music: the whole path in minutes")
        self.learn_btn = QPushButton("Learn my music")
        self.learn_btn.setToolTip("Transcribe, fine-tune the note model, then judge it")
        self.open_btn = QPushButton("Open in desktop app")
        for b in (self.example_btn, self.learn_btn, self.open_btn):
            row.addWidget(b)
        lay.addLayout(row)
        self.plot = LossPlot("Fine-tuning: how surprised the model is by your next note "
                             "(cross-entropy per token; lower is better)")
        lay.addWidget(self.plot, 1)
        paper = QGroupBox("Paper (GPU)")
        pl = QVBoxLayout(paper)
        note = QLabel(PAPER_NOTE)
        note.setWordWrap(True)
        pl.addWidget(note)
        self.paper_btn = QPushButton("Make the paper's dataset")
        pl.addWidget(self.paper_btn)
        lay.addWidget(paper)

    def _music_changed(self, text: str) -> None:
        from ..own_music import EXAMPLE_MUSIC

        if (self.licence.text() == EXAMPLE_LICENCE
                and Path(text).expanduser() != Path(EXAMPLE_MUSIC)):
            self.licence.setText("")
            self.licence.setPlaceholderText("whose music is this, under what licence? "
                                            "(e.g. mine; for training only)")

    def dataset_ready(self) -> bool:
        """The recordings are notes now: their report (what was kept, what was left out,
        piano rolls) shows in the Export & evaluate tab while the model is still learning,
        and the tab's title says so."""
        w = self.window
        corpus = Path(self.work.text()) / "notes-corpus"
        report = corpus / "report.md"
        if not report.is_file():
            return False
        w.report.setSearchPaths([str(corpus)])
        w.report.setMarkdown(report.read_text(encoding="utf-8")
                             + "\n*The model is still learning; its verdict follows here.*\n")
        w.tabs.setTabText(w.tabs.count() - 1, REPORT_TAB + " (dataset report)")
        return True

    def config(self) -> Any:
        from ..own_music import OwnNotesModelConfig

        inst = self.instrument.currentText()
        return OwnNotesModelConfig(
            Path(self.music.text()), Path(self.paintings.text()), Path(self.work.text()),
            licence=self.licence.text() or OwnNotesModelConfig.licence,
            instrument=None if inst == AS_MEASURED else inst, note_steps=self.steps.value(),
            base=self.base)

    def start_learning(self) -> bool:
        """One job: transcribe -> fine-tune -> verdict (each step resumes)."""
        from ..own_music import build_own_notes_model

        w = self.window
        if not w._need(**{"Music folder": self.music.text(),
                          "Paintings folder": self.paintings.text(),
                          "Work folder": self.work.text()}):
            return False
        cfg = self.config()
        for folder, what in ((cfg.music, "music"), (cfg.paintings, "paintings")):
            if not folder.is_dir():
                w.status.setText(f"{what} folder not found: {folder}")
                return False
        w.settings.setValue("own_licence", self.licence.text())
        self.replay_curve(cfg.work / "finetune")

        def job(emit, stop: threading.Event):
            return build_own_notes_model(
                cfg, progress=lambda st, d, t: emit({"event": "progress", "stage": st,
                                                     "done": d, "total": t}),
                callback=emit, stop=stop)

        return w._start("own-notes", job, self.learned)

    def learned(self, result: dict) -> None:
        """The model is ready: the Export & evaluate fields point at it, the report shows
        the corpus, the piano roll and the verdict, and the status line says the verdict."""
        w = self.window
        w.ex_bundle.set(result["bundle"])
        corpus = Path(result["bundle"]).parent / "notes-corpus"
        w.report.setSearchPaths([str(corpus)])
        w.report.setMarkdown(self.report_markdown(result))
        w.tabs.setTabText(w.tabs.count() - 1, REPORT_TAB)
        verdict = result.get("verdict", {}).get("sentence", "")
        w.status.setText(f"your model is ready. {verdict}")
        w.tabs.setCurrentIndex(w.tabs.count() - 1)

    def replay_curve(self, run: Path) -> None:
        """The curve starts with what a stopped run of this folder already drew."""
        import json

        from ..finetune_notes import CURVE

        self.plot.reset()
        path = run / CURVE
        for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
            try:
                self.on_finetune(json.loads(line))
            except (ValueError, KeyError):
                continue  # a line cut by a kill

    def on_finetune(self, e: dict) -> str:
        """A fine-tuning event: the curve grows; returns the status line."""
        if e["stage"] == "notes" and e.get("epoch_end") and e.get("loss") is not None:
            self.plot.add("train", e["done"], float(e["loss"]))  # the epoch's mean
        if e["stage"] == "notes" and e.get("val_loss") is not None:
            self.plot.add("val", e["done"], float(e["val_loss"]))
        if e["stage"] == "done":
            kept = (f" (kept epoch {e['kept_epoch']} of {e['epochs']}: the lowest validation "
                    f"loss)" if e.get("kept_epoch") else "")
            return f"fine-tuned in {e.get('seconds', 0):.0f} s{kept}; judging the model…"
        eta = e.get("eta_s")
        what = {"plan": "learning the plan", "notes": "learning the notes"}.get(
            e["stage"], e["stage"])
        return (f"{what}: {e['done']}/{e['total']}"
                + (f", about {duration(eta)} left" if eta is not None else ""))

    def report_markdown(self, result: dict) -> str:
        """The corpus report (table and piano roll) and the verdict."""
        from ..evaluate.verdict import verdict_markdown

        corpus = Path(result["bundle"]).parent / "notes-corpus"
        text = (corpus / "report.md").read_text(encoding="utf-8") \
            if (corpus / "report.md").is_file() else ""
        if "verdict" in result:
            text += "\n" + verdict_markdown(result["verdict"])
        return text + f"\nModel: `{result['bundle']}`.\n"


def duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"
