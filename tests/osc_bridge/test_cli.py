"""`a2m-osc serve` as a gallery runs it, driven by `a2m-osc send`, stopped with SIGTERM."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import soundfile as sf

from ..conftest import REPO


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_send_and_sigterm(tiny_bundle, paintings, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    port, reply = free_udp_port(), free_udp_port()
    out = tmp_path / "clips"
    server = subprocess.Popen(
        [sys.executable, "-m", "osc_bridge.cli", "serve", "--port", str(port), "--reply-port",
         str(reply), "--bundle", str(tiny_bundle), "--allow", str(paintings[0].parent.parent),
         "--out", str(out), "--device", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = server.stdout.readline()
        assert "listening on udp://127.0.0.1:" in line and "loading tiny" in line, line
        line = server.stdout.readline()
        assert "serving debug-tiny on udp://127.0.0.1:" in line, server.stderr.read()
        send = subprocess.run(
            [sys.executable, "-m", "osc_bridge.cli", "send", "generate", "gallery-1",
             str(paintings[0]), "a shout across the bridge", "3", "--port", str(port),
             "--reply-port", str(reply), "--timeout", "120"],
            capture_output=True, text=True, env=env, timeout=180)
        assert send.returncode == 0, send.stdout + send.stderr
        lines = send.stdout.splitlines()
        assert lines[0] == "/a2m/accepted gallery-1 0"
        done = lines[-1].split()
        assert done[:2] == ["/a2m/done", "gallery-1"] and done[-1] == "22050"
        assert sf.info(done[2]).frames == 896 * 256
        status = subprocess.run(
            [sys.executable, "-m", "osc_bridge.cli", "send", "status", "--port", str(port),
             "--reply-port", str(reply), "--timeout", "10"],
            capture_output=True, text=True, env=env, timeout=60)
        assert status.stdout.strip() == "/a2m/status debug-tiny cpu 0 0 ready"
    finally:
        server.send_signal(signal.SIGTERM)
        start = time.monotonic()
        code = server.wait(timeout=30)
    assert code == 0 and time.monotonic() - start < 30
    assert "SIGTERM" in server.stderr.read()


def test_send_without_a_server_times_out_with_a_hint(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run(
        [sys.executable, "-m", "osc_bridge.cli", "send", "status", "--port",
         str(free_udp_port()), "--reply-port", str(free_udp_port()), "--timeout", "1"],
        capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 3 and "is the bridge running" in res.stderr


def test_serve_names_a_model_that_is_not_installed_and_how_to_fetch_it(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "A2M_HOME": str(tmp_path / "home")}
    res = subprocess.run(
        [sys.executable, "-m", "osc_bridge.cli", "serve", "--model", "paper", "--port",
         str(free_udp_port()), "--out", str(tmp_path / "clips")],
        capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        "a2m-osc: error: model 'paper' is not installed: run `a2m models fetch paper`"]
