"""Pairing paintings with music through feeling, when there are no viewers' comments.

The paper pairs a painting with music through the feelings in its comment and the music's
caption. For the starter there are no comments we may use (the fixture comments are its
evaluation inputs), so each music window is paired with painting crops through emotion:

- painting side: pleasure and arousal from colour (Valdez & Mehrabian 1994, brightness and
  saturation; ``a2m_core.image_features.colour_feeling``);
- music side: valence and arousal from tempo, mode, loudness, onsets and brightness
  (Juslin & Laukka 2004; ``music_feeling.valence_arousal``);
- both z-scored, then each window takes ``per_window`` crops drawn from its nearest
  ``nearest`` crops in that plane: colour and music agree through emotion (Palmer et al.
  2013 found such emotion-mediated colour–music associations across cultures).

The text of a pair is the window's caption (true by construction, see ``corpus``), as the
composite prompt; half the pairs also carry the AudioSet labels and keywords as hints,
as a user may. A viewer's comment at generation time is read by the same sentence encoder,
so it lands near captions that share its feeling words.

Splits: music by piece and paintings by painting, seeded 8:1:1; a pair only joins a window
and a crop of the same split, so no test painting or test piece is seen in training.
The output is an ArtiCaps-format folder (``trainer.data.dataset.ArtiCaps`` reads it).
"""
from __future__ import annotations

import csv
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from a2m_core.audio import MelConfig, load_audio, wave_to_mel
from a2m_core.encoders import ClipEncoder, EncoderConfig
from a2m_core.image_features import colour_feeling
from a2m_core.prompt import MusicHints, build_prompt, caption_keywords, label_names

from .builder import split_paintings
from .paintings import Crop
from .store import atomic_save_npy, atomic_write_bytes, atomic_write_csv, atomic_write_json

Progress = Callable[[str, int, int], None]


@dataclass
class PairingConfig:
    corpus: Path  # a music corpus folder (``a2m-train corpus``)
    crops: list[Crop]  # painting crops (``paintings.extract_gcompris``)
    out: Path
    encoder: EncoderConfig
    per_window: int = 3  # crops paired with each window
    nearest: int = 12  # ... drawn from this many nearest in the emotion plane
    seed: int = 0
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    mel: MelConfig = field(default_factory=MelConfig)


def _z(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(0)) / np.maximum(x.std(0), 1e-9)


