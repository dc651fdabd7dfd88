"""Someone retraining from the trainer window: build, train with a live curve, stop, resume,
export, evaluate."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt

from a2m_core.bundle import load_bundle
from trainer.gui.window import TrainerWindow

TIMEOUT_MS = 300_000  # a job on 2 busy cores (the evaluation vocodes 12 clips with HiFi-GAN V1)


@pytest.fixture
def window(qtbot, tmp_path):
    win = TrainerWindow(QSettings(str(tmp_path / "trainer.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def ended(qtbot, win: TrainerWindow):
    """Wait for the window to show a job's outcome (its GUI-thread signal, never the worker's)."""
    return qtbot.waitSignal(win.jobEnded, timeout=TIMEOUT_MS)


def run(qtbot, win: TrainerWindow, button) -> None:
    with ended(qtbot, win) as blocker:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert blocker.args[1] == "finished", win.status.text()
    assert win.running is None


def test_retrain_from_the_window(qtbot, window, shared_data, tiny_bundle, tmp_path):
    window.artemis.set(shared_data / "artemis" / "artemis_sample.csv")
    window.images.set(shared_data / "wikiart")
    window.musiccaps.set(shared_data / "music_clips" / "musiccaps_sample.csv")
    window.audio.set(shared_data / "music_clips")
    window.dataset_out.set(tmp_path / "ds")
    window.clip_bundle.set(tiny_bundle)
    run(qtbot, window, window.build_btn)
    assert "13 pairs" in window.status.text()
    assert "Dataset: 13 pairs" in window.report.toPlainText()  # the report, shown at once
    assert window.s1_dataset.text() == str(tmp_path / "ds")  # filled in for the next step

    window.s1_out.set(tmp_path / "s1")
    window.s1_epochs.setValue(6)
    window.s1_batch.setValue(4)
    window.s1_hidden.setValue(16)
    window.s1_dec_hidden.setValue(16)
    window.s1_layers.setValue(1)

    # Stop once the curve has a few points; the run keeps its checkpoint. (This runs on the
    # worker thread, so it only sets the event the Stop button sets.)
    def stop_after_three(e):
        if e.get("event") == "step" and e["step"] == 3:
            window.worker.stop_event.set()

    window.worker.event.connect(stop_after_three)
    with ended(qtbot, window) as blocker:
        qtbot.mouseClick(window.s1_btn, Qt.MouseButton.LeftButton)
    window.worker.event.disconnect(stop_after_three)
    assert blocker.args == ["stage1", "stopped"] and window.running is None
    assert len(window.s1_plot.points["train"][0]) >= 3
    assert (tmp_path / "s1" / "last.pt").exists() and "stopped" in window.status.text()

    before = list(window.s1_plot.points["train"][0])
    run(qtbot, window, window.s1_btn)  # start again: resumes from last.pt
    assert "resumed from its checkpoint" in window.log_view.toPlainText()
    assert window.s1_plot.points["train"][0][:len(before)] == before  # the curve survives
    assert len(window.s1_plot.points["val"][0]) >= 1
    assert window.ex_stage1.text() == str(tmp_path / "s1" / "best.pt")

    # the detail flow on the finished run: its curve, and export picks up its weights
    window.detail_steps.setValue(6)
    run(qtbot, window, window.detail_btn)
    assert len(window.detail_plot.points["train"][0]) >= 2
    assert window.ex_stage1.text() == str(tmp_path / "s1" / "detail" / "best.pt")

    window.ex_bundle.set(tmp_path / "mine.safetensors")
    run(qtbot, window, window.export_btn)
    assert Path(window.ex_bundle.text()).exists()
    assert load_bundle(window.ex_bundle.text()).config.decoder.detail_channels > 0
    window.ev_dataset.set(tmp_path / "ds")
    # With an LLM rater configured (a fake OpenAI-compatible server here), the evaluation
    # also rates each full-input clip and shows the scores beside Table IV.
    from .test_rating import GOOD, FakeProvider

    rater = FakeProvider([GOOD])
    try:
        window.rate_endpoint.setText(rater.url)
        window.rate_model.setText("judge")
        run(qtbot, window, window.eval_btn)
    finally:
        rater.close()
    report = window.report.toPlainText()
    assert "full input" in report
    assert "LLM feeling rating" in report and "Mean Feeling_alignment 8.00" in report
    assert len(rater.requests) == 3  # the three val items

    from trainer.gui.window import desktop_command

    program, args = desktop_command(window.ex_bundle.text())  # a process, never an import
    assert args[-2:] == ["--bundle", str(tmp_path / "mine.safetensors")]
    assert "a2m_desktop.app" in args or program.endswith("a2m-desktop")


def test_missing_fields_are_named_and_nothing_starts(window):
    assert not window.start_build()
    assert "ArtEmis CSV" in window.status.text() and window.running is None
    assert window.open_in_desktop() is None and "Export a bundle first" in window.status.text()


def test_a_failing_job_reports_and_frees_the_window(qtbot, window, tmp_path):
    window.s1_dataset.set(tmp_path / "not-a-dataset")
    window.s1_out.set(tmp_path / "run")
    with ended(qtbot, window) as blocker:
        window.start_stage1()
    assert blocker.args == ["stage1", "failed"] and window.running is None
    assert "not an ArtiCaps dataset" in window.status.text() and window.s1_btn.isEnabled()
    assert window.progress.text().startswith("failed at")  # never a false 100 %


def test_the_stop_button_is_live_only_while_a_job_runs(qtbot, window, tmp_path):
    import threading

    assert not window.stop_btn.isEnabled()
    gate = threading.Event()
    window._start("wait", lambda emit, stop: (gate.wait(10), stop.is_set())[1])
    assert window.stop_btn.isEnabled() and not window.build_btn.isEnabled()
    with ended(qtbot, window) as blocker:
        qtbot.mouseClick(window.stop_btn, Qt.MouseButton.LeftButton)
        assert "stopping" in window.status.text()
        gate.set()
    assert blocker.args == ["wait", "stopped"] and window.running is None
    assert window.build_btn.isEnabled() and not window.stop_btn.isEnabled()


def test_a_newcomer_gets_presets_tooltips_and_readable_words(window):
    assert window.tabs.tabText(window.tabs.count() - 1) == "Export && evaluate"
    assert window.s1_preset.currentText() == "CPU quick" and window.s1_layers.value() == 2
    window.s1_preset.setCurrentText("Paper (GPU)")
    assert (window.s1_layers.value(), window.s1_dec_hidden.value(), window.s1_batch.value()) \
        == (4, 512, 32)
    for field in (window.artemis, window.images, window.musiccaps, window.audio,
                  window.dataset_out, window.clip_bundle, window.s1_dataset, window.s1_out,
                  window.s1_epochs, window.s1_preset, window.s1_device):
        assert field.toolTip(), field
    assert window.clip_bundle.text().endswith("starter.safetensors")  # embeddings by default
    from trainer.gui.widgets import describe_event

    assert describe_event({"event": "step", "stage": "stage1", "step": 3, "total_steps": 9,
                           "loss": 0.25, "eta_s": 120}) == \
        "stage1 step 3/9: loss 0.2500, about 2 min left"
    assert describe_event({"event": "val", "stage": "stage1", "epoch": 1, "step": 9,
                           "val_loss": 0.2, "improved": True}) == \
        "stage1 epoch 1: validation loss 0.2000 (best so far)"


def test_the_guided_flow_on_the_example_data_ends_in_the_desktop_app(qtbot, window, tmp_path):
    window.own_work.set(tmp_path / "mine")
    qtbot.mouseClick(window.example_btn, Qt.MouseButton.LeftButton)
    assert window.own_music.text().endswith("examples/own-music")
    run(qtbot, window, window.own_btn)  # corpus, crops, pairs
    assert window.s1_dataset.text() == str(tmp_path / "mine" / "dataset")
    assert window.tabs.tabText(window.tabs.currentIndex()) == "Stage 1"
    assert "Your dataset" in window.report.toPlainText() and "pairs" in window.status.text()
    window.s1_epochs.setValue(2)
    window.s1_batch.setValue(8)
    window.s1_hidden.setValue(16)
    window.s1_dec_hidden.setValue(16)
    window.s1_layers.setValue(1)
    run(qtbot, window, window.s1_btn)
    assert window.ex_stage1.text().endswith("best.pt")
    window.ex_hifigan.setChecked(False)  # Griffin-Lim keeps the test fast
    run(qtbot, window, window.export_btn)
    bundle = tmp_path / "mine" / "mine.safetensors"
    assert window.ex_bundle.text() == str(bundle) and bundle.is_file()

    # What "Open in desktop app" starts: the desktop window on that bundle, generating.
    from a2m_desktop.main_window import MainWindow
    from tests.fakes import FakeStream

    desktop = MainWindow(bundle=str(bundle), settings=QSettings(
        str(tmp_path / "desktop.ini"), QSettings.Format.IniFormat), stream_factory=FakeStream)
    qtbot.addWidget(desktop)
    qtbot.waitUntil(lambda: desktop.model_loaded, timeout=TIMEOUT_MS)
    assert desktop.engine_name == "mine"
    desktop.open_painting(str(Path(window.own_paintings.text()) /
                              "vincent-van-gogh_the-starry-night-1889.jpg"))
    desktop.comment.setPlainText("my own music")
    with qtbot.waitSignal(desktop.generationEnded, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(desktop.generate_btn, Qt.MouseButton.LeftButton)
    assert blocker.args == ["finished"] and desktop.current.clip.audio.size == 896 * 256
    desktop.close()


def test_each_guided_step_says_what_is_missing(window, tmp_path):
    assert not window.start_own_dataset()
    assert "Fill in: Music folder, Paintings folder, Work folder" in window.status.text()
    few = tmp_path / "few"
    few.mkdir()
    (few / "one.wav").write_bytes(b"RIFF")
    window.own_music.set(few)
    window.own_paintings.set(few)
    window.own_work.set(tmp_path / "work")
    assert not window.start_own_dataset()
    assert "holds 1 recording(s); at least 3 are needed" in window.status.text()
    assert window.running is None
    window.s1_dataset.set("")
    assert not window.start_stage1() and "Dataset folder" in window.status.text()
    window.ex_stage1.set("")
    assert not window.start_export() and "Stage-1 best.pt" in window.status.text()


def test_walls_a_new_user_met_are_gone(qtbot, window, tmp_path, capsys):
    from trainer.cli import build_parser
    from trainer.gui.widgets import describe_event

    # The detail flow waits for a finished Stage 1, and says so.
    window.s1_out.set(tmp_path / "fresh-run")
    assert not window.detail_btn.isEnabled()
    assert "Run Stage 1 first" in window.detail_btn.toolTip()
    (tmp_path / "fresh-run").mkdir()
    (tmp_path / "fresh-run" / "best.pt").write_bytes(b"")  # Stage 1 finished meanwhile
    window.tabs.setCurrentIndex(0)
    window.tabs.setCurrentIndex(2)  # back to the Stage 1 tab
    assert window.detail_btn.isEnabled() and "Run Stage 1 first" not in \
        window.detail_btn.toolTip()
    # Log lines read as sentences, with no "None" and no 16-digit floats.
    assert describe_event({"event": "resumed", "stage": "detail", "step": 40}) == \
        "detail resumed from its checkpoint at step 40"
    line = describe_event({"event": "done", "stage": "stage1", "best_val": 0.9784080982208252})
    assert "best val 0.9784" in line and "0.97840809" not in line
    assert "renditions of 24 training pairs" in describe_event(
        {"event": "renditions", "stage": "detail", "pairs": 24, "seconds": 1.2})
    # The Export tab's field names what an empty generator means, as the box says.
    assert "HiFi-GAN V1" in window.ex_generator_label.text()
    window.ex_hifigan.setChecked(False)
    assert "Griffin-Lim" in window.ex_generator_label.text()
    # The ArtEmis tab explains itself and its encoder field.
    tab = window.tabs.widget(1)
    assert any("Encoder from bundle" in label.text() and "embed" in label.text()
               for label in tab.findChildren(type(window.status)))
    # `a2m-train gui` is a command, the window's.
    assert build_parser().parse_args(["gui"]).func.__name__ == "cmd_gui"


def test_learn_my_music_ends_in_a_model_a_verdict_and_the_desktop_app(qtbot, window,
                                                                       tmp_path):
    """The notes path: MIDI tunes and the example paintings -> a fine-tuned model, its
    corpus report with a piano roll, a live curve, and a sentence about what it plays."""
    from trainer.gui.own_music_tab import AS_MEASURED

    from .test_own_notes import tiny_notes_bundle, tune, write_midi

    music = tmp_path / "tunes"
    music.mkdir()
    for k in range(3):
        write_midi(music / f"tune{k}.mid", tune(20 + k, 16), 100 + 10 * k, 40)
    tab = window.own_tab
    qtbot.mouseClick(tab.example_btn, Qt.MouseButton.LeftButton)
    assert "CC0" in tab.licence.text()
    window.own_music.set(music)
    assert tab.licence.text() == ""  # the example's licence does not follow to my music
    tab.licence.setText("mine")
    window.own_work.set(tmp_path / "mine")
    tab.base = str(tiny_notes_bundle(tmp_path / "tiny-notes.safetensors"))  # fast to tune
    assert tab.instrument.currentText() == AS_MEASURED
    tab.steps.setValue(20)
    seen, bars = [], []
    window.report.textChanged.connect(
        lambda: seen.append((window.running, window.report.toPlainText())))
    window.progress.valueChanged.connect(bars.append)
    run(qtbot, window, tab.learn_btn)
    # the dataset's report showed while the model was still learning, and one bar rose
    assert any(job == "own-notes" and "tune0.mid" in text and "still learning" in text
               for job, text in seen)
    assert bars == sorted(bars) and bars[-1] == 100
    model = tmp_path / "mine" / "mine.safetensors"
    assert model.is_file() and window.ex_bundle.text() == str(model)
    report = window.report.toPlainText()
    assert "tune0.mid" in report and "violin" in report  # measured from the files' program
    assert "Verdict" in report and "voiced share" in report
    assert window.status.text().startswith("your model is ready. ")
    assert len(tab.plot.points["train"][0]) >= 2  # the curve grew as it trained
    assert load_bundle(model).config.provenance["base"] == "tiny-notes"
    # "Open in desktop app" points the Export field at the model and starts the app
    started = []
    window.open_in_desktop = lambda: started.append(window.ex_bundle.text()) or 1
    assert window.open_own_model() == 1 and started == [str(model)]


def test_open_in_desktop_before_learning_says_what_to_do(window, tmp_path):
    window.own_work.set(tmp_path / "nothing-yet")
    assert window.open_own_model() is None
    assert "Press Learn my music first" in window.status.text()
