"""The house a new engineer walks into: data walks one way, so no module imports another
that (directly or through others) imports it back, and the runtime imports no GUI, audio
device or OSC library."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from .conftest import REPO

PACKAGES = ("a2m_core", "a2m_app", "osc_bridge", "a2m_desktop", "trainer")


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str) -> set[str]:
    """Project modules ``path`` imports anywhere in it (top level or inside functions)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{a.name}" for a in node.names}
    return found


def test_no_module_imports_itself_back_through_others():
    modules = {_module_name(p): p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")}
    graph = {name: {m for m in _imports(path, name) if m in modules and m != name}
             for name, path in modules.items()}
    # a package's __init__ re-exporting its own modules is not a circle of the house
    for name in graph:
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    cycles, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(trail[trail.index(nxt):] + [nxt] if nxt in trail else [nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, " ; ".join(" -> ".join(c) for c in cycles)


def test_no_runtime_module_imports_qt_sounddevice_or_osc():
    names = sorted(_module_name(p) for p in (REPO / "a2m_core").rglob("*.py"))
    code = (f"import importlib, sys\nfor n in {names!r}: importlib.import_module(n)\n"
            "print(sorted(m for m in ('PySide6', 'sounddevice', 'pythonosc', 'pyqtgraph') "
            "if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def test_the_runtime_names_no_device_library_and_the_trainer_no_app():
    """sounddevice lives in a2m_app, not behind a lazy import in a2m_core; the trainer
    makes bundles and never reaches into the apps that play them."""
    import re

    device = re.compile(r"^\s*(import|from) sounddevice", re.M)
    assert not [p.name for p in (REPO / "a2m_core").rglob("*.py")
                if device.search(p.read_text(encoding="utf-8"))]
    app = re.compile(r"^\s*(import|from) (a2m_app|a2m_desktop|osc_bridge)\b", re.M)
    assert not [str(p.relative_to(REPO)) for p in (REPO / "trainer").rglob("*.py")
                if app.search(p.read_text(encoding="utf-8"))]
