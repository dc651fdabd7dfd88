"""The one frozen program; it runs as whichever command its file is named after.

dist/art2music/ holds copies of it named a2m (CLI), a2m-osc (OSC bridge) and a2m-desktop
(the app); `art2music <a2m|osc|desktop> ...` works too.
"""
import os
import sys
from pathlib import Path

# The gallery build runs on the CPU: it carries only the CUDA libraries torch links at import,
# not those a GPU computation opens (art2music.spec). The starter plays a clip in ~0.2 s on
# two cores; a paper bundle wanting a GPU runs from the Python install.
os.environ["CUDA_VISIBLE_DEVICES"] = ""

COMMANDS = {"a2m": "a2m_app.cli", "a2m-osc": "osc_bridge.launch", "osc": "osc_bridge.launch",
            "a2m-desktop": "a2m_desktop.app", "desktop": "a2m_desktop.app"}


def run() -> int:
    import importlib

    name = Path(sys.executable).stem
    args = sys.argv[1:]
    if name not in COMMANDS:
        if not args or args[0] not in COMMANDS:
            print("usage: art2music {a2m|osc|desktop} [arguments]  (or run a2m, a2m-osc, "
                  "a2m-desktop)", file=sys.stderr)
            return 2
        name, args = args[0], args[1:]
    module = importlib.import_module(COMMANDS[name])
    return module.main(args)


if __name__ == "__main__":
    sys.exit(run())
