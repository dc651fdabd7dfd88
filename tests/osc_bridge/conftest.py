"""Loopback OSC fixtures: a client socket, a gallery of the fixture paintings, bridges."""
from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from osc_bridge import Bridge, BridgeConfig

FINAL = ("/a2m/done", "/a2m/error")


class Client:
    """A UDP socket that sends OSC to the bridge and collects its replies."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.replies: list[tuple[str, list]] = []
        self.target: tuple[str, int] = ("127.0.0.1", 0)

    def send(self, address: str, *args) -> None:
        b = OscMessageBuilder(address=address)
        for a in args:
            b.add_arg(a)
        self.sock.sendto(b.build().dgram, self.target)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.target)

    def wait_for(self, predicate, timeout: float = 60.0) -> tuple[str, list]:
        deadline = time.monotonic() + timeout
        for reply in self.replies:
            if predicate(reply):
                return reply
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data, _ = self.sock.recvfrom(65536)
            except TimeoutError:
                break
            msg = OscMessage(data)
            reply = (msg.address, list(msg.params))
            self.replies.append(reply)
            if predicate(reply):
                return reply
        raise AssertionError(f"no matching reply; got {self.replies}")

    def final(self, rid: str, timeout: float = 60.0) -> tuple[str, list]:
        return self.wait_for(lambda r: r[0] in FINAL and r[1][:1] == [rid], timeout)

    def finals_for(self, rid: str) -> list:
        return [r for r in self.replies if r[0] in FINAL and r[1][:1] == [rid]]


@pytest.fixture
def gallery(tmp_path, paintings) -> Path:
    folder = tmp_path / "gallery"
    folder.mkdir()
    for p in paintings:
        shutil.copy(p, folder / p.name)
    return folder


@pytest.fixture
def client() -> Client:
    c = Client()
    yield c
    c.sock.close()


@pytest.fixture
def bridge_factory(engine, gallery, tmp_path, client):
    started: list[Bridge] = []

    def make(**kw) -> Bridge:
        cfg = BridgeConfig(host="127.0.0.1", port=0, reply_port=client.port, allow=(gallery,),
                           out_dir=tmp_path / "clips", **kw)
        bridge = Bridge(engine, cfg).start()
        client.target = bridge.address
        started.append(bridge)
        return bridge

    yield make
    for b in started:
        b.stop(timeout=30)
