"""An installation wants sound that never stops: loops with no audible wrap, and playlists
of scenes joined into one long piece without clicks."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from a2m_app.cli import main
from a2m_core.audio import MelConfig, load_audio, log_mel_numpy
from a2m_core.errors import BadInputError
from a2m_core.soundscape import join_scenes, make_loop, read_playlist

from .conftest import EXAMPLE_PAINTING

SR = 22050


def spectral_changes(wave: np.ndarray) -> np.ndarray:
    """Mean |change| of the log-mel between successive frames."""
    mel = log_mel_numpy(wave.astype(np.float32), MelConfig())
    return np.abs(np.diff(mel, axis=1)).mean(axis=0)


def test_a_looped_clip_wraps_without_a_step_or_a_spectral_jump(music_clips):
    audio = load_audio(music_clips[1], SR)[: 10 * SR]
    loop = make_loop(audio, SR, 0.5)
    assert loop.size == audio.size - SR // 2
    twice = np.concatenate([loop, loop])
    steps = np.abs(np.diff(twice))
    wrap = abs(float(loop[0]) - float(loop[-1]))
    assert wrap <= np.percentile(steps, 99)  # no larger than the clip's ordinary steps
    changes = spectral_changes(twice)
    at = loop.size // 256  # the frame that straddles the wrap
    assert changes[at - 2:at + 2].max() <= 3 * np.median(changes)

    naive = np.concatenate([audio[: audio.size // 2 + 1234], audio[: audio.size // 2 + 1234]])
    cut = audio.size // 2 + 1234  # cutting anywhere else does jump: the check can fail
    jumped = spectral_changes(naive)[cut // 256 - 2: cut // 256 + 2].max()
    assert jumped > changes[at - 2:at + 2].max()


def test_a_three_scene_soundscape_is_one_long_file_without_clicks(tiny_bundle, tmp_path,
                                                                  paintings):
    playlist = tmp_path / "scenes.csv"
    rows = ["image,comment,seed,seconds"]
    for i, p in enumerate(paintings[:3]):
        rows.append(f"{p},\"scene {i}: the light changes slowly\",{i},10")
    playlist.write_text("\n".join(rows) + "\n")
    out = tmp_path / "long.wav"
    assert main(["soundscape", "--playlist", str(playlist), "-o", str(out), "--bundle",
                 str(tiny_bundle), "--device", "cpu", "-q"]) == 0
    audio, sr = sf.read(out)
    assert sr == SR and audio.size / sr >= 25.0  # 3 x 10 s less two 2-s crossfades
    steps = np.abs(np.diff(audio))
    assert steps.max() <= 4 * np.percentile(steps, 99.9)


def test_scenes_are_joined_with_equal_power_crossfades():
    rng = np.random.default_rng(0)
    clips = [rng.standard_normal(5 * SR).astype(np.float32) * 0.1 for _ in range(2)]
    out = join_scenes(clips, [4.0, 4.0], SR, crossfade_s=1.0)
    assert out.size == 7 * SR
    rms = [float(np.sqrt(np.mean(out[i:i + SR // 4] ** 2))) for i in range(0, out.size -
                                                                         SR // 4, SR // 4)]
    assert max(rms) / min(rms) < 1.3  # no dip or bump in level across the seam


def test_playlist_mistakes_name_the_line(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("image,comment,seed\nx.jpg,hello,seven\n")
    with pytest.raises(BadInputError, match="bad.csv line 2"):
        read_playlist(bad)
    (tmp_path / "cols.csv").write_text("picture,words\nx.jpg,hi\n")
    with pytest.raises(BadInputError, match="needs the columns image,comment"):
        read_playlist(tmp_path / "cols.csv")
    missing = tmp_path / "missing.csv"
    missing.write_text(f"image,comment\n{tmp_path / 'nowhere.jpg'},hello\n")
    assert main(["soundscape", "--playlist", str(missing), "-o", str(tmp_path / "x.wav")]) == 1
    err = capsys.readouterr().err.strip()
    assert "missing.csv scene 1: image not found" in err and "\n" not in err


def test_generate_loop_writes_a_clip_that_repeats(tiny_bundle, tmp_path):
    out = tmp_path / "loop.wav"
    assert main(["generate", "--image", str(EXAMPLE_PAINTING), "--comment", "round again",
                 "--bundle", str(tiny_bundle), "--loop", "-o", str(out), "-q"]) == 0
    audio, sr = sf.read(out)
    assert audio.size == 896 * 256 - sr // 2
