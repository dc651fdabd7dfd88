"""``a2m-osc``'s first stage: bind the request socket, then import everything else.

Importing torch and the engine takes ~2 s before the model even starts loading. A host that
sends at launch (an installation booting with the bridge) would lose those packets to a port
nobody holds. So ``serve``'s socket is bound here, with the standard library alone, a few
hundredths of a second after launch; the kernel then keeps what arrives until the server
reads it. Until the engine's imports are done, ``early.EarlyStage`` answers ``/a2m/status``
("starting"), holds every other request for the bridge, and turns SIGTERM into a clean stop
in which each held request gets its final reply.
"""
from __future__ import annotations

import socket
import sys

_NO_BIND = {"-h", "--help", "--list-devices", "--version"}


def _option(argv: list[str], name: str, default: str) -> str:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return default


def early_socket(argv: list[str]) -> socket.socket | None:
    """The bound socket ``serve`` will listen on, or None: not ``serve``, a question such as
    ``--help``, an option argparse will refuse, or an address that cannot be bound (the
    full parser then reports it in its own words)."""
    if "serve" not in argv or _NO_BIND & set(argv):
        return None
    try:
        host = _option(argv, "--host", "127.0.0.1")
        port = int(_option(argv, "--port", "9000"))
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                             socket.SOCK_DGRAM)
    except (ValueError, OSError):
        return None
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        return None
    return sock


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    sock = early_socket(argv)
    early = None
    if sock is not None:
        from .early import EarlyStage

        try:
            reply_port = int(_option(argv, "--reply-port", "9001"))
        except ValueError:
            reply_port = 9001  # argparse will refuse it in its own words
        early = EarlyStage(sock, reply_port, "--reply-to-source-port" in argv)
    from a2m_core import warmup

    warmup.start(_option(argv, "--model", None) or _option(argv, "--bundle", None))
    from .cli import main as cli_main

    return cli_main(argv, sock=sock, early=early)


if __name__ == "__main__":
    sys.exit(main())
