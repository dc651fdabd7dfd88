"""The plan panel: a notes clip's plan and why-line, every key and any tempo pinned."""
from __future__ import annotations

import pytest

from .test_main_window import drop, generate


def test_a_notes_clip_shows_its_plan_obeys_a_pinned_tempo_and_hints_and_saves_midi(
        qtbot, tmp_path, paintings, notes_window):
    from a2m_core.notes.score import read_midi

    win = notes_window()
    try:
        assert win.plan_panel.tempo.isEnabled()  # a notes bundle: pins apply
        assert not win.save_midi_btn.isEnabled()  # nothing to save yet
        drop(win, paintings[0])
        qtbot.keyClicks(win.comment, "the waves crash and the boats race")
        qtbot.keyClicks(win.hints, "Orchestra; solo harp")
        panel = win.plan_panel
        panel.tempo.lineEdit().selectAll()
        qtbot.keyClicks(panel.tempo, "138")  # typed, not picked: 138 plays at 138
        panel.key.setCurrentIndex(panel.key.findData("F# minor"))
        panel.emotion.setCurrentIndex(panel.emotion.findData("sadness"))
        generate(qtbot, win)
        plan = win.current.clip.plan
        assert (plan.tempo_bpm, plan.key, plan.instrument) == (138.0, "F# minor", "harp")
        assert "sadness" in win.current.clip.prompt
        assert "hints" in win.plan_panel.instrument.toolTip()
        assert win.plan_panel.plan_label.text() == f"Plan: {plan.describe()}"
        why = win.plan_panel.why_label.text()
        assert why == f"Why: {plan.why}" and why.startswith("Why: painting: ")
        assert "hints: harp" in why and "pinned: key, mode, tempo" in why
        assert "138 bpm" in win.history_list.item(0).text()
        assert win.save_midi_btn.isEnabled()
        saved = win.save_midi(str(tmp_path / "clip.mid"))
        assert read_midi(saved)[1] == pytest.approx(138.0, abs=0.01)
        # a visitor who writes nothing (and names no emotion) still hears the painting
        win.comment.setPlainText("")
        panel.emotion.setCurrentIndex(0)
        generate(qtbot, win)
        assert "no comment: the painting leads" in win.plan_panel.why_label.text()
        assert len(win.history) == 2
    finally:
        win.close()


def test_every_key_and_any_tempo_can_be_pinned_and_shown_again(qtbot):
    from a2m_core.notes.plan import Pins
    from a2m_desktop.plan_panel import KEYS, PlanPanel

    panel = PlanPanel()
    qtbot.addWidget(panel)
    assert len(KEYS) == 24 and {"B minor", "F# major", "C# minor", "Ab major"} <= set(KEYS)
    for key in KEYS:
        panel.key.setCurrentIndex(panel.key.findData(key))
        assert panel.pins().key == key
    panel.set_pins(Pins(tempo_bpm=91, key="f sharp minor"))  # a recalled clip's pins
    assert panel.tempo.value() == 91 and panel.key.currentData() == "F# minor"
    assert panel.key.count() == 25  # no new item: the box names it already
    panel.set_pins(None)
    assert panel.pins() is None and panel.tempo.text() == "from the painting"
    panel.tempo.lineEdit().selectAll()
    qtbot.keyClicks(panel.tempo, "90")
    assert panel.pins().tempo_bpm == 90.0
