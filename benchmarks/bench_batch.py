"""A collection of 1,000 rows, as a museum would run it: clips per minute on this machine with
``--workers 1`` and ``--workers 2``, and on a local Dask cluster of two worker processes; each
run's manifest checked to list every row exactly once, and the runs' bytes compared.

Rows: the four example paintings x 250 comments composed from the starter's comment bank
(all four feelings), no seed, the default (notes) bundle.

    .venv/bin/python benchmarks/bench_batch.py [--rows 1000] [--bundle B] [--no-dask]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from a2m_app.batch import run_collection  # noqa: E402


def make_collection(folder: Path, n: int) -> Path:
    from trainer.data.comment_bank import comment_for

    rng = random.Random(0)
    paintings = sorted((ROOT / "examples").glob("*.jpg"))
    path = folder / "collection.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["name", "image", "comment"])
        w.writeheader()
        for k in range(n):
            level, valence = rng.randrange(4), rng.choice(("pos", "neg"))
            w.writerow({"name": f"row-{k:04d}", "image": str(paintings[k % len(paintings)]),
                        "comment": comment_for(level, valence, rng)})
    return path


def timed(label: str, coll: Path, out: Path, n: int, **kw) -> dict:
    t = time.perf_counter()
    counts = run_collection(coll, out, kw.pop("bundle"), **kw)
    seconds = time.perf_counter() - t
    lines = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    once = sorted(r["row"] for r in lines) == list(range(1, n + 1))
    rate = 60 * counts["made"] / seconds
    print(f"{label:28s} {counts['made']} clips in {seconds:6.1f} s: {rate:6.0f} clips/min; "
          f"errors {counts['errors']}; every row once in the manifest: "
          f"{'yes' if once else 'NO'}", flush=True)
    return {"seconds": seconds, "per_min": rate, "once": once,
            "sha": {r["name"]: r["sha256"] for r in lines}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--bundle", help="bundle (default: the default bundle)")
    ap.add_argument("--no-dask", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="a2m-batch-"))
    print(f"{args.rows} rows, {platform.machine()}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d')}")
    try:
        coll = make_collection(work, args.rows)
        runs = {"workers 1": timed("--workers 1", coll, work / "w1", args.rows,
                                   bundle=args.bundle, workers=1),
                "workers 2": timed("--workers 2", coll, work / "w2", args.rows,
                                   bundle=args.bundle, workers=2)}
        if not args.no_dask:
            from distributed import LocalCluster

            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster:
                address = cluster.scheduler_address.removeprefix("tcp://")
                runs["dask, 2 workers"] = timed("dask, 2 worker processes", coll,
                                                work / "dask", args.rows, bundle=args.bundle,
                                                cluster=f"dask://{address}")
        same = all(r["sha"] == runs["workers 1"]["sha"] for r in runs.values())
        print(f"the same bytes in every run: {'yes' if same else 'NO'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if same and all(r["once"] for r in runs.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
