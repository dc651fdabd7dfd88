"""An installation talks UDP OSC to a real bridge on loopback, with a tiny bundle."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import soundfile as sf

from osc_bridge import Bridge, BridgeConfig, ErrorCode

from .conftest import FINAL, Client  # noqa: F401


def test_a_request_is_accepted_progresses_and_returns_a_wav(bridge_factory, client, gallery):
    bridge = bridge_factory()
    assert bridge.receive_buffer >= 1 << 20  # a burst waits in the kernel, not on the floor
    painting = next(gallery.glob("*starry*"))
    client.send("/a2m/generate", "r1", str(painting), "the sky is alive", 7, "Orchestra; calm")
    address, args = client.final("r1")
    assert address == "/a2m/done", args
    rid, wav, duration, sr = args
    assert Path(wav).parent == bridge.out_dir and sr == 22050
    assert duration == pytest.approx(10.40, abs=0.01)
    data, file_sr = sf.read(wav)
    assert file_sr == 22050 and len(data) == 896 * 256
    assert client.replies[0] == ("/a2m/accepted", ["r1", 0])
    stages = [args[1] for addr, args in client.replies if addr == "/a2m/progress"]
    assert stages == ["encode", "mel", "vocoder", "finish", "done"]


def test_status_answers_while_a_clip_is_generating(bridge_factory, client, gallery):
    bridge = bridge_factory()
    gate = threading.Event()
    original = bridge.engine.run

    def slow_generate(*a, **kw):
        gate.wait(10)
        return original(*a, **kw)

    bridge.engine.run = slow_generate
    try:
        client.send("/a2m/generate", "slow", str(next(gallery.glob("*.jpg"))), "wait")
        client.wait_for(lambda r: r[0] == "/a2m/accepted")
        deadline = time.monotonic() + 10
        while bridge._current is None and time.monotonic() < deadline:
            time.sleep(0.01)  # the worker has taken the job (and is held at the gate)
        client.send("/a2m/status")
        _, status = client.wait_for(lambda r: r[0] == "/a2m/status", timeout=5)
        assert status == [bridge.engine.name, "cpu", 0, 1, "ready"]
    finally:
        gate.set()
        del bridge.engine.run
    assert client.final("slow")[0] == "/a2m/done"


def test_a_burst_fills_the_queue_and_every_request_gets_one_final_reply(
        bridge_factory, client, gallery):
    bridge_factory(queue_depth=2)
    painting = str(next(gallery.glob("*.jpg")))
    ids = [f"burst{i}" for i in range(6)]
    for rid in ids:
        client.send("/a2m/generate", rid, painting, "a burst of joy", 1)
    finals = {rid: client.final(rid, timeout=120) for rid in ids}
    time.sleep(0.3)  # any duplicate final reply would arrive by now
    client.wait_for(lambda r: True, timeout=0.1)
    full = [rid for rid, (addr, args) in finals.items()
            if addr == "/a2m/error" and args[2] == ErrorCode.QUEUE_FULL]
    done = [rid for rid, (addr, _) in finals.items() if addr == "/a2m/done"]
    assert full and done and len(full) + len(done) == len(ids)
    assert all(len(client.finals_for(rid)) == 1 for rid in ids)
    wavs = {args[1] for addr, args in finals.values() if addr == "/a2m/done"}
    assert len(wavs) == len(done)  # unique names, nothing overwritten


def test_bad_requests_get_error_replies_and_the_server_keeps_serving(
        bridge_factory, client, gallery, tmp_path):
    bridge_factory()
    outside = tmp_path / "private.jpg"
    outside.write_bytes(next(gallery.glob("*.jpg")).read_bytes())
    fake = gallery / "notes.jpg"
    fake.write_text("not a picture")
    cases = [
        (("/a2m/generate", "e1", str(gallery / "missing.jpg"), "hello"), ErrorCode.FILE_REFUSED,
         "not found"),
        (("/a2m/generate", "e2", str(outside), "hello"), ErrorCode.FILE_REFUSED, "outside"),
        (("/a2m/generate", "e3", str(fake), "hello"), ErrorCode.FILE_REFUSED, "not a readable"),
        (("/a2m/generate", "e4", str(fake)), ErrorCode.BAD_REQUEST, "got 2 arguments"),
        (("/a2m/generate", "e5", str(fake), 3.5), ErrorCode.BAD_REQUEST, "comment"),
        (("/a2m/generate", "e6", str(fake), "x" * 3000), ErrorCode.BAD_REQUEST, "longer"),
        (("/a2m/generate", "e7", str(fake), "hi", 2.5), ErrorCode.BAD_REQUEST, "seed"),
        (("/a2m/generate", "e8", str(gallery / ".." / "gallery" / ".." / "x.jpg"), "hi"),
         ErrorCode.FILE_REFUSED, "outside"),
    ]
    for message, code, text in cases:
        client.send(*message)
        _, args = client.final(message[1], timeout=10)
        assert args[2] == code and text in args[1], (message, args)
    client.send_raw(b"\x00\x01garbage that is not OSC")
    _, args = client.wait_for(lambda r: r[0] == "/a2m/error" and "malformed" in r[1][1])
    assert args[0] == "" and args[2] == ErrorCode.BAD_REQUEST
    client.send("/a2m/dance", 1)
    _, args = client.wait_for(lambda r: r[0] == "/a2m/error" and "unknown address" in r[1][1])
    # a host that sends its id as a number hears back under that number, as a string
    client.send("/a2m/generate", 42, str(next(gallery.glob("*.jpg"))), "hi")
    _, args = client.wait_for(lambda r: r[0] == "/a2m/error" and r[1][0] == "42")
    assert "not a number" in args[1] and args[2] == ErrorCode.BAD_REQUEST
    client.send("/a2m/generate", "ok", str(next(gallery.glob("*starry*"))), "still here")
    assert client.final("ok")[0] == "/a2m/done"


def test_a_corrupt_image_is_refused_by_the_worker(bridge_factory, client, gallery):
    bridge_factory()
    broken = gallery / "broken.jpg"
    data = next(gallery.glob("*starry*")).read_bytes()
    broken.write_bytes(data[:400])  # a valid header, then nothing
    client.send("/a2m/generate", "cut", str(broken), "half a painting")
    address, args = client.final("cut")
    assert address == "/a2m/error" and args[2] == ErrorCode.FILE_REFUSED and "broken" in args[1]


def test_cancel_a_queued_and_a_running_request(bridge_factory, client, gallery):
    bridge = bridge_factory()
    release = threading.Event()
    original = bridge.engine.run

    def held(*a, **kw):
        release.wait(10)  # the running job waits here until we have cancelled it
        return original(*a, **kw)

    bridge.engine.run = held
    try:
        painting = str(next(gallery.glob("*.jpg")))
        client.send("/a2m/generate", "running", painting, "first")
        client.send("/a2m/generate", "queued", painting, "second")
        client.wait_for(lambda r: r[0] == "/a2m/accepted" and r[1][0] == "queued")
        client.send("/a2m/cancel", "queued")
        _, args = client.final("queued", timeout=5)
        assert args[2] == ErrorCode.CANCELLED and "queued" in args[1]
        client.send("/a2m/cancel", "running")
        time.sleep(0.2)
    finally:
        release.set()
        del bridge.engine.run
    _, args = client.final("running")
    assert args[2] == ErrorCode.CANCELLED
    client.send("/a2m/cancel", "never-existed")  # ignored: no reply, no crash
    client.send("/a2m/status")
    assert client.wait_for(lambda r: r[0] == "/a2m/status")[1][2:] == [0, 0, "ready"]


def test_reply_to_redirects_replies(bridge_factory, client, gallery):
    bridge_factory()
    other = Client()
    try:
        client.send("/a2m/reply_to", "127.0.0.1", other.port)
        client.send("/a2m/status")
        assert other.wait_for(lambda r: r[0] == "/a2m/status", timeout=5)
        client.send("/a2m/reply_to", "127.0.0.1", "nine")
        _, args = other.wait_for(lambda r: r[0] == "/a2m/error", timeout=5)
        assert "s:host i:port" in args[1]
    finally:
        other.sock.close()


def test_shutdown_cancels_the_queue_visibly(engine, gallery, tmp_path, client):
    cfg = BridgeConfig(port=0, reply_port=client.port, allow=(gallery,), out_dir=tmp_path)
    bridge = Bridge(engine, cfg).start()
    client.target = bridge.address
    release = threading.Event()
    original = engine.run
    engine.run = lambda *a, **kw: (release.wait(10), original(*a, **kw))[1]
    try:
        painting = str(next(gallery.glob("*.jpg")))
        for rid in ("a", "b", "c"):
            client.send("/a2m/generate", rid, painting, "closing time")
        client.wait_for(lambda r: r[0] == "/a2m/accepted" and r[1][0] == "c")
        stopper = threading.Thread(target=bridge.stop)
        stopper.start()
        time.sleep(0.3)
        release.set()
        stopper.join(30)
    finally:
        del engine.run
    assert not stopper.is_alive()
    for rid in ("a", "b", "c"):
        address, args = client.final(rid, timeout=10)
        assert address == "/a2m/error" and args[2] == ErrorCode.CANCELLED
    client.send("/a2m/status")  # the socket is closed: nobody answers any more
    with pytest.raises(AssertionError, match="no matching reply"):
        client.wait_for(lambda r: r[0] == "/a2m/status", timeout=0.5)


def test_progress_per_chunk_reports_the_vocoder_as_it_goes(bridge_factory, client, gallery):
    bridge_factory(progress_per_chunk=True)
    client.send("/a2m/generate", "c1", str(next(gallery.glob("*starry*"))), "the sky is alive")
    address, args = client.final("c1")
    assert address == "/a2m/done", args
    progress = [args for addr, args in client.replies if addr == "/a2m/progress"]
    stages = [a[1] for a in progress]
    assert stages[:2] == ["encode", "mel"] and stages[-1] == "done"
    vocoder = [a[2] for a in progress if a[1] == "vocoder"]
    # one per chunk, rising (paced chunks: 16-32 frames first, growing to 256)
    assert len(vocoder) >= 4 and vocoder == sorted(vocoder)
    data, _ = sf.read(args[1])
    assert len(data) == 896 * 256


def test_a_notes_bundle_reports_its_plan_and_writes_midi_beside_the_wav(
        client, gallery, tmp_path):
    """A TouchDesigner host reads the plan (tempo for its visuals) and the MIDI path."""
    from a2m_core import Art2Music
    from a2m_core.debug import build_debug_bundle, tiny_notes_config
    from a2m_core.notes.sampler import FLUID_R3_GM

    if not Path(FLUID_R3_GM.path).is_file():
        pytest.skip("FluidR3_GM.sf2 missing: apt-get install fluid-soundfont-gm")
    engine = Art2Music.load(build_debug_bundle(tmp_path / "notes.safetensors",
                                               config=tiny_notes_config()), device="cpu")
    bridge = Bridge(engine, BridgeConfig(host="127.0.0.1", port=0, reply_port=client.port,
                                         allow=(gallery,), out_dir=tmp_path / "clips",
                                         midi=True)).start()
    client.target = bridge.address
    try:
        client.send("/a2m/generate", "n1", str(next(gallery.glob("*.jpg"))), "a storm", 4)
        address, args = client.final("n1")
        assert address == "/a2m/done", args
        plans = [a for addr, a in client.replies if addr == "/a2m/plan"]
        assert len(plans) == 1
        rid, text, tempo, key, instrument, midi = plans[0]
        assert rid == "n1" and f"{tempo:.0f} bpm · {key}" in text and instrument in text
        assert Path(midi) == Path(args[1]).with_suffix(".mid") and Path(midi).is_file()
        # the done reply is unchanged: id, WAV, duration, sample rate
        assert len(args) == 4 and Path(args[1]).suffix == ".wav"
        # the why-line comes right after the plan, before the final reply
        order = [addr for addr, a in client.replies if a[:1] == ["n1"]]
        assert order[-3:] == ["/a2m/plan", "/a2m/why", "/a2m/done"]
        why = next(a for addr, a in client.replies if addr == "/a2m/why")
        assert why[0] == "n1" and why[1].startswith("painting: ")
        # a visitor who writes nothing: an empty comment is a request like any other
        client.send("/a2m/generate", "n2", str(next(gallery.glob("*.jpg"))), "")
        assert client.final("n2")[0] == "/a2m/done"
        why2 = [a for addr, a in client.replies if addr == "/a2m/why" and a[0] == "n2"]
        assert "no comment: the painting leads" in why2[0][1]
        # every control in one JSON object: an installation sets the tempo of its visuals
        painting = next(gallery.glob("*.jpg"))
        client.send("/a2m/generate/json", "j1", json.dumps({
            "image": str(painting), "comment": "the sky weeps", "tempo": 72,
            "key": "F# minor", "instrument": "harp", "emotion": "sadness", "seed": 2}))
        assert client.final("j1")[0] == "/a2m/done"
        plan = next(a for addr, a in client.replies if addr == "/a2m/plan" and a[0] == "j1")
        assert plan[2:5] == [72.0, "F# minor", "harp"]
        assert "pinned: " in next(a for addr, a in client.replies
                                  if addr == "/a2m/why" and a[0] == "j1")[1]
        # a name nobody knows, a tempo out of range, not JSON: one clear refusal each
        for rid, text in (("j2", json.dumps({"image": str(painting), "tempi": 72})),
                          ("j3", json.dumps({"image": str(painting), "tempo": 900})),
                          ("j4", "{image: starry}")):
            client.send("/a2m/generate/json", rid, text)
            address, args = client.final(rid)
            assert address == "/a2m/error" and args[2] == int(ErrorCode.BAD_REQUEST), args
        assert "tempi" in client.final("j2")[1][1] and "tempo 900" in client.final("j3")[1][1]
        # the file a gallery chain wants: 24-bit FLAC
        client.send("/a2m/generate/json", "j5", json.dumps(
            {"image": str(painting), "format": "flac", "bits": 24}))
        address, args = client.final("j5")
        assert address == "/a2m/done" and sf.info(args[1]).subtype == "PCM_24"
    finally:
        bridge.stop(timeout=30)
