"""The plan panel: what a notes bundle's clip plays, and the controls a person pins.

A notes bundle draws a plan of feeling cues from the painting and the comment (tempo, key,
density, articulation, instrument, dynamics, register, texture). This panel shows the
current clip's plan in one line and offers a pin for the cues people most often want to
fix (a typed tempo, all 24 keys, the instrument, the dynamics); "from the painting" leaves a
cue to the model. Beside them: the ArtEmis emotion the viewer names, and the variation (how
far the draw strays from what the inputs ask, as Magenta Studio's temperature). With a mel
bundle the pins are greyed out and say why.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QGridLayout, QLabel, QSlider, QSpinBox, QWidget

from a2m_core.notes.plan import DYNAMICS, INSTRUMENTS, TEMPO_RANGE, Pins, Plan, key_name
from a2m_core.notes.score import NAMES
from a2m_core.prompt import ARTEMIS_LABELS
from a2m_core.request import VARIATION_RANGE

AUTO = "from the painting"
KEYS = tuple(f"{t} {m}" for m in ("major", "minor") for t in NAMES)  # all 24
_TEMPO_FREE = int(TEMPO_RANGE[0]) - 1  # the spin box's value that reads AUTO


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
        self.tempo = QSpinBox()  # typed: 90 plays at 90
        self.tempo.setRange(_TEMPO_FREE, int(TEMPO_RANGE[1]))
        self.tempo.setSpecialValueText(AUTO)  # the minimum reads "from the painting"
        self.tempo.setSuffix(" bpm")
        self.tempo.setAccelerated(True)
        self.key = self._combo(KEYS)
        self.instrument = self._combo(tuple(INSTRUMENTS))
        self.dynamics = self._combo(tuple(d for d, _ in DYNAMICS))
        for col, (name, box) in enumerate((("Tempo", self.tempo), ("Key", self.key),
                                           ("Instrument", self.instrument),
                                           ("Dynamics", self.dynamics))):
            grid.addWidget(QLabel(name), 0, col)
            grid.addWidget(box, 1, col)
        self.emotion = QComboBox()
        self.emotion.addItem("from the comment", None)
        for label in ARTEMIS_LABELS:
            self.emotion.addItem(label, label)
        self.emotion.setToolTip("The feeling the viewer names (ArtEmis' labels), added to "
                                "the comment's own words")
        self.variation = QSlider(Qt.Orientation.Horizontal)
        self.variation.setRange(int(VARIATION_RANGE[0] * 100), int(VARIATION_RANGE[1] * 100))
        self.variation.setValue(70)
        self.variation_label = QLabel()
        self.variation.valueChanged.connect(self._show_variation)
        self._show_variation(self.variation.value())
        self.variation.setToolTip("Variation: 0 plays just what the painting and the comment "
                                  "ask; higher strays further (tempo, key, instrument, "
                                  "notes) for surprises")
        grid.addWidget(QLabel("Emotion"), 2, 0)
        grid.addWidget(self.emotion, 3, 0)
        grid.addWidget(self.variation_label, 2, 1, 1, 3)
        grid.addWidget(self.variation, 3, 1, 1, 3)
        grid.addWidget(self.plan_label, 4, 0, 1, 4)
        self.why_label = QLabel("")
        self.why_label.setWordWrap(True)
        self.why_label.setToolTip("Why it plays so: what the painting's look and subjects "
                                  "and your comment each moved (tempo, dynamics, mode, key)")
        # two lines' room, always: a wrapped label in a grid is otherwise squeezed to one
        self.why_label.setMinimumHeight(2 * self.why_label.fontMetrics().lineSpacing() + 4)
        grid.addWidget(self.why_label, 5, 0, 1, 4)

    @staticmethod
    def _combo(values: tuple[str, ...], unit: str = "") -> QComboBox:
        combo = QComboBox()
        combo.addItem(AUTO, None)
        for v in values:
            combo.addItem(v + unit, v)
        return combo

    def _show_variation(self, value: int) -> None:
        self.variation_label.setText(f"Variation {value / 100:.2f}")

    def combos(self) -> tuple[QWidget, ...]:
        """The pins' boxes."""
        return self.tempo, self.key, self.instrument, self.dynamics

    def pins(self) -> Pins | None:
        """The pinned controls (None when nothing is pinned or pins don't apply)."""
        if not self.tempo.isEnabled():
            return None
        tempo = self.tempo.value()
        pins = Pins(tempo_bpm=float(tempo) if tempo != _TEMPO_FREE else None,
                    key=self.key.currentData(), instrument=self.instrument.currentData(),
                    dynamic=self.dynamics.currentData())
        return pins if pins.any() else None

    def emotion_label(self) -> str | None:
        return self.emotion.currentData()

    def variation_value(self) -> float:
        return self.variation.value() / 100

    def set_variation(self, value: float) -> None:
        """Start the slider at ``value`` (the loaded bundle's own spread)."""
        self.variation.setValue(round(value * 100))

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
        """Show ``pins`` in the boxes ("from the painting" where a control was free)."""
        pins = pins or Pins()
        self.tempo.setValue(_TEMPO_FREE if pins.tempo_bpm is None else round(pins.tempo_bpm))
        key = None if pins.key is None else key_name(pins.key)  # "F#m" -> "F# minor"
        for combo, value in ((self.key, key), (self.instrument, pins.instrument),
                             (self.dynamics, pins.dynamic)):
            index = combo.findData(value)
            if index < 0:
                combo.addItem(value, value)
                index = combo.count() - 1
            combo.setCurrentIndex(index)

    def show_plan(self, plan: Plan | None) -> None:
        self.plan_label.setText(f"Plan: {plan.describe()}" if plan is not None else "")
        self.why_label.setText(f"Why: {plan.why}" if plan is not None and plan.why else "")
