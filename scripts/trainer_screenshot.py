"""Render the trainer window's guided flow to docs/ (offscreen): the "Your music" tab with
the example data filled in, and the report after "Make the dataset".

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/trainer_screenshot.py
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from trainer.gui.window import TrainerWindow

    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp())
    win = TrainerWindow(QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat))
    win.resize(900, 640)
    win.show()
    win.own_work.set(tmp / "example-model")
    win.use_example_data()
    app.processEvents()
    shots = REPO / "docs"
    win.grab().save(str(shots / "trainer-your-music.png"))
    win.start_own_dataset()
    deadline = time.time() + 300
    while win.running and time.time() < deadline:
        app.processEvents()
        time.sleep(0.02)
    win.tabs.setCurrentIndex(win.tabs.count() - 1)
    app.processEvents()
    win.grab().save(str(shots / "trainer-dataset.png"))
    print(f"wrote {shots / 'trainer-your-music.png'} and {shots / 'trainer-dataset.png'}")
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
