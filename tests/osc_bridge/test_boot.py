"""A gallery boots the bridge and its host software together: the bridge is never deaf while
its model loads, and nothing sent meanwhile is lost."""
from __future__ import annotations

import threading
import time

from osc_bridge import Bridge, BridgeConfig, ErrorCode


def slow_loader(engine, gate: threading.Event):
    def load():
        gate.wait(30)  # the model "loads" until the test lets it
        return engine

    return load


def test_status_says_loading_at_once_and_early_requests_are_served(engine, gallery, tmp_path,
                                                                   client):
    gate = threading.Event()
    started = time.monotonic()
    cfg = BridgeConfig(port=0, reply_port=client.port, allow=(gallery,), out_dir=tmp_path)
    bridge = Bridge(slow_loader(engine, gate), cfg, model_label="tiny").start()
    try:
        client.target = bridge.address
        client.send("/a2m/status")
        _, status = client.wait_for(lambda r: r[0] == "/a2m/status", timeout=2)
        assert status == ["tiny", "", 0, 0, "loading"]
        assert time.monotonic() - started < 2.0
        painting = str(next(gallery.glob("*.jpg")))
        client.send("/a2m/generate", "early", painting, "are you there?", 1)
        _, accepted = client.wait_for(lambda r: r[0] == "/a2m/accepted", timeout=2)
        assert accepted == ["early", 0]
        gate.set()  # the model is ready now
        _, ready = client.wait_for(lambda r: r[0] == "/a2m/ready", timeout=10)
        assert ready == [engine.name, "cpu"]
        assert client.final("early")[0] == "/a2m/done"
        time.sleep(0.2)
        client.wait_for(lambda r: True, timeout=0.1)
        assert len(client.finals_for("early")) == 1
        client.send("/a2m/status")
        _, status = client.wait_for(lambda r: r[0] == "/a2m/status" and r[1][-1] == "ready",
                                    timeout=5)
        assert status[:2] == [engine.name, "cpu"]
    finally:
        gate.set()
        bridge.stop(timeout=30)


def test_a_model_that_fails_to_load_is_reported_and_the_bridge_keeps_answering(
        gallery, tmp_path, client):
    def broken():
        raise RuntimeError("the bundle is torn")

    cfg = BridgeConfig(port=0, reply_port=client.port, allow=(gallery,), out_dir=tmp_path)
    bridge = Bridge(broken, cfg, model_label="torn").start()
    try:
        client.target = bridge.address
        deadline = time.monotonic() + 5
        while bridge.state == "loading" and time.monotonic() < deadline:
            time.sleep(0.01)
        client.send("/a2m/status")
        _, status = client.wait_for(lambda r: r[0] == "/a2m/status", timeout=2)
        assert status[-1] == "error: the bundle is torn"
        client.send("/a2m/generate", "late", str(next(gallery.glob("*.jpg"))), "hello")
        _, args = client.final("late", timeout=5)
        assert args[2] == ErrorCode.GENERATION_FAILED and "failed to load" in args[1]
    finally:
        bridge.stop(timeout=30)


def test_a_request_queued_while_loading_is_answered_on_shutdown(engine, gallery, tmp_path,
                                                                client):
    gate = threading.Event()
    cfg = BridgeConfig(port=0, reply_port=client.port, allow=(gallery,), out_dir=tmp_path)
    bridge = Bridge(slow_loader(engine, gate), cfg).start()
    client.target = bridge.address
    client.send("/a2m/generate", "waiting", str(next(gallery.glob("*.jpg"))), "soon")
    client.wait_for(lambda r: r[0] == "/a2m/accepted", timeout=2)
    bridge.stop(timeout=30)
    gate.set()
    _, args = client.final("waiting", timeout=5)
    assert args[2] == ErrorCode.CANCELLED


def test_heartbeats_reach_whoever_talked_to_the_bridge(engine, gallery, tmp_path, client):
    cfg = BridgeConfig(port=0, reply_port=client.port, allow=(gallery,), out_dir=tmp_path,
                       heartbeat_s=0.2)
    bridge = Bridge(engine, cfg).start()
    try:
        client.target = bridge.address
        client.send("/a2m/status")
        client.wait_for(lambda r: r[0] == "/a2m/status", timeout=2)
        beats = []
        deadline = time.monotonic() + 3
        while len(beats) < 2 and time.monotonic() < deadline:
            _, args = client.wait_for(lambda r: r[0] == "/a2m/heartbeat" and r not in beats,
                                      timeout=2)
            beats.append(("/a2m/heartbeat", args))
        assert [b[1][:2] for b in beats] == [["ready", 0], ["ready", 0]]
        assert beats[1][1][2] > beats[0][1][2] > 0  # uptime grows
    finally:
        bridge.stop(timeout=30)


def test_requests_sent_a_tenth_of_a_second_after_launch_are_answered(tiny_bundle, paintings,
                                                                     tmp_path, client):
    """An installation that boots with the bridge sends at once: those packets must wait in
    a bound socket, not hit a port nobody holds while torch imports."""
    import os
    import signal
    import subprocess
    import sys

    from ..conftest import REPO
    from .test_cli import free_udp_port

    port = free_udp_port()
    client.target = ("127.0.0.1", port)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    launched = time.monotonic()
    server = subprocess.Popen(
        [sys.executable, "-m", "osc_bridge.launch", "serve", "--port", str(port),
         "--reply-port", str(client.port), "--bundle", str(tiny_bundle), "--allow",
         str(paintings[0].parent.parent), "--out", str(tmp_path / "clips"), "--device", "cpu"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    try:
        time.sleep(max(0.0, launched + 0.1 - time.monotonic()))
        client.send("/a2m/status")
        client.send("/a2m/generate", "at-launch", str(paintings[0]), "the doors open", 1)
        _, status = client.wait_for(lambda r: r[0] == "/a2m/status", timeout=60)
        assert status[-1] in ("starting", "loading", "ready")  # answered from the bind on
        address, args = client.final("at-launch", timeout=120)
        assert address == "/a2m/done", args
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=30)
    assert code == 0, server.stderr.read()
