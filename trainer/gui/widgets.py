"""The trainer window's small parts: path fields, number boxes, loss curves, and trainer
events as sentences."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLineEdit, QPushButton, QSpinBox, QWidget


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


def spin_box(value: int, lo: int, hi: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setValue(value)
    return box


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
