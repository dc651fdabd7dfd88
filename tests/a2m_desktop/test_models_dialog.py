"""An artist opens Models…, fetches a model from the lab's folder, makes it the default, uses
it, cancels a slow fetch, and removes the model again — the code behind `a2m models`."""
from __future__ import annotations

import json
import threading

import pytest
from PySide6.QtCore import QSettings, Qt

from a2m_core import model_store
from a2m_core.registry import default_model
from a2m_desktop.main_window import MainWindow
from tests.a2m_desktop.test_main_window import TIMEOUT_MS
from tests.fakes import FakeStream
from tests.test_models_registry import published, tiny_entry  # noqa: F401 - a fixture


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch, published, tiny_bundle):  # noqa: F811
    monkeypatch.setenv("A2M_HOME", str(tmp_path / "home"))
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps([tiny_entry(published)]))
    monkeypatch.setenv("A2M_REGISTRY", str(registry))
    win = MainWindow(bundle=str(tiny_bundle), settings=QSettings(
        str(tmp_path / "s.ini"), QSettings.Format.IniFormat), stream_factory=FakeStream)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.model_loaded, timeout=TIMEOUT_MS)
    win.open_models_dialog()
    yield win
    win.models_dialog.close()
    win.close()


def test_fetch_set_default_use_and_remove(qtbot, window, published):  # noqa: F811
    dialog = window.models_dialog
    names = [dialog.table.item(i, 0).text() for i in range(dialog.table.rowCount())]
    assert names[0] == "starter" and "tiny-paper" in names
    dialog.select("starter")
    assert not dialog.fetch_btn.isEnabled() and not dialog.remove_btn.isEnabled()

    dialog.select("tiny-paper")
    dialog.source.setText(str(published))
    with qtbot.waitSignal(dialog.fetchEnded, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(dialog.fetch_btn, Qt.MouseButton.LeftButton)
    assert blocker.args == ["tiny-paper", "finished"], dialog.status.text()
    assert dialog.progress.value() == 100 and "installed" in dialog.status.text()
    assert window.model_combo.findData("tiny-paper") >= 0  # the picker offers it now

    qtbot.mouseClick(dialog.default_btn, Qt.MouseButton.LeftButton)
    assert default_model() == "tiny-paper"
    assert "default" in dialog.table.item(names.index("tiny-paper"), 1).text()

    with qtbot.waitSignal(window.modelReady, timeout=TIMEOUT_MS):
        qtbot.mouseClick(dialog.use_btn, Qt.MouseButton.LeftButton)
    assert window.engine_name == "tiny-paper"
    assert window.settings.value("bundle") == "tiny-paper"

    qtbot.mouseClick(dialog.remove_btn, Qt.MouseButton.LeftButton)
    assert "removed" in dialog.status.text() and default_model() is None
    assert "not installed" in dialog.table.item(names.index("tiny-paper"), 1).text()


def test_cancel_keeps_the_partial_download_and_a_failed_fetch_says_why(
        qtbot, window, published, monkeypatch, tmp_path):  # noqa: F811
    dialog = window.models_dialog
    gate = threading.Event()
    original = model_store._open

    def held(*args, **kwargs):
        gate.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(model_store, "_open", held)
    dialog.select("tiny-paper")
    dialog.source.setText(str(published))
    assert dialog.fetch_selected()
    assert dialog.cancel_btn.isEnabled() and not dialog.fetch_btn.isEnabled()
    with qtbot.waitSignal(dialog.fetchEnded, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(dialog.cancel_btn, Qt.MouseButton.LeftButton)
        gate.set()
    assert blocker.args == ["tiny-paper", "cancelled"]
    assert "kept for the next run" in dialog.status.text() and dialog.fetch_btn.isEnabled()

    dialog.source.setText(str(tmp_path / "no-such-folder"))
    with qtbot.waitSignal(dialog.fetchEnded, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(dialog.fetch_btn, Qt.MouseButton.LeftButton)
    assert blocker.args == ["tiny-paper", "failed"]
    assert "neither an http(s) URL nor a folder" in dialog.status.text()


def test_offline_fetch_says_no_network_and_what_to_do_in_the_dialogs_words(
        qtbot, window, monkeypatch):
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError(OSError(-2, "Name or service not known"))

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    dialog = window.models_dialog
    dialog.select("tiny-paper")
    dialog.source.setText("https://models.example.org/repo")
    with qtbot.waitSignal(dialog.fetchEnded, timeout=TIMEOUT_MS):
        qtbot.mouseClick(dialog.fetch_btn, Qt.MouseButton.LeftButton)
    text = dialog.status.text()
    assert text.startswith("tiny-paper: no network") and "From…" in text
    assert "--from" not in text


def test_every_column_of_the_models_table_shows_in_full(qtbot, window):
    dialog = window.models_dialog
    qtbot.waitUntil(dialog.isVisible)
    table, metrics = dialog.table, dialog.table.fontMetrics()
    for row in range(table.rowCount()):
        size = table.item(row, 2).text()
        assert table.columnWidth(2) >= metrics.horizontalAdvance(size)
        about = table.item(row, 3).text()
        lines = max(1, table.rowHeight(row) // metrics.lineSpacing())
        assert lines * table.columnWidth(3) >= metrics.horizontalAdvance(about)
