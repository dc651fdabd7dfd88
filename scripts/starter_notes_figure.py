"""The README's picture: one unseen painting and comment played by the earlier mel starter
and by the notes starter, beside a real recording, each mel with its plan (the recording's
is measured: tempo by beat tracking, key and notes/s by basic-pitch transcription).

    .venv/bin/python scripts/starter_notes_figure.py [--recording ../shared/data/music_clips/X.ogg]
        [-o docs/starter-notes.png]
"""
from __future__ import annotations

import argparse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAINTING = REPO / "examples" / "henri-matisse_woman-with-a-hat-1905.jpg"
COMMENT = "Her face looks calm but the colours around her are loud and restless"
RECORDING = REPO.parent / "shared" / "data" / "music_clips" / "Kevin_MacLeod_-_Vibe_Ace.ogg"


def measured_plan(wave, sr: int) -> str:
    import librosa
    import numpy as np

    from a2m_core.notes.score import KK_MAJOR, KK_MINOR, NAMES
    from trainer.evaluate.notes_figures import transcribe

    tempo = float(np.atleast_1d(librosa.beat.beat_track(y=wave, sr=sr)[0])[0])
    notes = transcribe(wave, sr)
    hist = np.zeros(12)
    for s, e, p in notes:
        hist[p % 12] += e - s
    best = max(((float(np.corrcoef(hist, np.roll(prof, k))[0, 1]), k, mode)
                for mode, prof in (("major", KK_MAJOR), ("minor", KK_MINOR))
                for k in range(12)))
    starts = sorted(n[0] for n in notes)
    onsets = sum(1 for i, s in enumerate(starts) if i == 0 or s - starts[i - 1] > 0.05)
    return (f"measured: {tempo:.0f} bpm · {NAMES[best[1]]} {best[2]} · "
            f"{onsets / (len(wave) / sr):.1f} notes/s")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mel-starter", default=str(REPO / "a2m_core" / "assets" /
                                                 "starter-mel.safetensors"))
    ap.add_argument("--notes-starter", default=str(REPO / "a2m_core" / "assets" /
                                                   "starter.safetensors"))
    ap.add_argument("--recording", default=str(RECORDING))
    ap.add_argument("-o", "--output", default=str(REPO / "docs" / "starter-notes.png"))
    args = ap.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from a2m_core import Art2Music
    from a2m_core.audio import MelConfig, load_audio, wave_to_mel
    from trainer.evaluate.notes_figures import notes_figures

    cfg = MelConfig()
    rows = []
    for label, bundle in (("earlier mel starter (BiLSTM + HiFi-GAN)", args.mel_starter),
                          ("notes starter (plan + notes + SoundFont)", args.notes_starter)):
        engine = Art2Music.load(bundle, device="cpu")
        clip = engine.generate(PAINTING, COMMENT)
        plan = clip.plan.describe() if clip.plan else "no plan: a mel, not notes"
        rows.append((label, clip.mel, clip.audio, plan))
    wave = load_audio(args.recording, cfg.sample_rate, duration_s=cfg.duration_s)
    rows.append((f"a real recording ({Path(args.recording).stem[:40]})",
                 wave_to_mel(wave, cfg), wave, measured_plan(wave, cfg.sample_rate)))
    fig, axes = plt.subplots(len(rows), 1, figsize=(10, 2.7 * len(rows)))
    for ax, (label, mel, audio, plan) in zip(axes, rows):
        f = notes_figures(audio, cfg.sample_rate)
        ax.imshow(mel, origin="lower", aspect="auto", vmin=-1, vmax=1, cmap="magma",
                  extent=(0, cfg.duration_s, 0, cfg.n_mels))
        ax.set_title(f"{label}: voiced {f['voiced']:.2f}, key {f['key']:.2f}, harmonic "
                     f"{f['harm']:.2f}\n{plan}", fontsize=9)
        ax.set_ylabel("mel band")
    axes[-1].set_xlabel(f"seconds — “{COMMENT}”, Woman with a Hat (unseen)")
    fig.tight_layout()
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
