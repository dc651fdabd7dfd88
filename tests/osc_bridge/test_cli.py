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


def test_sigterm_while_the_starter_loads_exits_cleanly_and_answers_what_was_queued(
        paintings, tmp_path):
    """A gallery machine shut down during the bridge's first seconds: the model is still
    loading in native code. The queued generate gets error 5 and the process exits 0, at
    every moment of the load (finalising under a loading thread used to abort with -6)."""
    from pythonosc.osc_message import OscMessage
    from pythonosc.osc_message_builder import OscMessageBuilder

    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    for delay in (0.05, 1.0, 2.5):
        port = free_udp_port()
        replies = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        replies.bind(("127.0.0.1", 0))
        server = subprocess.Popen(
            [sys.executable, "-m", "osc_bridge.launch", "serve", "--port", str(port),
             "--reply-port", str(replies.getsockname()[1]), "--allow",
             str(paintings[0].parent.parent), "--out", str(tmp_path / "clips")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert "loading" in server.stdout.readline()
        msg = OscMessageBuilder("/a2m/generate")
        for arg in ("queued-1", str(paintings[0]), "the lights go out"):
            msg.add_arg(arg)
        replies.sendto(msg.build().dgram, ("127.0.0.1", port))
        time.sleep(delay)
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=60)
        log = server.stderr.read()
        replies.settimeout(2)
        finals = []
        try:
            while True:
                reply = OscMessage(replies.recvfrom(65536)[0])
                if reply.address in ("/a2m/done", "/a2m/error"):
                    finals.append((reply.address, list(reply.params)))
        except TimeoutError:
            pass
        replies.close()
        assert code == 0, f"exit {code} after {delay} s:\n{log[-800:]}"
        if delay < 0.2:  # surely still loading: the path that must not abort
            assert "stopped while the model was loading" in log
        assert len(finals) == 1 and finals[0][1][0] == "queued-1", finals
        if finals[0][0] == "/a2m/error":
            assert finals[0][1][2] == 5


def _collect(sock: socket.socket, seconds: float) -> list:
    from pythonosc.osc_message import OscMessage

    got, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            msg = OscMessage(sock.recvfrom(65536)[0])
        except TimeoutError:
            break
        got.append((msg.address, list(msg.params)))
    return got


def _stop(server: subprocess.Popen) -> tuple[int | None, float]:
    """SIGTERM, then (exit code, seconds from the signal to the exit); killed if it hangs."""
    server.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    try:
        code = server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        code = None
    return code, time.monotonic() - stopped


def _osc(address: str, *args) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    msg = OscMessageBuilder(address)
    for a in args:
        msg.add_arg(a)
    return msg.build().dgram


def test_from_the_bind_on_the_bridge_answers_status_and_obeys_sigterm(paintings, tmp_path):
    """An installation boots with the bridge: a status sent at once is answered ("starting")
    while torch still imports, and SIGTERM half a second in stops it cleanly, with the
    queued generate answered."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    port = free_udp_port()
    replies = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    replies.bind(("127.0.0.1", 0))
    launched = time.monotonic()
    server = subprocess.Popen(
        [sys.executable, "-m", "osc_bridge.launch", "serve", "--port", str(port),
         "--reply-port", str(replies.getsockname()[1]), "--allow",
         str(paintings[0].parent.parent), "--out", str(tmp_path / "clips")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        status = []
        while not status and time.monotonic() - launched < 0.45:
            replies.sendto(_osc("/a2m/status"), ("127.0.0.1", port))
            status = [r for r in _collect(replies, 0.02) if r[0] == "/a2m/status"]
        assert status and status[0][1][-1] == "starting", status
        answered = time.monotonic() - launched
        replies.sendto(_osc("/a2m/generate", "boot-1", str(paintings[0]), "first light"),
                       ("127.0.0.1", port))
        time.sleep(max(0.0, 0.5 - (time.monotonic() - launched)))
    finally:
        code, exit_s = _stop(server)
    finals = [r for r in _collect(replies, 1.0) if r[0] in ("/a2m/done", "/a2m/error")]
    replies.close()
    assert code == 0 and answered < 0.45
    assert finals == [("/a2m/error", ["boot-1", "server shutting down", 5])], finals
    assert "SIGTERM while starting" in server.stderr.read() and exit_s < 1.0


def test_the_bridge_exits_within_a_second_of_sigterm_once_its_replies_are_out(
        tiny_bundle, paintings, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    port = free_udp_port()
    replies = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    replies.bind(("127.0.0.1", 0))
    server = subprocess.Popen(
        [sys.executable, "-m", "osc_bridge.launch", "serve", "--port", str(port),
         "--reply-port", str(replies.getsockname()[1]), "--bundle", str(tiny_bundle),
         "--allow", str(paintings[0].parent.parent), "--out", str(tmp_path / "clips"),
         "--device", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        server.stdout.readline()
        assert "serving" in server.stdout.readline()
        for k in range(3):
            replies.sendto(_osc("/a2m/generate", f"g{k}", str(paintings[0]), "storm"),
                           ("127.0.0.1", port))
        got = _collect(replies, 0.3)
        assert any(r[0] == "/a2m/accepted" for r in got)
    finally:
        code, exit_s = _stop(server)
    got += _collect(replies, 1.0)
    replies.close()
    finals = {r[1][0]: r[0] for r in got if r[0] in ("/a2m/done", "/a2m/error")}
    assert code == 0 and set(finals) == {"g0", "g1", "g2"}, got
    assert exit_s < 1.0, f"{exit_s:.2f} s from SIGTERM to exit"
