"""Argument validation, and the host examples speak the protocol the bridge parses."""
from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

from osc_bridge import protocol as p

EXAMPLES = Path(__file__).resolve().parents[2] / "osc_bridge" / "examples"


def test_generate_arguments_in_every_documented_form():
    base = ("id", "/x.jpg", " a comment ")
    assert p.parse_generate(base).comment == "a comment"
    assert p.parse_generate((*base, 4)).seed == 4
    full = p.parse_generate((*base, 4, "Jazz; warm"))
    assert (full.seed, full.hints) == (4, "Jazz; warm")
    assert p.parse_generate((*base, "Jazz")).hints == "Jazz"  # hints without a seed
    assert p.parse_generate((*base, 0, "  ")).hints is None


@pytest.mark.parametrize("args,fragment", [
    ((), "request_id"),
    (("", "/x.jpg", "c"), "request_id"),
    (("i" * 200, "/x.jpg", "c"), "longer than 128"),
    (("id", "/x.jpg"), "got 2 arguments"),
    (("id", 5, "c"), "image_path"),
    (("id", "/x.jpg", "c", -1), ">= 0"),
    (("id", "/x.jpg", "c", True), "seed"),
    (("id", "/x.jpg", "c", "hints", "more"), "hints must be a string"),
    (("id", "/x.jpg", "c", 1, 2), "hints must be a string"),
    (("id", "/x.jpg", "c", 1, "h" * 600), "longer than 500"),
])
def test_bad_generate_arguments_are_named(args, fragment):
    with pytest.raises(p.ProtocolError, match=fragment) as err:
        p.parse_generate(args)
    assert err.value.code == p.ErrorCode.BAD_REQUEST


def test_reply_to_and_cancel_arguments():
    assert p.parse_reply_to(("10.0.0.5", 7000)) == ("10.0.0.5", 7000)
    for bad in [("h",), ("h", 0), ("h", 70000), (1, 2), ("h", True)]:
        with pytest.raises(p.ProtocolError):
            p.parse_reply_to(bad)
    assert p.parse_cancel(("abc",)) == "abc"
    with pytest.raises(p.ProtocolError):
        p.parse_cancel(())


def test_max_patch_messages_parse_and_its_objects_are_wired():
    patch = json.loads((EXAMPLES / "max" / "a2m_bridge.maxpat").read_text())["patcher"]
    texts = {b["box"]["id"]: b["box"].get("text", "") for b in patch["boxes"]}
    generate = next(t for t in texts.values() if t.startswith(p.GENERATE))
    address, *args = shlex.split(generate)
    parsed = p.parse_generate(tuple(int(a) if a.isdigit() else a for a in args))
    assert address == p.GENERATE and parsed.seed == 1
    scene = next(t for t in texts.values() if t.startswith(p.STREAM_NEXT))
    address, *args = shlex.split(scene)
    assert p.parse_generate(tuple(int(a) if a.isdigit() else a for a in args)).seed == 1
    assert {p.STREAM_START, p.STREAM_STOP} <= set(texts.values())
    assert "udpsend 127.0.0.1 9000" in texts.values() and "udpreceive 9001" in texts.values()
    ids = set(texts)
    for line in patch["lines"]:
        assert {line["patchline"]["source"][0], line["patchline"]["destination"][0]} <= ids


def test_supercollider_and_touchdesigner_use_the_documented_addresses():
    sc = (EXAMPLES / "supercollider" / "a2m_bridge.scd").read_text()
    td = "".join(f.read_text() for f in (EXAMPLES / "touchdesigner").glob("*.py"))
    for text in (sc, td):
        used = set(re.findall(r"/a2m/[a-z_/]+[a-z_]", text))
        assert used <= {p.GENERATE, p.CANCEL, p.STATUS, p.REPLY_TO, p.ACCEPTED, p.PROGRESS,
                        p.DONE, p.ERROR, p.READY, p.PLAN, p.STREAM_START, p.STREAM_NEXT,
                        p.STREAM_STOP, p.STREAM_STATUS, p.GENERATE_JSON, p.NOTE}, used
        # both send every control at once, and play the notes as they come
        assert {p.GENERATE, p.GENERATE_JSON, p.NOTE, p.STREAM_START, p.STREAM_NEXT,
                p.STREAM_STOP} <= used
    assert "Buffer.read" in sc and p.DONE in sc
    compile(td, "touchdesigner", "exec")  # valid Python for TouchDesigner's interpreter
    # the JSON TouchDesigner sends is a request the bridge takes, pins and all
    sent = {"image": "/abs/path/starry.jpg", "comment": "the sky weeps", "tempo": 72,
            "key": "F# minor", "instrument": "harp", "emotion": "sadness"}
    parsed = p.parse_generate_json(("td-1", json.dumps(sent)))
    request = parsed.request(b"pixels")
    assert (request.pins.tempo_bpm, request.pins.key, request.emotion) == (
        72.0, "F# minor", "sadness")


@pytest.mark.skipif(not (shutil.which("sclang") and shutil.which("jackd")),
                    reason="needs sclang and jackd (apt-get install supercollider-language "
                    "supercollider-server jackd2)")
def test_the_supercollider_example_runs_as_a_file_under_headless_sclang(tmp_path):
    """sclang runs a2m_bridge.scd as a file through headless_check.scd, against a bridge
    whose soundscape plays on JACK's dummy driver at 44.1 kHz."""
    import os
    import subprocess
    import sys

    script = EXAMPLES / "supercollider" / "run_headless.sh"
    bridge = f"{sys.executable} -m osc_bridge.launch"
    res = subprocess.run([str(script)], capture_output=True, text=True, timeout=400,
                         env={**os.environ, "A2M_OSC": bridge, "OUT": str(tmp_path)},
                         cwd=EXAMPLES.parents[1])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "check: all answered" in res.stdout
    assert "device system, playing" in res.stdout
    assert "soundscape started on system at 44100 Hz" in res.stdout
