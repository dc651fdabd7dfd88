"""The feeling-consistency report of SPEC §3, for a built dataset.

- keyword similarity: painting-side keywords (emotion words of the comment, with the ArtEmis
  label) against audio-side keywords (the matched caption's aspect list), embedded with the
  same sentence encoder as the matching, cosine per pair -> histogram (paper: most 0.2-0.4);
- sentiment polarity of each side (AFINN sum of the comment, of the matched caption):
  positive / neutral / negative shares (paper: painting 55/13/32 %, audio 49/17/33 %);
- the 3x3 polarity-pair heatmap and the share of same-polarity pairs (paper: 47 %).

Writes ``keyword_similarity.png``, ``polarity.png``, ``polarity_pairs.png``,
``report.json`` and ``report.md``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .store import atomic_write_bytes, atomic_write_json

POLARITIES = ("positive", "neutral", "negative")
PAPER = {"painting": (55, 13, 32), "audio": (49, 17, 33), "same_polarity": 47}


def polarity(text: str) -> str:
    from a2m_core.prompt import _afinn

    score = _afinn().score(text)
    return "positive" if score > 0 else "negative" if score < 0 else "neutral"


def _save_png(fig: Any, path: Path) -> None:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())


def write_report(folder: Path, pairs: list[dict[str, Any]], clips: list[dict[str, Any]],
                 sentence_model: str) -> dict[str, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .matching import SentenceEncoder

    folder.mkdir(parents=True, exist_ok=True)
    n = len(pairs)
    captions = {int(c["clip"]): c for c in clips}
    painting_kw = [p["emotion_words"].replace(";", ",") or p["emotion"] or p["utterance"]
                   for p in pairs]
    audio_kw = [captions[int(p["clip"])]["keywords"].replace(";", ",")
                or captions[int(p["clip"])]["caption"] for p in pairs]
    enc = SentenceEncoder.shared(sentence_model)
    sims = np.sum(enc.encode(painting_kw) * enc.encode(audio_kw), axis=1)

    pol_p = [polarity(p["utterance"]) for p in pairs]
    pol_a = [polarity(captions[int(p["clip"])]["caption"]) for p in pairs]
    share = {side: {k: round(100.0 * pols.count(k) / n, 1) for k in POLARITIES}
             for side, pols in (("painting", pol_p), ("audio", pol_a))}
    heat = np.zeros((3, 3), int)
    for a, b in zip(pol_p, pol_a):
        heat[POLARITIES.index(a), POLARITIES.index(b)] += 1
    same = round(100.0 * np.trace(heat) / n, 1)
    hist, edges = np.histogram(sims, bins=10, range=(-0.2, 0.8))

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(sims, bins=20, range=(-0.2, 0.8), color="#4c72b0")
    ax.set(xlabel="cosine similarity (painting vs audio keywords)", ylabel="pairs",
           title=f"Keyword similarity, {n} pairs ({sentence_model})")
    _save_png(fig, folder / "keyword_similarity.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = np.arange(3)
    ax.bar(x - 0.2, [share["painting"][k] for k in POLARITIES], 0.4, label="painting (comment)")
    ax.bar(x + 0.2, [share["audio"][k] for k in POLARITIES], 0.4, label="audio (caption)")
    ax.set_xticks(x, POLARITIES)
    ax.set(ylabel="% of pairs", title="Sentiment polarity (AFINN)")
    ax.legend()
    _save_png(fig, folder / "polarity.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(4.5, 4))
    im = ax.imshow(heat, cmap="Blues")
    for i in range(3):
        for j in range(3):
            ax.text(j, i, str(heat[i, j]), ha="center", va="center")
    ax.set_xticks(range(3), POLARITIES)
    ax.set_yticks(range(3), POLARITIES)
    ax.set(xlabel="audio polarity", ylabel="painting polarity",
           title=f"Polarity pairs ({same}% same)")
    fig.colorbar(im, ax=ax, shrink=0.8)
    _save_png(fig, folder / "polarity_pairs.png")
    plt.close(fig)

    summary = {
        "pairs": n,
        "sentence_model": sentence_model,
        "keyword_similarity": {
            "mean": round(float(sims.mean()), 4), "median": round(float(np.median(sims)), 4),
            "share_0.2_0.4": round(100.0 * float(((sims >= 0.2) & (sims < 0.4)).mean()), 1),
            "histogram": {"edges": [round(float(e), 2) for e in edges],
                          "counts": hist.tolist()},
        },
        "polarity_percent": share,
        "polarity_pairs": {"rows_painting_cols_audio": list(POLARITIES),
                           "counts": heat.tolist()},
        "same_polarity_percent": same,
        "paper": PAPER,
    }
    atomic_write_json(folder / "report.json", summary)
    md = [
        "# ArtiCaps feeling-consistency report", "",
        f"{n} pairs; keywords embedded with `{sentence_model}`; polarity from AFINN sums.", "",
        "| measure | this dataset | paper |", "|---|---|---|",
        f"| keyword similarity, median | {summary['keyword_similarity']['median']} | "
        f"most pairs 0.2-0.4 |",
        f"| pairs with similarity in 0.2-0.4 | {summary['keyword_similarity']['share_0.2_0.4']}% "
        f"| most |",
        "| painting polarity pos/neu/neg | " + "/".join(
            f"{share['painting'][k]}" for k in POLARITIES) + " % | 55/13/32 % |",
        "| audio polarity pos/neu/neg | " + "/".join(
            f"{share['audio'][k]}" for k in POLARITIES) + " % | 49/17/33 % |",
        f"| same-polarity pairs | {same}% | 47% |", "",
        "![keyword similarity](keyword_similarity.png) ![polarity](polarity.png) "
        "![polarity pairs](polarity_pairs.png)", "",
    ]
    atomic_write_bytes(folder / "report.md", "\n".join(md).encode("utf-8"))
    return summary
