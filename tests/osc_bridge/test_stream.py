"""An installation asks the bridge itself to play an endless soundscape: start, queue scenes,
hear them crossfade, read the status, stop (a fake output device stands in for the card)."""
from __future__ import annotations

import time

import numpy as np

from osc_bridge import Bridge, BridgeConfig, ErrorCode

from ..fakes import FakeStream


def test_stream_start_next_status_stop(engine, gallery, tmp_path, client):
    cfg = BridgeConfig(port=0, reply_port=client.port, allow=(gallery,), out_dir=tmp_path)
    bridge = Bridge(engine, cfg, stream_factory=FakeStream).start()
    client.target = bridge.address
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
