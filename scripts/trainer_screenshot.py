"""Render the trainer window's guided path to docs/ (offscreen): the "Your music" tab after
"Learn my music" on the example data (with its fine-tuning curve), and the report it ends
on (the recordings as notes, a piano roll, the verdict).

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/trainer_screenshot.py [--work DIR]

With ``--work`` pointing at a folder an earlier run filled, the run resumes (only the
verdict is measured again); otherwise the whole path runs (about 5 minutes on 2 cores).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", help="the work folder (default: a new temporary one)")
    args = ap.parse_args()
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from trainer.gui.window import TrainerWindow

    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp())
    win = TrainerWindow(QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat))
    win.resize(900, 820)
    win.show()
    win.own_work.set(Path(args.work) if args.work else tmp / "example-model")
    win.use_example_data()
    app.processEvents()
    win.own_tab.start_learning()
    deadline = time.time() + 900
    while win.running and time.time() < deadline:
        app.processEvents()
        time.sleep(0.02)
    shots = REPO / "docs"
    win.tabs.setCurrentIndex(0)
    app.processEvents()
    win.grab().save(str(shots / "trainer-your-music.png"))
    win.tabs.setCurrentIndex(win.tabs.count() - 1)
    app.processEvents()
    win.grab().save(str(shots / "trainer-verdict.png"))
    print(f"{win.status.text()}\nwrote {shots / 'trainer-your-music.png'} and "
          f"{shots / 'trainer-verdict.png'}")
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
