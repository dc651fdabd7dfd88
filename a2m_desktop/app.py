"""``a2m-desktop [painting]``: start the desktop app, optionally with a painting open."""
from __future__ import annotations

import argparse
import logging
import logging.handlers
import sys
from pathlib import Path


def log_file() -> Path:
    from PySide6.QtCore import QStandardPaths

    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation)
    return Path(base or Path.home() / ".art2music") / "logs" / "art2music-desktop.log"


def setup_logging(verbose: bool) -> Path:
    path = log_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in ("a2m_core", "a2m_desktop"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.INFO)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="a2m-desktop", description="Art2Music desktop app")
    ap.add_argument("painting", nargs="?", help="a painting to open")
    ap.add_argument("--bundle", help="model bundle (default: the last one used, or the "
                    "starter)")
    ap.add_argument("-v", "--verbose", action="store_true", help="log details (DEBUG) "
                    "in the log file; errors' tracebacks are logged there either way")
    ap.add_argument("--exit-when-ready", action="store_true", help="print 'ready' once the "
                    "model is loaded and quit (a smoke test for a kiosk, a start-up timer)")
    args = ap.parse_args(argv)

    from a2m_core import warmup

    warmup.start(args.bundle)  # the SoundFont's read overlaps the imports below
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow, dispose

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("Art2Music")
    app.setApplicationName("Art2Music Desktop")
    path = setup_logging(args.verbose)
    logging.getLogger(__name__).info("log file: %s", path)
    window = MainWindow(bundle=args.bundle)
    if args.painting:
        window.open_painting(args.painting)
    window.show()
    if args.exit_when_ready:
        def ready() -> None:
            print("ready", flush=True)
            window.close()
            app.quit()

        window.modelReady.connect(ready)
    code = app.exec()
    dispose(window)
    return code


if __name__ == "__main__":
    sys.exit(main())
