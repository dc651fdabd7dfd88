"""Headless OSC bridge: installations send a painting path and a comment, get a WAV path back.

Routing (``protocol`` parses and validates each address's arguments) is kept apart from
transport (``server``: python-osc's UDP server, a bounded queue and one generation worker
on the shared ``a2m_core`` engine). See ``osc_bridge/README.md`` for the protocol.
"""
from .protocol import ErrorCode
from .server import Bridge, BridgeConfig

__all__ = ["Bridge", "BridgeConfig", "ErrorCode"]
