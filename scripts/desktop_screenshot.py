"""Render the desktop app offscreen to docs/: the main window after a generation (with a
status message shown), Installation mode's tooltip when there is no sound device, the
History holding visitors' clips from Installation mode, and the History after a restart at
1280 x 800.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/desktop_screenshot.py

The visitor shot plays on a null output (``a2m_app.null_device``: it takes the audio at real
time), since Installation mode needs a sound device and a render machine may have none.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
STARRY = REPO / "examples" / "vincent-van-gogh_the-starry-night-1889.jpg"


def main() -> int:
    from PySide6.QtCore import QPoint, QSettings
    from PySide6.QtGui import QPainter
    from PySide6.QtWidgets import QApplication, QFrame, QLabel, QToolTip

    from a2m_app.null_device import NullStream
    from a2m_desktop.main_window import MainWindow, dispose

    app = QApplication.instance() or QApplication([])

    def wait(cond, timeout=120.0):
        t = time.time()
        while not cond() and time.time() - t < timeout:
            app.processEvents()
            time.sleep(0.02)

    def window(ini: str | None = None, **kwargs) -> MainWindow:
        settings = QSettings(ini or str(Path(tempfile.mkdtemp()) / "s.ini"),
                             QSettings.Format.IniFormat)
        win = MainWindow(bundle="", settings=settings, **kwargs)
        win.show()
        wait(lambda: win.model_loaded)
        return win

    def save(widget_pixmap, name: str) -> None:
        out = REPO / "docs" / name
        widget_pixmap.save(str(out))
        print(f"wrote {out}")

    # 1. The main window after a generation, a status message showing, this machine's
    # (lack of) sound device as it is.
    win = window()
    win.open_painting(str(STARRY))
    win.comment.setPlainText("The swirling sky feels alive, restless and full of wonder")
    win.hints.setText("Orchestra; dreamy strings")
    win.seed.setValue(7)
    win.generate()
    wait(lambda: not win.busy)
    win.statusBar().showMessage("Saved ~/Music/starry-night-seed7.wav", 60_000)
    app.processEvents()
    save(win.grab(), "desktop.png")

    # 2. Installation mode's tooltip, where it says why the button is greyed out.
    if not win.audio_ok:
        # The offscreen platform shows no tooltip window: the button's own tooltip text is
        # drawn in the tooltip palette, where Qt would place it (above the pointer).
        button = win.install_btn
        tip = QLabel(button.toolTip())
        tip.setPalette(QToolTip.palette())
        tip.setAutoFillBackground(True)
        tip.setMargin(6)
        tip.setFrameShape(QFrame.Shape.Box)
        tip.adjustSize()
        shot = win.grab()
        painter = QPainter(shot)
        at = button.mapTo(win, QPoint(button.width() // 2, 0))
        painter.drawPixmap(QPoint(max(0, min(at.x() - tip.width() // 2,
                                             shot.width() - tip.width())),
                                  at.y() - tip.height() - 4), tip.grab())
        painter.end()
        save(shot, "desktop-installation-tooltip.png")
    win.close()
    dispose(win)

    # 3. Visitors' clips from Installation mode in the History of the window behind it.
    win = window(stream_factory=NullStream)
    win.open_painting(str(STARRY))
    win.comment.setPlainText("The swirling sky feels alive")
    win.generate()
    wait(lambda: not win.busy)
    view = win.open_installation(full_screen=False)
    for text in ("it feels like a storm is coming", "the village sleeps, so quiet"):
        view.comment.setText(text)
        view.submit()
        count = len(win.history)
        wait(lambda count=count: len(win.history) > count)
    app.processEvents()
    save(win.grab(), "desktop-visitor-history.png")
    view.close()
    win.close()
    dispose(win)

    # 4. The History after a restart, at 1280 x 800: three clips of one painting made
    # yesterday, told apart by their instruments, the second recalled with its pins.
    ini = str(Path(tempfile.mkdtemp()) / "s.ini")
    win = window(ini)
    win.open_painting(str(STARRY))
    win.comment.setPlainText("A hushed blue night over the sleeping village")
    for instrument in ("harp", "strings", None):
        panel = win.plan_panel
        panel.instrument.setCurrentIndex(panel.instrument.findData(instrument))
        win.generate()
        wait(lambda: not win.busy)
    win.close()
    dispose(win)
    win = window(ini)
    win.resize(1280, 800)
    win.history_list.setCurrentRow(1)
    wait(lambda: False, timeout=0.3)
    save(win.grab(), "desktop-history-restart.png")
    win.close()
    dispose(win)
    return 0


if __name__ == "__main__":
    sys.exit(main())
