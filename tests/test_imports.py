"""The runtime stays a library: importing it pulls in no GUI, audio-device or OSC code."""
from __future__ import annotations

import subprocess
import sys

from .conftest import REPO


def test_a2m_core_imports_no_qt_sounddevice_or_osc():
    code = ("import sys, a2m_core, a2m_core.engine, a2m_core.cli, a2m_core.reference, "
            "a2m_core.live, a2m_core.soundscape, a2m_core.streaming, a2m_core.model_store; "
            "print(sorted(m for m in ('PySide6', 'sounddevice', 'pythonosc', 'pyqtgraph') "
            "if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
