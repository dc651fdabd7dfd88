"""An installation asks the bridge itself to play an endless soundscape: start, queue scenes,
hear them crossfade, read the status, stop (a fake output device stands in for the card)."""
from __future__ import annotations

import time

import numpy as np

from osc_bridge import Bridge, BridgeConfig, ErrorCode

from ..fakes import FakeStream


def streaming_bridge(engine, gallery, tmp_path, client, device) -> Bridge:
    """A started bridge whose soundscape plays on ``device`` (a fake output), replying to
    ``client``."""
    cfg = BridgeConfig(port=0, reply_port=client.port, allow=(gallery,), out_dir=tmp_path)
    bridge = Bridge(engine, cfg, stream_factory=device).start()
    client.target = bridge.address
    return bridge


def test_stream_start_next_status_stop(engine, gallery, tmp_path, client):
    bridge = streaming_bridge(engine, gallery, tmp_path, client, FakeStream)
    painting = str(next(gallery.glob("*starry*")))
    try:
        client.send("/a2m/stream/next", "s0", painting, "too early")
        _, args = client.final("s0", timeout=5)
        assert args[2] == ErrorCode.BAD_REQUEST and "/a2m/stream/start" in args[1]

        client.send("/a2m/stream/start", "3")
        _, status = client.wait_for(lambda r: r[0] == "/a2m/stream/status", timeout=5)
        assert status == ["", 0, 0, "3", "playing"]
        stream = FakeStream.instances[-1]
        assert stream.device == 3

        client.send("/a2m/stream/next", "s1", painting, "the night begins", 1)
        assert client.wait_for(lambda r: r[0] == "/a2m/accepted" and r[1][0] == "s1")
        address, done = client.final("s1", timeout=60)  # the WAV is written as for any clip
        assert address == "/a2m/done" and done[1].endswith(".wav")
        deadline = time.monotonic() + 10
        while bridge.soundscape._ready is None and time.monotonic() < deadline:
            time.sleep(0.01)
        heard = np.concatenate([stream.pull(1024) for _ in range(20)])
        assert not np.isnan(heard).any() and np.abs(heard).max() > 0

        client.send("/a2m/stream/next", "s2", str(gallery / "missing.jpg"), "lost")
        _, args = client.final("s2", timeout=5)
        assert args[2] == ErrorCode.FILE_REFUSED  # refused at acceptance, the sound goes on
        assert not np.isnan(stream.pull(1024)).any()

        client.send("/a2m/stream/status")
        _, status = client.wait_for(lambda r: r[0] == "/a2m/stream/status" and r[1][0],
                                    timeout=5)
        assert status[0] == "the night begins" and status[-1] == "playing"
        client.send("/a2m/stream/stop")
        _, status = client.wait_for(lambda r: r[0] == "/a2m/stream/status" and
                                    r[1][-1] == "stopped", timeout=5)
        assert stream.closed and bridge.soundscape is None
    finally:
        bridge.stop(timeout=30)


def test_a_loop_request_writes_a_clip_that_repeats_seamlessly(bridge_factory, client, gallery):
    import soundfile as sf

    bridge_factory()
    client.send("/a2m/loop", "l1", str(next(gallery.glob("*starry*"))), "round and round", 2)
    address, args = client.final("l1")
    assert address == "/a2m/done"
    audio, sr = sf.read(args[1])
    assert audio.size == 896 * 256 - sr // 2


def _five_scenes(client, painting: str) -> list[str]:
    ids = [f"q{i}" for i in range(5)]
    for i, rid in enumerate(ids):
        client.send("/a2m/stream/next", rid, painting, f"scene {i}", i)
    for rid in ids:
        client.wait_for(lambda r, rid=rid: r[0] in ("/a2m/accepted", "/a2m/error")
                        and r[1][0] == rid, timeout=10)
    return ids


def test_scenes_still_queued_at_stream_stop_are_each_answered_once(engine, gallery,
                                                                   tmp_path, client):
    bridge = streaming_bridge(engine, gallery, tmp_path, client, FakeStream)
    try:
        client.send("/a2m/stream/start")
        client.wait_for(lambda r: r[0] == "/a2m/stream/status", timeout=5)
        ids = _five_scenes(client, str(next(gallery.glob("*starry*"))))
        client.send("/a2m/stream/stop")
        client.wait_for(lambda r: r[0] == "/a2m/stream/status" and r[1][-1] == "stopped",
                        timeout=30)
        finals = {rid: client.final(rid, timeout=30) for rid in ids}
        time.sleep(0.3)  # nothing more may come
        for rid in ids:
            assert len(client.finals_for(rid)) == 1, client.replies
        cancelled = [rid for rid, (a, args) in finals.items()
                     if a == "/a2m/error" and args[2] == ErrorCode.CANCELLED]
        assert len(cancelled) >= 3  # at most one generated and one in the making
    finally:
        bridge.stop(timeout=30)


def test_scenes_still_queued_when_the_bridge_stops_are_each_answered_once(engine, gallery,
                                                                         tmp_path, client):
    bridge = streaming_bridge(engine, gallery, tmp_path, client, FakeStream)
    client.send("/a2m/stream/start")
    client.wait_for(lambda r: r[0] == "/a2m/stream/status", timeout=5)
    ids = _five_scenes(client, str(next(gallery.glob("*starry*"))))
    bridge.stop(timeout=30)  # what SIGTERM does
    for rid in ids:
        client.final(rid, timeout=10)
        assert len(client.finals_for(rid)) == 1


def test_the_soundscape_plays_on_a_device_that_runs_only_at_48k(engine, gallery, tmp_path,
                                                                client):
    from ..fakes import Only48kStream

    bridge = streaming_bridge(engine, gallery, tmp_path, client, Only48kStream)
    try:
        client.send("/a2m/stream/start")
        _, status = client.wait_for(lambda r: r[0] == "/a2m/stream/status", timeout=5)
        assert status[3] == "system (JACK)" and status[-1] == "playing"
        client.send("/a2m/stream/next", "j1", str(next(gallery.glob("*starry*"))), "jack", 1)
        assert client.final("j1", timeout=60)[0] == "/a2m/done"
        deadline = time.monotonic() + 10
        while bridge.soundscape._ready is None and time.monotonic() < deadline:
            time.sleep(0.01)
        heard = Only48kStream.instances[-1].pull(48000)
        assert not np.isnan(heard).any() and np.abs(heard).max() > 0
    finally:
        bridge.stop(timeout=30)


def test_a_device_that_cannot_open_is_answered_with_the_request_named(engine, gallery,
                                                                      tmp_path, client):
    def broken(**kwargs):
        raise RuntimeError("Invalid sample rate [PaErrorCode -9997]")

    bridge = streaming_bridge(engine, gallery, tmp_path, client, broken)
    try:
        client.send("/a2m/stream/start")
        _, args = client.wait_for(lambda r: r[0] == "/a2m/error", timeout=5)
        assert args[0] == "/a2m/stream/start" and "Invalid sample rate" in args[1]
        assert args[2] == ErrorCode.GENERATION_FAILED and bridge.soundscape is None
    finally:
        bridge.stop(timeout=30)