def build_emotion_pairs(cfg: PairingConfig, progress: Progress | None = None) -> dict[str, Any]:
    """Write the paired dataset; returns its summary (also in ``manifest.json``)."""
    t0 = time.perf_counter()
    report = progress or (lambda *_: None)
    out = cfg.out
    out.mkdir(parents=True, exist_ok=True)
    with open(cfg.corpus / "musiccaps.csv", newline="", encoding="utf-8") as f:
        windows = list(csv.DictReader(f))
    crops = cfg.crops
    music_va = _z(np.array([[float(w["valence"]), float(w["arousal"])] for w in windows]))
    feel = [colour_feeling(Image.open(c.path)) for c in crops]
    paint_va = _z(np.array([[f.pleasure, f.arousal] for f in feel]))

    music_split = split_paintings(sorted({w["source"] + "/" + w["piece"] for w in windows}),
                                  cfg.split, cfg.seed)
    paint_split = split_paintings(sorted({c.painting for c in crops}), cfg.split, cfg.seed)
    rng = random.Random(cfg.seed)

    clip_rows, pair_rows = [], []
    mels = np.zeros((len(windows), cfg.mel.n_mels, cfg.mel.n_frames), np.float16)
    for i, w in enumerate(windows):
        report("mels", i, len(windows))
        wave = load_audio(cfg.corpus / "audio" / w["audio"], cfg.mel.sample_rate)
        mels[i] = wave_to_mel(wave, cfg.mel).astype(np.float16)
        labels = label_names(w["audioset_positive_labels"])
        keywords = caption_keywords(w["aspect_list"])
        clip_rows.append({"clip": i, "mel_row": i, "ytid": w["ytid"],
                          "audio": str(cfg.corpus / "audio" / w["audio"]),
                          "start_s": w["start_s"], "end_s": w["end_s"], "precut": True,
                          "labels": "; ".join(labels), "keywords": "; ".join(keywords),
                          "caption": w["caption"]})
        split = music_split[w["source"] + "/" + w["piece"]]
        pool = [j for j, c in enumerate(crops) if paint_split[c.painting] == split]
        dist = np.linalg.norm(paint_va[pool] - music_va[i], axis=1)
        near = [pool[j] for j in np.argsort(dist)[: cfg.nearest]]
        for k, j in enumerate(rng.sample(near, min(cfg.per_window, len(near)))):
            hints = MusicHints(tuple(labels), tuple(keywords)) if k % 2 else None
            pair_rows.append({
                "pair": len(pair_rows), "split": split, "painting": crops[j].painting,
                "painting_index": j, "image": str(crops[j].path), "emotion": "",
                "utterance": w["caption"], "clip": i, "mel_row": i, "ytid": w["ytid"],
                "match_score": f"{-float(np.linalg.norm(paint_va[j] - music_va[i])):.4f}",
                "topk_ytids": w["ytid"], "topk_scores": "1.0",
                "music_valence": f"{music_va[i, 0]:.3f}", "music_arousal": f"{music_va[i, 1]:.3f}",
                "painting_pleasure": f"{paint_va[j, 0]:.3f}",
                "painting_arousal": f"{paint_va[j, 1]:.3f}",
                "prompt": build_prompt(w["caption"], hints).text,
            })
    report("mels", len(windows), len(windows))
    atomic_save_npy(out / "mels.npy", mels)

    encoder = ClipEncoder(cfg.encoder)
    img = np.zeros((len(crops), cfg.encoder.embed_dim), np.float32)
    for s in range(0, len(crops), 32):
        report("embed paintings", s, len(crops))
        img[s:s + 32] = encoder.encode_images([c.path for c in crops[s:s + 32]]).numpy()
    report("embed paintings", len(crops), len(crops))
    report("embed prompts", 0, 1)
    txt = encoder.encode_texts([p["prompt"] for p in pair_rows]).numpy()
    report("embed prompts", 1, 1)
    atomic_save_npy(out / "image_emb.npy", img)
    atomic_save_npy(out / "text_emb.npy", txt)
    atomic_write_csv(out / "clips.csv", clip_rows)
    atomic_write_csv(out / "pairs.csv", pair_rows)

    pv = np.array([[float(p["painting_pleasure"]), float(p["painting_arousal"])]
                   for p in pair_rows])
    mv = np.array([[float(p["music_valence"]), float(p["music_arousal"])] for p in pair_rows])
    summary = {
        "windows": len(windows), "crops": len(crops),
        "paintings": len({c.painting for c in crops}), "pairs": len(pair_rows),
        "splits": {s: sum(p["split"] == s for p in pair_rows) for s in ("train", "val", "test")},
        "valence_correlation": round(float(np.corrcoef(pv[:, 0], mv[:, 0])[0, 1]), 3),
        "arousal_correlation": round(float(np.corrcoef(pv[:, 1], mv[:, 1])[0, 1]), 3),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    atomic_write_bytes(out / "report.md", pairing_report(summary).encode("utf-8"))
    atomic_write_json(out / "manifest.json", {
        "format": "articaps", "format_version": 1, "complete": True,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "pairing": "emotion (colour <-> musical cues); see trainer/data/emotion_pairs.py",
        "sources": {"corpus": str(cfg.corpus), "paintings": sorted({c.painting for c in crops})},
        "config": {"mel": cfg.mel.to_dict(), "encoder": cfg.encoder.to_dict(),
                   "seed": cfg.seed, "per_window": cfg.per_window, "nearest": cfg.nearest},
        "counts": summary,
    })
    return summary


def pairing_report(s: dict[str, Any]) -> str:
    return f"""# Emotion pairing report

{s['windows']} music windows, {s['crops']} crops of {s['paintings']} paintings ->
{s['pairs']} pairs (train/val/test {s['splits']['train']}/{s['splits']['val']}/\
{s['splits']['test']}).

Rules (each documented in `trainer/data/emotion_pairs.py` and `music_feeling.py`):
- painting pleasure = 0.69 B + 0.22 S, arousal = -0.31 B + 0.60 S on HSV brightness B and
  saturation S (Valdez & Mehrabian 1994);
- music valence from mode, tempo and brightness, arousal from tempo, loudness and onset
  rate (Juslin & Laukka 2004), z-scored over the corpus;
- each window is paired with crops drawn from its nearest in that plane, within its split
  (music split by piece, paintings by painting).

Agreement of the pairs in the emotion plane (Pearson r, painting vs music):
valence {s['valence_correlation']}, arousal {s['arousal_correlation']}.

Texts: the window's caption (what its rendering used or what was measured, with mood words
from the cue rule); no viewer comments were invented.
"""
