"""librosa's compiled code is cached in the project's own folder, one writer at a time, so
two processes starting at once (a test run beside a trainer) leave a cache every later run
can load."""
from __future__ import annotations

import os
import subprocess
import sys

from .conftest import REPO

WARM = "from a2m_core.numba_cache import warm_librosa; warm_librosa()"
USE = ("import numpy as np, librosa, a2m_core; sr = 22050; t = np.arange(4 * sr) / sr; "
       "y = (np.sin(2 * np.pi * 330 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype('float32');"
       "from a2m_core.numba_cache import warm_librosa; warm_librosa(); "
       "print(float(np.atleast_1d(librosa.beat.beat_track(y=y, sr=sr)[0])[0]))")


def test_two_processes_warming_at_once_leave_a_cache_a_third_can_use(tmp_path):
    cache = tmp_path / "numba"
    env = {**os.environ, "PYTHONPATH": str(REPO), "NUMBA_CACHE_DIR": str(cache)}
    both = [subprocess.Popen([sys.executable, "-c", WARM], env=env, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    for p in both:
        assert p.wait(timeout=300) == 0, p.stderr.read()[-2000:]
    assert list(cache.rglob("*.nbi")), "nothing was cached in the project's folder"
    third = subprocess.run([sys.executable, "-c", USE], env=env, capture_output=True,
                           text=True, timeout=300)
    assert third.returncode == 0, third.stderr[-2000:]  # a torn cache segfaults here
    assert float(third.stdout.strip().splitlines()[-1]) > 0


def test_the_cache_folder_is_the_projects_unless_the_user_chose_one(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(PYTHONPATH=str(REPO), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    out = subprocess.run([sys.executable, "-c", "import a2m_core, os; "
                          "print(os.environ['NUMBA_CACHE_DIR'])"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == str(tmp_path / "xdg" / "art2music" / "numba")
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "mine")
    out = subprocess.run([sys.executable, "-c", "import a2m_core, os; "
                          "print(os.environ['NUMBA_CACHE_DIR'])"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == str(tmp_path / "mine")
