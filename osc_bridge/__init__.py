"""Headless OSC bridge: installations send a painting path and a comment, get a WAV path back.

Routing (``protocol`` parses and validates each address's arguments) is kept apart from
transport (``server``: python-osc's UDP server, a bounded queue and one generation worker
on the shared ``a2m_core`` engine). See ``osc_bridge/README.md`` for the protocol.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .protocol import ErrorCode
    from .server import Bridge, BridgeConfig


def __getattr__(name: str) -> Any:
    # The server (and with it torch) loads on first use: `a2m-osc serve` binds its socket
    # before that import, so requests sent at launch wait in the socket, not in the void.
    if name in ("Bridge", "BridgeConfig"):
        from . import server

        return getattr(server, name)
    if name == "ErrorCode":
        from .protocol import ErrorCode

        return ErrorCode
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Bridge", "BridgeConfig", "ErrorCode"]
