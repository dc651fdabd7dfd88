"""Render the trainer window's guided path to docs/ (offscreen): the "Your music" tab after
"Learn my music" on the example data (with its fine-tuning curve), and the report it ends
on (the recordings as notes, a piano roll, the verdict); on the way, the licence field after
the music folder moves away from the example data, and the dataset's report while the model
is still learning.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/trainer_screenshot.py [--work DIR]
        [--music DIR --paintings DIR] [--out docs]

``--music`` (and ``--paintings``) run the same clicks on another folder of recordings, as a
person would pick it, instead of pressing Example data.

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
    ap.add_argument("--music", help="a folder of recordings (default: the example data)")
    ap.add_argument("--paintings", help="a folder of paintings (default: examples/)")
    ap.add_argument("--out", default=str(REPO / "docs"), help="where the two PNGs go")
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
    shots = Path(args.out)
    shots.mkdir(parents=True, exist_ok=True)
    mine = tmp / "my-recordings"
    mine.mkdir()
    win.own_music.set(mine)  # someone picks their own folder: the example licence goes
    app.processEvents()
    win.grab().save(str(shots / "trainer-licence.png"))
    win.use_example_data()
    if args.music:
        win.own_music.set(Path(args.music))
        win.own_licence.setText(f"recordings in {args.music}")
    if args.paintings:
        win.own_paintings.set(Path(args.paintings))
    app.processEvents()
    win.own_tab.start_learning()
    started = time.time()
    deadline = started + 900
    dataset_shot = False
    while win.running and time.time() < deadline:
        app.processEvents()
        time.sleep(0.02)
        if not dataset_shot and "dataset report" in win.tabs.tabText(win.tabs.count() - 1):
            win.tabs.setCurrentIndex(win.tabs.count() - 1)
            app.processEvents()
            win.grab().save(str(shots / "trainer-dataset-report.png"))
            win.tabs.setCurrentIndex(0)
            dataset_shot = True
    print(f"the whole path took {time.time() - started:.0f} s")
    win.tabs.setCurrentIndex(0)
    app.processEvents()
    win.grab().save(str(shots / "trainer-your-music.png"))
    win.tabs.setCurrentIndex(win.tabs.count() - 1)
    app.processEvents()
    win.grab().save(str(shots / "trainer-verdict.png"))
    print(f"{win.status.text()}\nwrote {shots / 'trainer-your-music.png'}, "
          f"{shots / 'trainer-verdict.png'}, {shots / 'trainer-licence.png'} and "
          f"{shots / 'trainer-dataset-report.png'}")
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
