"""What the desktop tests share: a window on a tiny notes bundle."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from a2m_desktop.main_window import MainWindow

from ..fakes import FakeStream


@pytest.fixture
def notes_window(qtbot, tmp_path) -> Callable[..., MainWindow]:
    """``notes_window(stream_factory=FakeStream)``: a shown window whose tiny notes bundle
    has loaded (skipped, saying why, where FluidR3_GM is not installed); closed afterwards."""
    from a2m_core.debug import build_debug_bundle, tiny_notes_config
    from a2m_core.notes.sampler import FLUID_R3_GM

    if not Path(FLUID_R3_GM.path).is_file():
        pytest.skip("FluidR3_GM.sf2 missing: apt-get install fluid-soundfont-gm")
    bundle = build_debug_bundle(tmp_path / "notes.safetensors", config=tiny_notes_config())
    made: list[MainWindow] = []

    def make(stream_factory=FakeStream) -> MainWindow:
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        win = MainWindow(bundle=str(bundle), settings=settings, stream_factory=stream_factory)
        qtbot.addWidget(win)
        win.show()
        qtbot.waitUntil(lambda: win.model_loaded, timeout=60_000)
        made.append(win)
        return win

    yield make
    import shiboken6

    for win in made:  # a test that closed its window already leaves it be
        if shiboken6.isValid(win) and win.isVisible():
            win.close()
