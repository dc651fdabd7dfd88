"""A clip in the file a DAW or a gallery chain wants: WAV or FLAC at 16 or 24 bits, OGG
Vorbis, MP3; from the engine, the CLI and the bridge alike."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from a2m_app.cli import main
from a2m_core.errors import BadInputError
from a2m_core.produce import Outputs, write

from .conftest import EXAMPLE_PAINTING

KINDS = {".wav": ("WAV", {16: "PCM_16", 24: "PCM_24"}),
         ".flac": ("FLAC", {16: "PCM_16", 24: "PCM_24"}),
         ".ogg": ("OGG", {16: "VORBIS"}), ".mp3": ("MP3", {16: "MPEG_LAYER_III"})}


@pytest.fixture(scope="module")
def clip(engine):
    return engine.generate(EXAMPLE_PAINTING, "the sky sings", seed=2)


def test_each_format_is_what_its_file_says(clip, tmp_path):
    for suffix, (fmt, subtypes) in KINDS.items():
        for bits, subtype in subtypes.items():
            path = write(clip, Outputs(tmp_path / f"clip{bits}{suffix}", bits=bits))["audio"]
            info = sf.info(path)
            assert (info.format, info.subtype, info.samplerate) == (fmt, subtype,
                                                                    clip.sample_rate)
            # lossy codecs pad a little at the edges; PCM and FLAC are exact in length
            assert abs(info.frames - len(clip.audio)) <= (0 if fmt in ("WAV", "FLAC")
                                                          else clip.sample_rate // 10)


def test_a_24_bit_wav_round_trips(clip, tmp_path):
    path = clip.save(tmp_path / "clip.wav", bits=24)
    back, _ = sf.read(path, dtype="float64")
    assert np.abs(back - clip.audio).max() <= 2.0 ** -23  # one 24-bit step
    sixteen, _ = sf.read(clip.save(tmp_path / "clip16.wav"), dtype="float64")
    assert np.abs(sixteen - clip.audio).max() > 2.0 ** -23  # 16 bits are coarser


def test_what_cannot_be_written_is_refused_in_one_line(clip, tmp_path):
    with pytest.raises(BadInputError, match=".aac"):
        clip.save(tmp_path / "clip.aac")
    with pytest.raises(BadInputError, match="16 or 24"):
        clip.save(tmp_path / "clip.wav", bits=32)
    assert not list(tmp_path.iterdir())


def test_the_cli_writes_the_kind_asked_for(tiny_bundle, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["generate", "--image", str(EXAMPLE_PAINTING), "--bundle", str(tiny_bundle),
                 "-q", "-o", "c.flac", "--bits", "24"]) == 0
    assert sf.info("c.flac").subtype == "PCM_24"
    assert main(["generate", "--image", str(EXAMPLE_PAINTING), "--bundle", str(tiny_bundle),
                 "-q", "--format", "mp3", "--seed", "4"]) == 0
    assert sf.info(f"{EXAMPLE_PAINTING.stem}-seed4.mp3").format == "MP3"
    capsys.readouterr()
    assert main(["generate", "--image", str(EXAMPLE_PAINTING), "-o", "c.aac"]) == 1
    assert ".aac" in capsys.readouterr().err
    assert main(["generate", "--image", str(EXAMPLE_PAINTING), "-o", "c.wav",
                 "--format", "ogg"]) == 1
    assert "disagree" in capsys.readouterr().err
