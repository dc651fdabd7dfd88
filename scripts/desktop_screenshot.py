"""Render the desktop app's main window after a generation to docs/desktop.png (offscreen).

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/desktop_screenshot.py
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from a2m_desktop.main_window import MainWindow, dispose

    app = QApplication.instance() or QApplication([])
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.Format.IniFormat)
    win = MainWindow(bundle="", settings=settings)
    win.show()

    def wait(cond, timeout=120.0):
        t = time.time()
        while not cond() and time.time() - t < timeout:
            app.processEvents()
            time.sleep(0.02)

    wait(lambda: win.model_loaded)
    win.open_painting(str(REPO / "examples" / "vincent-van-gogh_the-starry-night-1889.jpg"))
    win.comment.setPlainText("The swirling sky feels alive, restless and full of wonder")
    win.hints.setText("Orchestra; dreamy strings")
    win.seed.setValue(7)
    win.generate()
    wait(lambda: not win.busy)
    app.processEvents()
    out = REPO / "docs" / "desktop.png"
    win.grab().save(str(out))
    print(f"wrote {out}")
    win.close()
    dispose(win)
    return 0


if __name__ == "__main__":
    sys.exit(main())
