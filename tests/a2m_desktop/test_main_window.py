"""An artist at the desktop app: drop, write, generate, watch, listen, save, look back."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent

from a2m_app.playback import Player
from a2m_desktop.main_window import MainWindow

from ..conftest import REPO
from ..fakes import FakeStream

TIMEOUT_MS = 60_000


@pytest.fixture
def window(qtbot, tiny_bundle, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    FakeStream.instances.clear()
    win = MainWindow(bundle=str(tiny_bundle), settings=settings, stream_factory=FakeStream)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.model_loaded, timeout=TIMEOUT_MS)
    yield win
    win.close()


def drop(win: MainWindow, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    win.drop_zone.dropEvent(event)


def generate(qtbot, win: MainWindow) -> None:
    # The window's own GUI-thread signal: a callable hooked to the worker would run on the
    # worker's thread and could fire before the wait began.
    with qtbot.waitSignal(win.generationEnded, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(win.generate_btn, Qt.MouseButton.LeftButton)
    assert blocker.args == ["finished"] and not win.busy


def test_drop_type_generate_and_see_the_mel(qtbot, window, paintings, tmp_path):
    drop(window, paintings[0])
    assert window.painting == paintings[0]
    assert window.drop_zone.pixmap() is not None and not window.drop_zone.pixmap().isNull()
    qtbot.keyClicks(window.comment, "a scream across a blood red sky")
    completer = window.hints.completer()
    completer.setCompletionPrefix("orch")
    assert completer.currentCompletion() == "Orchestra"  # suggestions as the artist types
    qtbot.keyClicks(window.hints, "Orchestra; tense strings")
    with qtbot.waitSignal(window.generationEnded, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(window.generate_btn, Qt.MouseButton.LeftButton)
        assert window.busy and not window.generate_btn.isEnabled()
    assert blocker.args == ["finished"] and not window.busy
    assert window.mel_view.image.image.shape == (896, 80)
    assert window.progress.value() == 100 and window.stage_label.text().startswith("Done")
    assert len(window.history) == 1 and window.history_list.count() == 1
    assert "Audio: Orchestra" in window.current.clip.prompt
    saved = window.save_audio(str(tmp_path / "scream.wav"))
    data, sr = sf.read(saved)
    assert sr == 22050 and len(data) == 896 * 256
    png = window.save_mel(str(tmp_path / "scream.png"))
    assert png.read_bytes()[:4] == b"\x89PNG"
    from PIL import Image

    width, height = Image.open(png).size
    view = window.mel_view
    assert (width, height) == (view.width(), view.height())  # the view, axes and all
    assert width > 400 and height >= 180
    flac = window.save_audio(str(tmp_path / "scream.flac"))
    assert sf.info(flac).format == "FLAC"


def test_history_keeps_each_generation_to_compare_and_resave(qtbot, window, paintings,
                                                             tmp_path):
    window.open_painting(str(paintings[0]))
    window.comment.setPlainText("calm night")
    window.seed.setValue(1)
    generate(qtbot, window)
    window.seed.setValue(2)
    generate(qtbot, window)
    assert [g.clip.seed for g in window.history] == [1, 2]
    assert "seed 2" in window.history_list.item(1).text()
    window.history_list.setCurrentRow(0)
    assert window.current is window.history[0]
    np.testing.assert_array_equal(window.mel_view.image.image, window.history[0].clip.mel.T)
    first = sf.read(window.save_audio(str(tmp_path / "first.wav")))[0]
    assert np.abs(first - window.history[0].clip.audio).max() < 1e-3


def test_new_variation_picks_a_seed_and_generates(qtbot, window, paintings):
    window.open_painting(str(paintings[1]))
    window.comment.setPlainText("wild colours")
    with qtbot.waitSignal(window.generationEnded, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(window.variation_btn, Qt.MouseButton.LeftButton)
    assert blocker.args == ["finished"] and not window.busy
    assert window.history[-1].clip.seed == window.seed.value() >= 0


def test_cancel_stops_generation_and_keeps_the_window_usable(qtbot, window, paintings):
    window.open_painting(str(paintings[0]))
    window.comment.setPlainText("slow please")
    gate = threading.Event()
    original = window.worker.engine.run

    def held(*a, **kw):
        gate.wait(10)
        return original(*a, **kw)

    window.worker.engine.run = held
    try:
        window.generate()
        qtbot.mouseClick(window.cancel_btn, Qt.MouseButton.LeftButton)
        with qtbot.waitSignal(window.generationEnded, timeout=TIMEOUT_MS) as blocker:
            gate.set()
    finally:
        del window.worker.engine.run
    assert blocker.args == ["cancelled"] and not window.busy
    assert window.stage_label.text() == "Cancelled" and window.generate_btn.isEnabled()
    assert window.history == []


def test_bad_paintings_and_empty_comments_say_why_and_lose_nothing(qtbot, window, paintings,
                                                                   tmp_path, monkeypatch):
    window.open_painting(str(paintings[0]))
    corrupt = tmp_path / "torn.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    drop(window, corrupt)
    assert window.painting == paintings[0]  # the previous painting is kept
    assert window.error_banner.isVisible() and "torn.jpg" in window.error_banner.text()
    assert "previous painting is kept" in window.error_banner.text()
    monkeypatch.setattr("a2m_desktop.main_window.BANNER_NOTE_MS", 50)
    drop(window, corrupt)
    qtbot.waitUntil(lambda: not window.error_banner.isVisible(), timeout=2000)  # it goes
    drop(window, corrupt)
    import a2m_core.images

    monkeypatch.setattr(a2m_core.images, "MAX_IMAGE_PIXELS", 1000)
    assert not window.open_painting(str(paintings[1]))
    assert "too large" in window.error_banner.text() and window.painting == paintings[0]
    window.comment.setPlainText("sky " * 300)
    assert not window.generate()
    assert "too long" in window.error_banner.text() and not window.busy
    height = window.comment.geometry().top()
    window.comment.setPlainText("")
    qtbot.keyClicks(window.comment, "quiet")  # fixing the cause clears the banner...
    assert not window.error_banner.isVisible()
    assert window.comment.geometry().top() == height  # ...without the layout jumping


def test_the_mel_view_reads_in_seconds_hz_and_db(qtbot, window, paintings):
    view = window.mel_view
    assert view.placeholder.isVisible()  # before the first clip: what will appear, and where
    assert view.plot.getAxis("bottom").labelText == "time"
    assert view.plot.getAxis("bottom").labelUnits == "s"
    ticks = dict((label, pos) for pos, label in view.plot.getAxis("left")._tickLevels[0])
    assert list(ticks) == ["100", "250", "500", "1k", "2k", "4k"]  # bands centre below 8k
    assert 0 < ticks["100"] < ticks["1k"] < ticks["4k"] < 80
    assert view.colorbar.values == pytest.approx((-100.0, 21.7), abs=0.1)  # dB of magnitude
    window.open_painting(str(paintings[0]))
    window.comment.setPlainText("look")
    generate(qtbot, window)
    assert not view.placeholder.isVisible()
    assert view.seconds == pytest.approx(896 * 256 / 22050)
    assert view.image.boundingRect().width() == 896  # drawn over 0..10.4 s
    assert view.image.mapRectToView(view.image.boundingRect()).width() == pytest.approx(
        view.seconds)


def test_playback_copies_the_clip_moves_the_playhead_and_loops(qtbot, window, paintings):
    window.open_painting(str(paintings[0]))
    window.comment.setPlainText("listen")
    generate(qtbot, window)
    window.volume.setValue(50)
    qtbot.mouseClick(window.play_btn, Qt.MouseButton.LeftButton)
    stream = FakeStream.instances[-1]
    assert stream.started and stream.samplerate == 22050
    audio = window.current.clip.audio
    block = stream.pull(22050)
    np.testing.assert_allclose(block, audio[:22050] * 0.5, atol=1e-6)
    qtbot.waitUntil(lambda: window.mel_view.playhead.isVisible(), timeout=2000)
    # One second in, the playhead stands at 1.0 s on the seconds axis.
    assert window.mel_view.playhead.value() == pytest.approx(1.0, rel=0.01)
    window.loop_box.setChecked(True)
    stream.pull(len(audio) - 22050 - 100)
    wrapped = stream.pull(200)  # the end of the clip, then its beginning again
    np.testing.assert_allclose(wrapped[100:], audio[:100] * 0.5, atol=1e-6)
    window.loop_box.setChecked(False)
    stream.pull(len(audio))
    qtbot.waitUntil(lambda: stream.closed, timeout=2000)  # the GUI stopped it at the end
    assert not window.mel_view.playhead.isVisible()


def test_settings_persist_between_runs(qtbot, tiny_bundle, tmp_path, paintings):
    ini = str(tmp_path / "persist.ini")
    first = MainWindow(bundle=str(tiny_bundle), settings=QSettings(ini, QSettings.Format.IniFormat),
                       stream_factory=FakeStream)
    qtbot.addWidget(first)
    qtbot.waitUntil(lambda: first.model_loaded, timeout=TIMEOUT_MS)
    first.open_painting(str(paintings[0]))
    first.volume.setValue(33)
    first.close()
    second = MainWindow(bundle=None, settings=QSettings(ini, QSettings.Format.IniFormat),
                        stream_factory=FakeStream)
    qtbot.addWidget(second)
    qtbot.waitUntil(lambda: second.model_loaded, timeout=TIMEOUT_MS)
    assert second.volume.value() == 33 and second.model_label.text().startswith("debug-tiny")
    assert second.model_combo.currentData() == str(tiny_bundle)  # the picker shows it
    assert second.settings.value("last_image_dir") == str(paintings[0].parent)
    second.close()


def test_a_corrupt_bundle_keeps_the_working_model_and_the_settings(qtbot, window, paintings,
                                                                    tiny_bundle, tmp_path):
    bad = tmp_path / "torn.safetensors"
    bad.write_bytes(b"\x00" * 32)
    window.load_model(str(bad))
    assert not window.generate_btn.isEnabled()  # while it loads
    qtbot.waitUntil(lambda: window.loading is None, timeout=TIMEOUT_MS)
    banner = window.error_banner.text()
    assert window.error_banner.isVisible() and "Could not load torn.safetensors" in banner
    assert "Still using debug-tiny" in banner
    assert window.settings.value("bundle") == str(tiny_bundle)
    assert window.model_combo.currentData() == str(tiny_bundle)
    window.open_painting(str(paintings[0]))
    window.comment.setPlainText("still here")
    generate(qtbot, window)  # the previous model still generates
    assert window.history[-1].clip.audio.size > 0
    window.settings.sync()

    restarted = MainWindow(bundle=None, settings=QSettings(window.settings.fileName(),
                                                           QSettings.Format.IniFormat),
                           stream_factory=FakeStream)
    qtbot.addWidget(restarted)
    qtbot.waitUntil(lambda: restarted.model_loaded, timeout=TIMEOUT_MS)
    assert restarted.current_model == str(tiny_bundle) and not restarted.error_banner.text()
    restarted.close()


def test_a_broken_bundle_at_start_falls_back_to_the_default_model(qtbot, tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x00" * 32)
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    settings.setValue("bundle", str(bad))
    win = MainWindow(bundle=None, settings=settings, stream_factory=FakeStream)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.model_loaded, timeout=TIMEOUT_MS)
    assert "Could not load broken.safetensors" in win.error_banner.text()
    assert "Using the default model instead" in win.error_banner.text()
    assert win.generate_btn.isEnabled() and win.engine_name  # usable, with the starter
    assert win.model_combo.currentData() == "starter"
    assert settings.value("bundle") == str(bad)  # an automatic fallback saves nothing
    win.close()


def test_without_an_audio_device_the_app_says_why(qtbot, tiny_bundle, tmp_path, monkeypatch):
    import a2m_desktop.main_window as mw

    monkeypatch.setattr(mw, "probe_output",
                        lambda: (False, "playback unavailable: no audio output device found", []))
    win = MainWindow(bundle=str(tiny_bundle), settings=QSettings(str(tmp_path / "s.ini"),
                                                                 QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.show()
    assert win.playback_label.text() == "No sound device"
    assert "no audio output device" in win.playback_label.toolTip()
    assert not win.play_btn.isEnabled()
    assert win.volume.width() >= 90  # a long reason no longer squeezes it to a stub
    qtbot.waitUntil(lambda: win.model_loaded, timeout=TIMEOUT_MS)
    win.open_painting(str(REPO / "examples" / "edvard-munch_the-scream-1893.jpg"))
    assert not win.install_btn.isEnabled()
    assert "Not now: it plays on a sound device, and none was found" in \
        win.install_btn.toolTip()
    win.close()


def test_a_status_message_does_not_move_the_bottom_row(qtbot, window):
    before = window.install_btn.mapTo(window, window.install_btn.rect().topLeft())
    window.statusBar().showMessage("Saved /tmp/clip.wav", 5000)
    qtbot.wait(50)
    after = window.install_btn.mapTo(window, window.install_btn.rect().topLeft())
    assert before == after


def test_an_untrained_bundle_is_called_untrained_not_the_starter(window):
    assert "untrained (random weights)" in window.model_label.text()
    assert "starter" not in window.model_label.text()


def test_kept_goes_with_the_banner(qtbot, window, tmp_path):
    bad = tmp_path / "torn.safetensors"
    bad.write_bytes(b"\x00" * 32)
    window.load_model(str(bad))
    qtbot.waitUntil(lambda: window.loading is None, timeout=TIMEOUT_MS)
    assert window.model_label.text().endswith("(kept)")
    window.clear_error()
    assert "(kept)" not in window.model_label.text()
    assert window.model_label.text().startswith("debug-tiny on cpu")


def test_the_real_sounddevice_path_plays_on_an_alsa_null_device(tmp_path):
    """Where PortAudio has a device (here: ALSA's null device via a private asoundrc),
    the real OutputStream plays a clip to its end through our callback."""
    (tmp_path / ".asoundrc").write_text("pcm.!default { type null }\n")
    code = (
        "import numpy as np, time\n"
        "from a2m_app.live import probe_output\n"
        "from a2m_app.playback import Player\n"
        "ok, why, devices = probe_output()\n"
        "print('devices', ok, why, len(devices))\n"
        "if ok:\n"
        "    p = Player()\n"
        "    p.play(np.zeros(22050, np.float32) + 0.1, 22050)\n"
        "    t = time.time()\n"
        "    while not p.reached_end and time.time() - t < 10: time.sleep(0.01)\n"
        "    p.stop()\n"
        "    print('played', p.reached_end, round(p.position, 3))\n")
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    if "devices True" not in res.stdout:
        pytest.skip(f"PortAudio sees no device even with a null ALSA config: {res.stdout}")
    assert "played True 1.0" in res.stdout


def test_player_callback_only_copies_and_flags_the_end():
    p = Player(stream_factory=FakeStream)
    p.play(np.arange(10, dtype=np.float32), 22050)
    stream = FakeStream.instances[-1]
    np.testing.assert_array_equal(stream.pull(6), np.arange(6))
    tail = stream.pull(6)
    np.testing.assert_array_equal(tail, [6, 7, 8, 9, 0, 0])
    assert p.reached_end and stream.started  # the callback never stops its own stream
    p.stop()
    assert stream.closed


def test_playback_starts_on_the_first_chunk_before_the_vocoder_finishes(qtbot, window,
                                                                      paintings):
    window.open_painting(str(paintings[0]))
    window.comment.setPlainText("begin at once")
    assert window.live_box.isChecked()
    original = window.worker.engine.stream
    seen = {}

    def watched(*a, **kw):
        for i, chunk in enumerate(original(*a, **kw)):
            yield chunk
            if i == 0:  # the GUI thread starts the stream on the first chunk: wait for it
                deadline = time.monotonic() + 10
                while not (FakeStream.instances and FakeStream.instances[-1].started) \
                        and time.monotonic() < deadline:
                    time.sleep(0.01)
                seen["playing_with_chunks_left"] = bool(
                    FakeStream.instances and FakeStream.instances[-1].started)

    window.worker.engine.stream = watched
    try:
        FakeStream.instances.clear()
        generate(qtbot, window)
    finally:
        del window.worker.engine.stream
    assert seen["playing_with_chunks_left"]  # heard before the vocoder was done
    stream = FakeStream.instances[-1]
    played = stream.pull(22050)
    np.testing.assert_allclose(played, window.current.clip.audio[:22050] * 0.8, atol=1e-6)


def test_loop_plays_seamlessly_and_the_history_exports_as_a_soundscape(qtbot, window,
                                                                       paintings, tmp_path):
    window.open_painting(str(paintings[0]))
    window.live_box.setChecked(False)
    for seed in (1, 2):
        window.comment.setPlainText(f"take {seed}")
        window.seed.setValue(seed)
        generate(qtbot, window)
    window.loop_box.setChecked(True)
    qtbot.mouseClick(window.play_btn, Qt.MouseButton.LeftButton)
    assert window.player._audio.size == window.current.clip.audio.size - 22050 // 2
    out = window.export_soundscape(str(tmp_path / "history.wav"))
    audio, sr = sf.read(out)
    assert audio.size / sr == pytest.approx(2 * 20 - 2, abs=0.01)  # 2 scenes, one crossfade


def test_installation_mode_turns_a_visitors_comment_into_endless_sound(qtbot, window,
                                                                       paintings):
    window.open_painting(str(paintings[0]))
    FakeStream.instances.clear()
    view = window.open_installation(full_screen=False)
    qtbot.addWidget(view)
    stream = FakeStream.instances[-1]
    # until a visitor writes, the painting plays its own music
    qtbot.waitUntil(lambda: "the painting's own music" in view.caption.text(),
                    timeout=TIMEOUT_MS)
    qtbot.keyClicks(view.comment, "it feels like a storm is coming")
    qtbot.keyClick(view.comment, Qt.Key.Key_Return)
    assert view.comment.text() == "" and "Listening" in view.caption.text()
    # the sound card plays on: the painting's scene is taken, then the visitor's made
    qtbot.waitUntil(lambda: stream.pull(2048) is not None and "storm" in view.caption.text(),
                    timeout=TIMEOUT_MS)
    heard = np.concatenate([stream.pull(2048) for _ in range(10)])
    assert not np.isnan(heard).any() and np.abs(heard).max() > 0
    qtbot.waitUntil(lambda: view.mel_view.frames == 896, timeout=5000)
    # the visitor's clip is in the History of the window behind, marked as theirs
    qtbot.waitUntil(lambda: len(window.history) == 2, timeout=5000)
    assert [g.clip.comment for g in window.history] == ["", "it feels like a storm is coming"]
    assert "visitor" in window.history_list.item(1).text()
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert not view.isVisible() and stream.closed


def test_visitors_see_an_invitation_where_the_music_will_appear(qtbot, window, paintings):
    window.open_painting(str(paintings[0]))
    view = window.open_installation(full_screen=False)
    qtbot.addWidget(view)
    assert "Generate a clip" not in view.mel_view.placeholder.textItem.toPlainText()
    assert "Your music appears here" in view.mel_view.placeholder.textItem.toPlainText()
    view.close()


def test_a_mel_bundle_greys_out_the_pins_and_says_why(window):
    assert not window.plan_panel.tempo.isEnabled()
    assert "notes bundle" in window.plan_panel.tempo.toolTip()
    assert window.plan_panel.pins() is None


def test_the_history_survives_a_restart_says_what_each_clip_is_and_can_be_cleared(
        qtbot, tiny_bundle, paintings, tmp_path):
    """Three clips of one painting, told apart by their rows; recalled with the pins they
    were made with; there again after a restart; gone after Clear history."""
    from a2m_core.debug import build_debug_bundle, tiny_notes_config
    from a2m_core.notes.sampler import FLUID_R3_GM

    if not Path(FLUID_R3_GM.path).is_file():
        pytest.skip("FluidR3_GM.sf2 missing: apt-get install fluid-soundfont-gm")
    bundle = build_debug_bundle(tmp_path / "notes.safetensors", config=tiny_notes_config())
    ini = str(tmp_path / "settings.ini")

    def open_window() -> MainWindow:
        win = MainWindow(bundle=str(bundle), stream_factory=FakeStream,
                         settings=QSettings(ini, QSettings.Format.IniFormat))
        qtbot.addWidget(win)
        win.show()
        qtbot.waitUntil(lambda: win.model_loaded, timeout=TIMEOUT_MS)
        return win

    win = open_window()
    win.settings.setValue("last_save_dir", str(tmp_path))
    drop(win, paintings[0])
    qtbot.keyClicks(win.comment, "quiet water")
    for instrument in ("harp", "piano", "choir"):
        panel = win.plan_panel
        panel.instrument.setCurrentIndex(panel.instrument.findData(instrument))
        generate(qtbot, win)
    rows = [win.history_list.item(k).text() for k in range(3)]
    assert len(set(rows)) == 3 and all(i in r for i, r in zip(("harp", "piano", "choir"), rows))
    tip = win.history_list.item(0).toolTip()
    assert "Art Commentary" not in tip and "quiet water" in tip and "Why: painting" in tip
    win.history_list.setCurrentRow(0)
    assert win.plan_panel.instrument.currentData() == "harp"  # the pins it was made with
    first = win._suggested_name(".wav")
    win.save_audio(str(tmp_path / first))
    assert win._suggested_name(".wav") != first  # the next save is offered a new name
    win.close()

    again = open_window()
    assert [again.history_list.item(k).text() for k in range(3)] == rows
    again.history_list.setCurrentRow(1)
    assert again.current.clip.plan.instrument == "piano"
    assert again.save_midi(str(tmp_path / "again.mid")).is_file()
    again.clear_history()
    assert again.history == [] and again.history_list.count() == 0
    again.close()
    assert open_window().history == []
