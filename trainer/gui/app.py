"""``a2m-trainer``: open the trainer window."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    from .window import TrainerWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("Art2Music")
    app.setApplicationName("Art2Music Trainer")
    window = TrainerWindow()
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
