"""`a2m` on the command line: a WAV on success, one line and a non-zero exit on failure."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import soundfile as sf

from a2m_app.cli import main

from .conftest import EXAMPLE_PAINTING, REPO


def run_a2m(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "a2m_app.cli", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)


def test_generate_writes_a_wav_from_a_shared_painting(tiny_bundle, paintings, tmp_path):
    out = tmp_path / "scream.wav"
    res = run_a2m("generate", "--image", str(paintings[0]), "--comment",
                  "a scream that fills the whole sky", "--bundle", str(tiny_bundle),
                  "--seed", "4", "--hints", "Orchestra; tense strings", "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert f"wrote {out}" in res.stdout
    data, sr = sf.read(out)
    assert sr == 22050 and len(data) == 896 * 256
    assert "untrained" in res.stderr  # the tiny bundle never passes for music


def test_missing_image_is_one_line_and_no_traceback(tiny_bundle, tmp_path):
    res = run_a2m("generate", "--image", str(tmp_path / "nowhere.jpg"), "--comment", "hi",
                  "--bundle", str(tiny_bundle))
    assert res.returncode == 1
    assert res.stderr.strip() == f"a2m: error: image not found: {tmp_path / 'nowhere.jpg'}"


def test_user_errors_are_one_line(tiny_bundle, tmp_path, capsys):
    not_image = tmp_path / "notes.jpg"
    not_image.write_text("shopping list")
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x01" * 100)
    cases = [
        (["generate", "--image", str(not_image), "--comment", "x", "--bundle", str(tiny_bundle)],
         "not a readable image"),
        (["generate", "--image", str(EXAMPLE_PAINTING), "--comment", "x", "--bundle",
          str(corrupt)], "corrupt or not a safetensors file"),
        (["info", str(tmp_path / "absent.safetensors")], "bundle not found"),
        (["generate", "--image", str(EXAMPLE_PAINTING), "--comment", "x", "--emotion",
          "happy", "--bundle", str(tiny_bundle)],
         "unknown emotion 'happy': use one of amusement, anger, awe, contentment, disgust, "
         "excitement, fear, sadness, something else"),
        (["generate", "--image", str(EXAMPLE_PAINTING), "--comment", "sky " * 1250,
          "--bundle", str(tiny_bundle)],
         "the comment is 4,999 characters; at most 1,000 are accepted"),
    ]
    for argv, expected in cases:
        assert main(argv) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("a2m: error: ") and expected in err and "\n" not in err


def test_default_output_never_overwrites(tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["generate", "--image", str(EXAMPLE_PAINTING), "--comment", "night wonder",
            "--bundle", str(tiny_bundle), "-q"]
    assert main(args) == 0 and main(args) == 0
    stem = EXAMPLE_PAINTING.stem
    assert sorted(p.name for p in tmp_path.glob("*.wav")) == [f"{stem}-2.wav", f"{stem}.wav"]


def test_version_is_the_installed_package_version(capsys):
    from importlib.metadata import version

    import pytest

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"a2m {version('art2music')}"


def test_info_describes_the_bundle(tiny_bundle, tiny_gl_bundle, capsys):
    assert main(["info", str(tiny_bundle)]) == 0
    out = capsys.readouterr().out
    assert "UNTRAINED" in out and "22050 Hz" in out and "T=896" in out
    assert "weights stored in the bundle" in out and "paper-scale" in out
    assert main(["info", str(tiny_gl_bundle)]) == 0
    assert "Griffin-Lim fallback" in capsys.readouterr().out
    assert main(["info", "--json", str(tiny_bundle)]) == 0
    assert '"format_version": 1' in capsys.readouterr().out


def test_import_reference_and_debug_bundle_commands(tmp_path, capsys):
    import torch

    from a2m_core.mel import DecoderConfig, MelDecoder

    torch.save(MelDecoder(DecoderConfig(input_dim=512, hidden=8, layers=1)).state_dict(),
               tmp_path / "best_model_epoch.pt")
    base = ["import-reference", "--decoder", str(tmp_path / "best_model_epoch.pt"),
            "--encoder", "ViT-B-32", "--embed-dim", "512", "-o", str(tmp_path / "r.safetensors")]
    assert main(base) == 1
    assert "no projector weights" in capsys.readouterr().err
    assert main([*base, "--random-projector", "0"]) == 0
    assert (tmp_path / "r.safetensors").is_file()
    assert main(["debug-bundle", "-o", str(tmp_path / "d.safetensors")]) == 0
    assert (tmp_path / "d.safetensors").is_file()


def test_info_of_the_default_bundle_says_starter_and_how_to_get_more(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "starter model" in out and "import-reference" in out


def test_a_bad_output_format_is_refused_before_the_model_loads(tmp_path):
    start = time.perf_counter()
    res = run_a2m("generate", "--image", str(EXAMPLE_PAINTING), "--comment", "waves",
                  "-o", str(tmp_path / "clip.aac"))
    took = time.perf_counter() - start
    assert res.returncode == 1 and res.stderr.strip() == (
        f"a2m: error: unsupported clip format '.aac' in {tmp_path / 'clip.aac'}: use .wav, "
        ".flac, .ogg, .mp3")
    assert took < 2.0, f"{took:.1f} s: the check must not wait for torch or the model"
    assert not (tmp_path / "clip.aac").exists()


def test_verbose_is_accepted_after_the_subcommand_too(tiny_bundle, capsys):
    assert main(["info", str(tiny_bundle), "-v"]) == 0
    assert main(["-v", "info", str(tiny_bundle)]) == 0
    assert main(["models", "list", "--verbose"]) == 0


def test_a_comment_longer_than_the_encoder_reads_gets_a_note(tiny_bundle, tmp_path):
    res = run_a2m("generate", "--image", str(EXAMPLE_PAINTING), "--comment",
                  "the waves keep rolling " * 30, "--bundle", str(tiny_bundle), "-o",
                  str(tmp_path / "long.wav"), "-q")
    assert res.returncode == 0, res.stderr
    assert "a2m: note: the text encoder reads the first 77 tokens of the prompt and this " \
           "one has" in res.stderr


class _PullingStream:
    """An output device that pulls blocks on its own thread, faster than real time, and
    records when sound (non-zero samples) first came out."""

    def __init__(self, samplerate, channels, dtype, device, callback) -> None:
        import threading

        self.callback, self.played, self.first_sound_at = callback, [], None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        _PullingStream.last = self

    def _run(self) -> None:
        import numpy as np

        while not self._stop.is_set():
            out = np.zeros((512, 1), np.float32)
            self.callback(out, 512, None, None)
            if self.first_sound_at is None and np.abs(out).max() > 0:
                self.first_sound_at = time.perf_counter()
            self.played.append(out[:, 0].copy())
            time.sleep(0.001)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def close(self) -> None:
        pass


def test_play_starts_the_sound_before_the_clip_is_finished_and_plays_it_all(
        tiny_bundle, tmp_path, monkeypatch, capsys):
    import numpy as np

    import a2m_app.live
    import a2m_app.playback
    import a2m_core.engine

    monkeypatch.setattr(a2m_app.live, "probe_output", lambda: (True, "", [(0, "fake")]))
    monkeypatch.setattr(a2m_app.playback, "sounddevice_stream", _PullingStream)
    chunk_times = []
    real_stream = a2m_core.engine.Art2Music.stream

    def timed_stream(self, *a, **kw):
        for chunk in real_stream(self, *a, **kw):
            yield chunk
            # the tiny bundle vocodes a chunk in well under a millisecond, faster than the
            # fake device pulls (every 1 ms): pace it like a real vocoder, or a player that
            # starts early could still be timed after the last chunk (seen once in CI)
            time.sleep(0.02)
            chunk_times.append(time.perf_counter())

    monkeypatch.setattr(a2m_core.engine.Art2Music, "stream", timed_stream)
    out = tmp_path / "played.wav"
    assert main(["generate", "--image", str(EXAMPLE_PAINTING), "--comment", "a calm night",
                 "--bundle", str(tiny_bundle), "--play", "-q", "-o", str(out)]) == 0
    stream = _PullingStream.last
    assert len(chunk_times) > 2
    assert stream.first_sound_at is not None and stream.first_sound_at < chunk_times[-1]
    # The player got the whole clip that was saved (16-bit rounding aside) and played it
    # to its end; while the vocoder was behind, it waited silently at the edge.
    player = stream.callback.__self__
    saved, _ = sf.read(out, dtype="float32")
    assert player.reached_end and np.allclose(player._audio, saved, atol=1e-4)
    played = np.concatenate(stream.played)
    assert np.count_nonzero(played) >= 0.99 * np.count_nonzero(saved)


def test_play_without_a_sound_device_still_saves_the_clip(tiny_bundle, tmp_path,
                                                          monkeypatch, capsys):
    import a2m_app.live

    monkeypatch.setattr(a2m_app.live, "probe_output",
                        lambda: (False, "playback unavailable: no audio output device found", []))
    out = tmp_path / "quiet.wav"
    assert main(["generate", "--image", str(EXAMPLE_PAINTING), "--comment", "a calm night",
                 "--bundle", str(tiny_bundle), "--play", "-q", "-o", str(out)]) == 0
    assert "no audio output device found; the clip is saved without playing" in \
        capsys.readouterr().err
    assert out.is_file()


def test_a_bad_painting_is_refused_before_torch_loads(tmp_path):
    """A wrong path or a text file named .jpg is refused in a blink, not after the 4-5 s
    of importing torch and loading the model."""
    not_image = tmp_path / "notes.jpg"
    not_image.write_text("shopping list")
    for image, message in ((tmp_path / "nowhere.jpg", "image not found"),
                           (not_image, "not a readable image")):
        code = ("import sys; from a2m_app.cli import main; "
                f"rc = main(['generate', '--image', {str(image)!r}, '--comment', 'x']); "
                "print(rc, 'torch' in sys.modules)")
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             cwd=REPO, timeout=120)
        assert res.stdout.split()[-2:] == ["1", "False"], (res.stdout, res.stderr)
        assert message in res.stderr


def test_info_refuses_a_bundle_whose_tensors_do_not_fit_its_config(tiny_bundle, tmp_path,
                                                                   capsys):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(tiny_bundle))
    key = next(k for k in tensors if k.startswith("projector.") and k.endswith("weight"))
    tensors[key] = tensors[key][:, :-1].contiguous()  # one column short
    with safe_open(str(tiny_bundle), framework="pt") as f:
        meta = f.metadata()
    bad = tmp_path / "bad.safetensors"
    save_file(tensors, str(bad), metadata=meta)
    assert main(["info", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "shape mismatch" in err and key.split(".", 1)[1] in err


def test_every_output_is_checked_before_the_model_loads(tiny_bundle, tmp_path, capsys,
                                                        monkeypatch):
    """A folder, a read-only file or a missing folder as -o or --midi is refused in one
    line before any generation; the read-only file is left as it was."""
    import a2m_core.engine

    def no_load(*_a, **_k):
        raise AssertionError("the model was loaded before the outputs were checked")

    monkeypatch.setattr(a2m_core.engine.Art2Music, "load", no_load)
    (tmp_path / "d.mid").mkdir()
    (tmp_path / "d.wav").mkdir()
    ro = tmp_path / "ro.mid"
    ro.write_bytes(b"MThd old")
    ro.chmod(0o444)
    base = ["generate", "--image", str(EXAMPLE_PAINTING), "--comment", "x", "--bundle",
            str(tiny_bundle)]
    cases = [(["--midi", str(tmp_path / "d.mid")], "is a folder"),
             (["--midi", str(ro)], "read-only"),
             (["-o", str(tmp_path / "nowhere" / "c.wav")], "does not exist"),
             (["-o", str(tmp_path / "d.wav")], "is a folder")]
    for extra, expected in cases:
        assert main(base + extra) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("a2m: error: ") and expected in err and "\n" not in err
    assert ro.read_bytes() == b"MThd old" and oct(ro.stat().st_mode & 0o777) == "0o444"
    assert main(["generate", "--image", str(tmp_path), "--bundle", str(tiny_bundle)]) == 1
    assert "is a folder" in capsys.readouterr().err
