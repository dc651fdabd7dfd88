"""A museum renders its collection: one command, a manifest it can check, bad rows named and
passed over, a crash resumed without a duplicate, and the same bytes on a Dask cluster."""
from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from a2m_core.debug import build_debug_bundle, tiny_notes_config
from a2m_core.notes.sampler import FLUID_R3_GM

from .conftest import REPO

pytestmark = pytest.mark.skipif(not Path(FLUID_R3_GM.path).is_file(),
                                reason="FluidR3_GM.sf2 missing: apt-get install "
                                       "fluid-soundfont-gm")
EXAMPLES = sorted((REPO / "examples").glob("*.jpg"))
COMMENTS = ("the sky is restless", "a quiet evening", "joy everywhere", "", "a storm comes")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return build_debug_bundle(tmp_path_factory.mktemp("batch") / "notes.safetensors",
                              config=tiny_notes_config())


def collection(folder: Path, n: int, extra: list[dict] | None = None) -> Path:
    rows = [{"image": str(EXAMPLES[k % len(EXAMPLES)]), "comment": COMMENTS[k % 5],
             "seed": str(k % 3) if k % 2 else "", "name": f"clip-{k:03d}"} for k in range(n)]
    rows += extra or []
    path = folder / "collection.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=sorted({k for r in rows for k in r}))
        writer.writeheader()
        writer.writerows(rows)
    return path


def manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def run_cli(*args: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "a2m_app.cli", "batch", *args, "-q"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **popen)


def test_a_collection_writes_each_rows_files_and_one_manifest_line(bundle, tmp_path):
    from a2m_app.cli import main

    bad_text = tmp_path / "notes.jpg"
    bad_text.write_text("a shopping list")
    extra = [{"image": str(tmp_path / "gone.jpg"), "name": "missing"},
             {"image": str(bad_text), "name": "text"},
             {"image": str(EXAMPLES[0]), "tempo": "999", "name": "too-fast"},
             {"image": str(EXAMPLES[0]), "style": "bebop", "name": "styled"},
             {"image": str(EXAMPLES[1]), "key": "F# minor", "instrument": "harp",
              "name": "pinned"}]
    coll = collection(tmp_path, 6, extra)
    out = tmp_path / "out"
    assert main(["batch", str(coll), "-o", str(out), "--bundle", str(bundle), "-q"]) == 0
    lines = manifest(out)
    assert sorted(r["row"] for r in lines) == list(range(1, 12))  # every row, once
    errors = {r["name"]: r["error"] for r in lines if r["error"]}
    assert set(errors) == {"missing", "text", "too-fast", "styled"}
    assert "image not found" in errors["missing"] and "not a readable image" in errors["text"]
    assert "tempo 999" in errors["too-fast"] and "style 'bebop'" in errors["styled"]
    pinned = next(r for r in lines if r["name"] == "pinned")
    plan = json.loads((out / "pinned.json").read_text())
    assert plan["key"] == "F# minor" and plan["instrument"] == "harp" and plan["why"]
    for r in lines:
        if not r["error"]:
            assert set(r["outputs"]) == {"wav", "midi", "plan"}
            for kind, name in r["outputs"].items():
                from a2m_app.batch import sha256_of

                assert sha256_of(out / name) == r["sha256"][kind]
    assert pinned["why"].endswith("pinned: instrument, key, mode")
    # the same command again has nothing left to do
    assert main(["batch", str(coll), "-o", str(out), "--bundle", str(bundle), "-q"]) == 0
    assert len(manifest(out)) == 11


def test_a_kill_at_a_random_moment_then_the_same_command_finishes_as_if_uninterrupted(
        bundle, tmp_path):
    coll = collection(tmp_path, 24)
    reference = tmp_path / "reference"  # two pool processes: the same bytes as one
    assert run_cli(str(coll), "-o", str(reference), "--bundle", str(bundle),
                   "--workers", "2").wait(300) == 0
    want = {r["name"]: r["sha256"] for r in manifest(reference)}
    out = tmp_path / "out"
    proc = run_cli(str(coll), "-o", str(out), "--bundle", str(bundle))
    target = random.Random(os.getpid()).randint(2, 18)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        done = (out / "manifest.jsonl").read_text().count("\n") if (
            out / "manifest.jsonl").is_file() else 0
        if done >= target:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    killed_at = (out / "manifest.jsonl").read_text().count("\n")
    assert killed_at < 24, "the run ended before the kill"
    assert run_cli(str(coll), "-o", str(out), "--bundle", str(bundle)).wait(300) == 0
    lines = manifest(out)
    assert sorted(r["row"] for r in lines) == list(range(1, 25))  # each exactly once
    assert {r["name"]: r["sha256"] for r in lines} == want  # the uninterrupted bytes
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no partial file


def test_a_local_dask_cluster_makes_the_same_bytes(bundle, tmp_path):
    """A scheduler and two worker processes on this machine, as `dask scheduler` and
    `dask worker` start them (each its own process: nothing of Dask runs in the test's)."""
    import importlib.util
    import socket

    if importlib.util.find_spec("distributed") is None:
        pytest.skip("Dask is the [cluster] extra: pip install 'art2music[cluster]'")
    coll = collection(tmp_path, 8)
    assert run_cli(str(coll), "-o", str(tmp_path / "local"), "--bundle", str(bundle)
                   ).wait(300) == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dask = str(Path(sys.executable).parent / "dask")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    scheduler = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port",
                                  str(port), "--no-dashboard"], **quiet)
    workers = subprocess.Popen([dask, "worker", f"tcp://127.0.0.1:{port}", "--nworkers", "2",
                                "--nthreads", "1", "--no-dashboard"], **quiet)
    try:
        batch = run_cli(str(coll), "-o", str(tmp_path / "cluster"), "--bundle", str(bundle),
                        "--cluster", f"dask://127.0.0.1:{port}")
        assert batch.wait(300) == 0, batch.stderr.read()[-2000:]
    finally:
        for p in (workers, scheduler):
            p.terminate()
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
    here = {r["name"]: r["sha256"] for r in manifest(tmp_path / "local")}
    there = {r["name"]: r["sha256"] for r in manifest(tmp_path / "cluster")}
    assert len(there) == 8 and there == here
