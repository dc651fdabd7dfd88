"""Matching throughput at ArtiCaps' full scale: 455k comments x 5.5k captions, 384-d.

Synthetic L2-normalised embeddings (matching cost does not depend on the text). Baseline in
the same run: the naive approach, one full similarity matrix and a full argsort per row, on
a 20k-comment subset (the full naive matrix would need 455k x 5.5k x 4 B = 10 GB).

    python benchmarks/bench_matching.py [--comments 455000] [--captions 5521] [--chunk 8192]
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from trainer.data.matching import top_k_matches


def normalised(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--comments", type=int, default=455_000)
    ap.add_argument("--captions", type=int, default=5_521)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--chunk", type=int, default=8192)
    ap.add_argument("--k", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    queries = normalised(rng, args.comments, args.dim)
    keys = normalised(rng, args.captions, args.dim)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    sub = queries[:20_000]
    t = time.perf_counter()
    naive = np.argsort(-(sub @ keys.T), axis=1)[:, : args.k]
    naive_s = time.perf_counter() - t
    rss_naive = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    t = time.perf_counter()
    idx, _ = top_k_matches(sub, keys, k=args.k, chunk=args.chunk)
    chunked_sub_s = time.perf_counter() - t
    assert np.array_equal(idx, naive), "chunked top-k disagrees with brute force"

    t = time.perf_counter()
    top_k_matches(queries, keys, k=args.k, chunk=args.chunk)
    full_s = time.perf_counter() - t
    rss_full = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"matching {args.comments} x {args.captions} ({args.dim}-d), top-{args.k}, "
          f"chunk {args.chunk}")
    print(f"  naive (full matrix + argsort), 20k subset: {naive_s:.2f} s "
          f"({20_000 / naive_s:,.0f} comments/s)")
    print(f"  chunked top-k, same subset:               {chunked_sub_s:.2f} s "
          f"({20_000 / chunked_sub_s:,.0f} comments/s) -> {naive_s / chunked_sub_s:.1f}x faster")
    print(f"  chunked top-k, full scale:                {full_s:.1f} s "
          f"({args.comments / full_s:,.0f} comments/s)")
    print(f"  peak RSS: {rss0:.0f} MB with inputs, {rss_naive:.0f} MB after the naive subset, "
          f"{rss_full:.0f} MB after the full run (similarity block: "
          f"{args.chunk * args.captions * 4 / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
