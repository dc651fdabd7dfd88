"""Pairing paintings and music through feeling: an ArtiCaps-format dataset stage 1 trains on."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from a2m_core.encoders import DEFAULT_SENTENCE_MODEL, EncoderConfig
from a2m_core.image_features import COLOUR_DIM
from trainer.data.dataset import ArtiCaps
from trainer.data.emotion_pairs import PairingConfig, build_emotion_pairs
from trainer.data.paintings import Crop


def _corpus(tmp_path: Path, music_clips: list[Path]) -> Path:
    """Three windows of real recordings, with opposite feelings on record."""
    import soundfile as sf

    from a2m_core.audio import load_audio

    out = tmp_path / "corpus"
    (out / "audio").mkdir(parents=True)
    rows = []
    for k, (clip, v, a) in enumerate(zip(music_clips[:3], (1.2, -1.1, 0.1), (1.3, -1.2, 0.0))):
        name = f"w{k}_0-10.4.wav"
        sf.write(out / "audio" / name, load_audio(clip, 22050)[: 229376], 22050)
        rows.append({"ytid": f"w{k}", "start_s": 0, "end_s": 10.4,
                     "audioset_positive_labels": "/m/04rlf", "aspect_list": "['test']",
                     "caption": f"test music number {k}", "source": "test",
                     "piece": f"p{k}", "valence": v, "arousal": a, "audio": name})
    with open(out / "musiccaps.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return out


def test_windows_pair_with_crops_of_matching_feeling_within_their_split(tmp_path, music_clips):
    if len(music_clips) < 3:
        pytest.skip("needs the shared fixture music")
    crops = []
    for p, colour in enumerate([(250, 200, 20), (30, 30, 60), (150, 120, 110)]):
        for k in range(3):  # three crops of each "painting", slightly different
            path = tmp_path / f"p{p}_{k}.jpg"
            Image.fromarray(np.full((40, 40, 3), [c - 8 * k for c in colour], np.uint8)
                            ).save(path)
            crops.append(Crop(path, f"painting{p}", "crop"))
    summary = build_emotion_pairs(PairingConfig(
        corpus=_corpus(tmp_path, music_clips), crops=crops, out=tmp_path / "ds",
        encoder=COLOUR_AND_MINILM,
        per_window=2, nearest=3, split=(0.34, 0.33, 0.33)))
    ds = ArtiCaps.open(tmp_path / "ds")
    assert summary["pairs"] == len(ds.pairs) == 6
    assert ds.image_emb.shape == (9, COLOUR_DIM) and ds.text_emb.shape == (6, 384)
    assert ds.mels.shape == (3, 80, 896)
    for p in ds.pairs:
        # a window meets only crops of its own split; text is its caption, never a comment
        assert p["prompt"].startswith(f"Art Commentary: test music number {p['ytid'][1]}")
    splits = {p["ytid"]: p["split"] for p in ds.pairs}
    assert len(set(splits.values())) == 3  # one piece and one painting per split
    assert (tmp_path / "ds" / "report.md").read_text().count("Valdez & Mehrabian") == 1


def _grey_paintings(tmp_path: Path, per_painting: int = 1) -> list[Crop]:
    crops = []
    for p in range(3):
        for k in range(per_painting):
            path = tmp_path / f"c{p}_{k}.jpg"
            Image.fromarray(np.full((32, 32, 3), 60 * p + 40 + 9 * k, np.uint8)).save(path)
            crops.append(Crop(path, f"painting{p}", "crop"))
    return crops


COLOUR_AND_MINILM = EncoderConfig(name="none", pretrained=None, image_model="colour",
                                  embed_dim=COLOUR_DIM, text_model=DEFAULT_SENTENCE_MODEL,
                                  text_dim=384)


def test_stage1_trains_on_an_emotion_paired_dataset(tmp_path, music_clips):
    if len(music_clips) < 3:
        pytest.skip("needs the shared fixture music")
    from trainer.train.stage1 import Stage1Config, load_stage1, train_stage1

    build_emotion_pairs(PairingConfig(corpus=_corpus(tmp_path, music_clips),
                                      crops=_grey_paintings(tmp_path), out=tmp_path / "ds",
                                      encoder=COLOUR_AND_MINILM, per_window=1, nearest=1,
                                      split=(0.34, 0.33, 0.33)))
    best = train_stage1(tmp_path / "ds", tmp_path / "run", Stage1Config(
        epochs=2, batch_size=2, hidden=16, decoder_hidden=8, decoder_layers=1,
        frames_per_step=8, device="cpu"))
    _, decoder, meta = load_stage1(best)
    assert decoder.cfg.frames_per_step == 8 and meta["encoder"]["image_model"] == "colour"


def test_stage1_learns_window_latents_and_their_spread_around_the_prior(tmp_path, music_clips):
    if len(music_clips) < 3:
        pytest.skip("needs the shared fixture music")
    import torch

    from trainer.train.stage1 import Stage1Config, load_stage1, train_stage1

    build_emotion_pairs(PairingConfig(corpus=_corpus(tmp_path, music_clips),
                                      crops=_grey_paintings(tmp_path, per_painting=2),
                                      out=tmp_path / "ds",
                                      encoder=COLOUR_AND_MINILM, per_window=2, nearest=3,
                                      split=(1.0, 0.0, 0.0)))
    best = train_stage1(tmp_path / "ds", tmp_path / "run", Stage1Config(
        epochs=3, batch_size=2, hidden=16, decoder_hidden=8, decoder_layers=1,
        frames_per_step=8, latent_dim=4, keep="last", device="cpu"))
    _, decoder, meta = load_stage1(best)
    assert decoder.cfg.latent_dim == 4 and meta["epoch"] == 2  # the last epoch was kept
    assert torch.all(decoder.latent_std > 0) and not torch.allclose(
        decoder.latent_std, torch.ones(4))  # fitted, not left at its initial value
