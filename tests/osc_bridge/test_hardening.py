"""The bridge probed as an attacker and a careless user would, on loopback: no packet can
misdirect replies or loop them, a queued file swapped after acceptance is never read, every
request whose id can be read gets exactly one final reply, and the clips folder stays bounded.
"""
from __future__ import annotations

import os
import time

import numpy as np
import pytest
import soundfile as sf
from pythonosc.osc_message_builder import OscMessageBuilder

from osc_bridge import Bridge, BridgeConfig, ErrorCode

from .conftest import Client


def packet(address: str, *args) -> bytes:
    b = OscMessageBuilder(address=address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def test_a_spoofed_reply_loop_produces_no_more_than_a_few_replies(bridge_factory, client):
    bridge = bridge_factory()
    dispatcher = bridge.server.dispatcher
    own = bridge.address
    # 1. reply_to pointing at the bridge itself, "from" the bridge itself, then status.
    dispatcher.call_handlers_for_packet(packet("/a2m/reply_to", own[0], own[1]), own)
    dispatcher.call_handlers_for_packet(packet("/a2m/status"), own)
    # 2. a client asks for its replies to go to the bridge's own port.
    client.send("/a2m/reply_to", "127.0.0.1", own[1])
    _, args = client.wait_for(lambda r: r[0] == "/a2m/error", timeout=5)
    assert "own address" in args[1]
    # 3. another bridge's replies (and mangled ones) arriving here are never answered.
    for reply in (packet("/a2m/error", "x", "boom", 1), packet("/a2m/status", "b", "cpu", 0, 0),
                  packet("/a2m/done", "x", "/tmp/a.wav", 1.0, 22050)):
        client.send_raw(reply)
    time.sleep(0.5)
    assert bridge.sent[own] == 0
    assert sum(bridge.sent.values()) <= 3, bridge.sent  # the one refusal above, no loop


def test_reply_to_another_host_is_refused_unless_allowed(bridge_factory, client):
    bridge_factory()
    client.send("/a2m/reply_to", "10.1.2.3", 9001)
    _, args = client.wait_for(lambda r: r[0] == "/a2m/error", timeout=5)
    assert "may only name your own host" in args[1] and "--reply-hosts" in args[1]
    bridge_factory(reply_hosts=("10.1.2.3",))  # the operator allows it: accepted silently
    client.replies.clear()
    client.send("/a2m/reply_to", "10.1.2.3", 9001)
    time.sleep(0.3)
    client.sock.settimeout(0.2)
    with pytest.raises(TimeoutError):
        client.sock.recvfrom(65536)


def test_replies_can_go_to_the_source_port(bridge_factory, client):
    bridge = bridge_factory(reply_to_source_port=True)
    other = Client()
    try:
        other.target = bridge.address
        other.send("/a2m/status")  # no reply_to, no --reply-port match: the source port
        assert other.wait_for(lambda r: r[0] == "/a2m/status", timeout=5)
    finally:
        other.sock.close()


def test_a_flood_of_bad_packets_is_rate_limited(bridge_factory, client):
    bridge_factory(reply_rate=50.0)
    for _ in range(400):
        client.send_raw(b"\x00garbage")
    time.sleep(0.5)
    try:
        client.wait_for(lambda r: False, timeout=0.3)
    except AssertionError:
        pass
    assert 50 <= len(client.replies) <= 150, len(client.replies)  # burst 100, then ~50/s


def test_a_file_swapped_for_an_outside_symlink_after_acceptance_is_never_read(
        bridge_factory, client, gallery, tmp_path):
    bridge = bridge_factory()
    painting = next(gallery.glob("*starry*"))
    swap = gallery / "swap.jpg"
    swap.write_bytes(painting.read_bytes())
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(next(p for p in gallery.glob("*.jpg") if "starry" not in p.name)
                       .read_bytes())
    gate = __import__("threading").Event()
    original = bridge.engine.run
    bridge.engine.run = lambda *a, **kw: (gate.wait(10), original(*a, **kw))[1]
    try:
        client.send("/a2m/generate", "swap", str(swap), "the same sky", 3)
        client.wait_for(lambda r: r[0] == "/a2m/accepted")
        swap.unlink()
        swap.symlink_to(secret)  # swapped while queued
        gate.set()
        _, args = client.final("swap")
    finally:
        gate.set()
        del bridge.engine.run
    expected = bridge.engine.generate(painting, "the same sky", seed=3).audio
    got, _ = sf.read(args[1])
    assert np.abs(got - expected).max() < 1e-3  # the clip of the original file


@pytest.mark.parametrize("case", ["non-utf8", "long-name", "symlink-loop", "fifo", "folder"])
def test_every_readable_id_gets_exactly_one_final_reply(bridge_factory, client, gallery,
                                                        case):
    bridge_factory()
    rid = f"id-{case}"
    if case == "non-utf8":
        data = packet("/a2m/generate", rid, str(gallery / "a.jpg"), "c")
        client.send_raw(data.replace(b"c\x00\x00\x00", b"\xff\xfe\x00\x00"))
        expected = "not valid UTF-8"
    elif case == "long-name":
        client.send("/a2m/generate", rid, str(gallery / ("n" * 4000 + ".jpg")), "c")
        expected = "the name is too long"
    elif case == "symlink-loop":
        (gallery / "loop.jpg").symlink_to(gallery / "loop.jpg")
        client.send("/a2m/generate", rid, str(gallery / "loop.jpg"), "c")
        expected = "symlink loop"
    elif case == "fifo":
        os.mkfifo(gallery / "pipe.jpg")
        client.send("/a2m/generate", rid, str(gallery / "pipe.jpg"), "c")
        expected = "not a regular file (a FIFO)"
    else:
        (gallery / "dir.jpg").mkdir()
        client.send("/a2m/generate", rid, str(gallery / "dir.jpg"), "c")
        expected = "not a regular file (a folder)"
    address, args = client.final(rid, timeout=10)
    assert address == "/a2m/error" and expected in args[1], args
    time.sleep(0.3)
    try:
        client.wait_for(lambda r: False, timeout=0.2)
    except AssertionError:
        pass
    assert len(client.finals_for(rid)) == 1


def test_stale_temps_go_at_start_and_keep_clips_keeps_three(engine, gallery, tmp_path,
                                                            client):
    out = tmp_path / "clips"
    out.mkdir()
    stale = out / ".20261125-101010-x-0123abcd.wav.a2m-tmp.k3j2.wav"
    stale.write_bytes(b"half a clip")
    mine = out / "keep-me.wav"  # not a clip name the bridge gives: never pruned
    mine.write_bytes(b"RIFF")
    cfg = BridgeConfig(port=0, reply_port=client.port, allow=(gallery,), out_dir=out,
                       keep_clips=3)
    bridge = Bridge(engine, cfg).start()
    try:
        assert not stale.exists() and bridge.stale_removed == [stale]
        client.target = bridge.address
        painting = str(next(gallery.glob("*.jpg")))
        for i in range(5):
            client.send("/a2m/generate", f"k{i}", painting, "again", i)
            assert client.final(f"k{i}", timeout=60)[0] == "/a2m/done"
    finally:
        bridge.stop(timeout=30)
    clips = sorted(p.name for p in out.glob("2*.wav"))
    assert len(clips) == 3 and mine.exists()
    last = [args[1] for addr, args in client.replies if addr == "/a2m/done"][-1]
    assert os.path.basename(last) in clips  # the newest, replied about, is kept


def test_a_generate_still_in_the_socket_at_shutdown_is_answered(engine, gallery, tmp_path,
                                                                client):
    cfg = BridgeConfig(port=0, reply_port=client.port, allow=(gallery,), out_dir=tmp_path)
    bridge = Bridge(engine, cfg).start()
    client.target = bridge.address
    bridge.server.shutdown()  # the loop has stopped reading, as when SIGTERM arrives
    client.send("/a2m/generate", "last-second", str(next(gallery.glob("*starry*"))), "bye")
    time.sleep(0.2)
    bridge.stop(timeout=30)
    address, args = client.final("last-second", timeout=5)
    assert address == "/a2m/error" and args[2] == ErrorCode.CANCELLED
    assert len(client.finals_for("last-second")) == 1


def test_shutdown_mid_vocoder_answers_within_two_seconds(gallery, tmp_path, client):
    """The mel starter vocodes for ~5 s on 2 cores: a stop must not wait for it."""
    from a2m_core import Art2Music
    from a2m_core.defaults import STARTER_MEL

    engine = Art2Music.load(STARTER_MEL, device="cpu")
    cfg = BridgeConfig(port=0, reply_port=client.port, allow=(gallery,), out_dir=tmp_path)
    bridge = Bridge(engine, cfg).start()
    client.target = bridge.address
    client.send("/a2m/generate", "long", str(next(gallery.glob("*starry*"))), "wide sky", 1)
    client.wait_for(lambda r: r[0] == "/a2m/progress" and r[1][1] == "vocoder", timeout=60)
    time.sleep(0.5)
    started = time.monotonic()
    bridge.stop(timeout=30)
    took = time.monotonic() - started
    address, args = client.final("long", timeout=5)
    assert address == "/a2m/error" and args[2] == ErrorCode.CANCELLED
    assert took < 2.0, f"stop took {took:.1f} s"
