"""One request, three surfaces: the CLI's flags, the bridge's /a2m/generate/json and the
desktop's form ask the same thing and get the same bytes."""
from __future__ import annotations

import json
from pathlib import Path

from a2m_app.cli import build_parser, request_of
from a2m_core.produce import Outputs, produce
from osc_bridge import protocol as p

from ..conftest import EXAMPLE_PAINTING

COMMENT = "the tower glows alone in the cold night"


def _files(made) -> dict[str, bytes]:
    return {kind: Path(path).read_bytes() for kind, path in made.files.items()}


def test_cli_osc_and_desktop_requests_with_the_same_fields_give_the_same_bytes(
        tmp_path, notes_window):
    win = notes_window()
    engine = win.worker.engine
    # the desktop: the form filled in as a person would
    assert win.open_painting(str(EXAMPLE_PAINTING))
    panel = win.plan_panel
    win.hints.setText("Orchestra")
    panel.tempo.setValue(72)
    panel.key.setCurrentIndex(panel.key.findData("F# minor"))
    panel.instrument.setCurrentIndex(panel.instrument.findData("harp"))
    panel.emotion.setCurrentIndex(panel.emotion.findData("sadness"))
    panel.set_variation(0.4)
    desktop = win.request(COMMENT, 5)
    # the CLI
    args = build_parser().parse_args([
        "generate", "--image", str(EXAMPLE_PAINTING), "--comment", COMMENT, "--seed", "5",
        "--hints", "Orchestra", "--tempo", "72", "--key", "F# minor", "--instrument",
        "harp", "--emotion", "sadness", "--variation", "0.4"])
    cli = request_of(args)
    # the bridge: the object a TouchDesigner or Max patch sends
    sent = {"image": str(EXAMPLE_PAINTING), "comment": COMMENT, "seed": 5,
            "hints": "Orchestra", "tempo": 72, "key": "F# minor", "instrument": "harp",
            "emotion": "sadness", "variation": 0.4}
    osc = p.parse_generate_json(("r1", json.dumps(sent))).request(
        EXAMPLE_PAINTING.read_bytes())

    files = []
    for name, request in (("desktop", desktop), ("cli", cli), ("osc", osc)):
        outputs = Outputs().beside(tmp_path / f"{name}.wav", midi=True, plan=True)
        made = produce(engine, request, outputs)
        assert (made.clip.plan.tempo_bpm, made.clip.plan.key,
                made.clip.plan.instrument) == (72.0, "F# minor", "harp")
        files.append(_files(made))
    assert files[0] == files[1] == files[2]
    assert set(files[0]) == {"audio", "midi", "plan"}
    assert "sadness" in made.clip.prompt


def test_the_desktop_sends_a_playing_clip_s_notes_to_a_host(qtbot, notes_window):
    """A TouchDesigner patch on 127.0.0.1 hears /a2m/note for each note as it plays."""
    import socket

    from pythonosc.osc_message import OscMessage

    from a2m_app.null_device import NullStream

    host = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    host.bind(("127.0.0.1", 0))
    host.settimeout(5)
    win = notes_window(stream_factory=lambda **kw: NullStream(**kw))
    settings = win.settings
    try:
        win.notes_out.setText(f"127.0.0.1:{host.getsockname()[1]}")
        win._apply_notes_out()
        assert win.open_painting(str(EXAMPLE_PAINTING))
        win.live_box.setChecked(False)
        with qtbot.waitSignal(win.generationEnded, timeout=60_000):
            win.generate()
        win.play()
        first = OscMessage(host.recv(65536))
        assert first.address == "/a2m/note"
        pitch, velocity, duration, part = first.params
        notes = win.current.clip.notes
        assert (pitch, velocity) == (notes[0].pitch, notes[0].velocity) and duration > 0
        assert settings.value("notes_out") == win.notes_out.text()
        win.notes_out.setText("not an address")
        win._apply_notes_out()
        assert "host:port" in win.error_banner.text()
    finally:
        host.close()
