"""The plan panel: what a notes bundle's clip plays, and the controls a person pins.

A notes bundle draws a plan of feeling cues from the painting and the comment (tempo, key,
density, articulation, instrument, dynamics, register, texture). This panel shows the
current clip's plan in one line and offers a pin for the cues people most often want to
fix; "from the painting" leaves a cue to the model. With a mel bundle the pins are greyed
out and say why.
"""
from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QGridLayout, QLabel, QWidget

from a2m_core.notes.plan import DYNAMICS, INSTRUMENTS, Pins, Plan

AUTO = "from the painting"
TEMPI = ("60", "72", "84", "96", "108", "120", "138", "160")
KEYS = tuple(f"{t} {m}" for m in ("major", "minor")
             for t in ("C", "D", "Eb", "E", "F", "G", "A", "Bb"))


class PlanPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self.plan_label = QLabel("")
        self.plan_label.setWordWrap(True)
        self.plan_label.setToolTip(
            "The clip's plan: what the painting and your comment asked for, as the notes "
            "play it.\nbpm: beats per minute · key and mode (major bright, minor dark) · "
            "notes/s: how many notes a second\nlegato: notes joined · detached: short gaps "
            "between notes · staccato: short, separate notes\ndynamics: pp very soft, p "
            "soft, mp, mf medium, f loud, ff very loud\nregister: low, middle or high "
            "pitches · melody: one line · chords: parts together")
        self.tempo = self._combo(TEMPI, " bpm")
        self.key = self._combo(KEYS)
        self.instrument = self._combo(tuple(INSTRUMENTS))
        self.dynamics = self._combo(tuple(d for d, _ in DYNAMICS))
        for col, (name, combo) in enumerate((("Tempo", self.tempo), ("Key", self.key),
                                             ("Instrument", self.instrument),
                                             ("Dynamics", self.dynamics))):
            grid.addWidget(QLabel(name), 0, col)
            grid.addWidget(combo, 1, col)
        grid.addWidget(self.plan_label, 2, 0, 1, 4)
        self.why_label = QLabel("")
        self.why_label.setWordWrap(True)
        self.why_label.setToolTip("Why it plays so: what the painting's look and subjects "
                                  "and your comment each moved (tempo, dynamics, mode, key)")
        # two lines' room, always: a wrapped label in a grid is otherwise squeezed to one
        self.why_label.setMinimumHeight(2 * self.why_label.fontMetrics().lineSpacing() + 4)
        grid.addWidget(self.why_label, 3, 0, 1, 4)

    @staticmethod
    def _combo(values: tuple[str, ...], unit: str = "") -> QComboBox:
        combo = QComboBox()
        combo.addItem(AUTO, None)
        for v in values:
            combo.addItem(v + unit, v)
        return combo

    def combos(self) -> tuple[QComboBox, ...]:
        return self.tempo, self.key, self.instrument, self.dynamics

    def pins(self) -> Pins | None:
        """The pinned controls (None when nothing is pinned or pins don't apply)."""
        if not self.tempo.isEnabled():
            return None
        tempo = self.tempo.currentData()
        pins = Pins(tempo_bpm=float(tempo) if tempo else None, key=self.key.currentData(),
                    instrument=self.instrument.currentData(),
                    dynamic=self.dynamics.currentData())
        return pins if pins.any() else None

    def set_notes_bundle(self, notes: bool) -> None:
        why = "" if notes else ("Pinning needs a notes bundle (the starter is one); this "
                                "model makes a mel, not notes")
        for combo in self.combos():
            combo.setEnabled(notes)
            combo.setToolTip(why or "Fix this cue; 'from the painting' leaves it to the "
                                    "painting and your comment")
        if notes:
            self.instrument.setToolTip("Fix the instrument; 'from the painting' plays the one "
                                       "your music hints name (strings, piano, …), else "
                                       "the painting and your comment choose")
            self.dynamics.setToolTip("Fix how loud it plays: pp very soft, p soft, mp and mf "
                                     "medium, f loud, ff very loud; 'from the painting' "
                                     "leaves it to the painting and your comment")
        else:
            self.plan_label.setText("")
            self.why_label.setText("")

    def set_pins(self, pins: Pins | None) -> None:
        """Show ``pins`` in the boxes ("from the painting" where a control was free). A
        tempo or key no box offers is added to it."""
        pins = pins or Pins()
        tempo = None if pins.tempo_bpm is None else f"{pins.tempo_bpm:g}"
        for combo, value in ((self.tempo, tempo), (self.key, pins.key),
                             (self.instrument, pins.instrument),
                             (self.dynamics, pins.dynamic)):
            index = combo.findData(value)
            if index < 0:
                combo.addItem(value + (" bpm" if combo is self.tempo else ""), value)
                index = combo.count() - 1
            combo.setCurrentIndex(index)

    def show_plan(self, plan: Plan | None) -> None:
        self.plan_label.setText(f"Plan: {plan.describe()}" if plan is not None else "")
        self.why_label.setText(f"Why: {plan.why}" if plan is not None and plan.why else "")
