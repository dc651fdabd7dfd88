"""What every Art2Music command shares (``a2m``, ``a2m-osc``, ``a2m-train``): ``-v`` typed
anywhere on the line."""
from __future__ import annotations

import argparse


def verbose_anywhere(parser: argparse.ArgumentParser) -> None:
    """Accept ``-v/--verbose`` after any (sub)subcommand too, not only before it: users type
    ``a2m generate ... -v``. SUPPRESS keeps a subcommand from resetting a flag given earlier."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                if not any("--verbose" in a.option_strings for a in sub._actions):
                    sub.add_argument("-v", "--verbose", action="store_true",
                                     default=argparse.SUPPRESS, help="log details and "
                                     "show tracebacks")
                verbose_anywhere(sub)
