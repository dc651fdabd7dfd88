"""A whole collection in one command: ``a2m batch collection.csv -o out/``.

Each row of a CSV (or JSON Lines) file is a painting and what shapes its music: ``image``,
``comment``, ``hints``, ``emotion``, ``seed``, ``seconds``, the pins (``tempo``, ``key``,
``mode``, ``instrument``, ``dynamics``, ``density``, ``register``, ``articulation``,
``texture``), ``variation``, ``format`` and ``bits``, ``style`` and ``name``. Each row
writes ``<name>.wav`` (or its format), ``<name>.mid`` (notes bundles) and ``<name>.json``
(the plan and its why-line), each atomically, and then one line
of ``manifest.jsonl``: the row, its outputs with their sha256, the plan, the time it took,
or the error that stopped it.

The manifest is the record of what is done. Run the same command again after a crash, a
kill -9 or a power cut: a row whose line is there and whose files still have their sha256 is
skipped; every other row is made again; the manifest is rewritten first with only the lines
that still hold, so each row appears in it exactly once.

Rows run here (``workers`` processes, each loading the bundle once) or on a Dask cluster
(``cluster="dask://host:8786"``; each worker loads the bundle once, by path on shared
storage). Only this process writes the manifest. A row's bytes do not depend on where it ran:
its draws come from its seed or its painting's pixels, and the render is sample-exact.
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from a2m_core.errors import A2MError, BadInputError
from a2m_core.fileio import atomic_write_bytes, remove_stale_temps
from a2m_core.model_store import sha256_file as sha256_of
from a2m_core.produce import Outputs, produce

log = logging.getLogger(__name__)

MANIFEST = "manifest.jsonl"
COLUMNS = ("image", "comment", "hints", "emotion", "seed", "seconds", "style", "name",
           "tempo", "key", "mode", "instrument", "dynamics", "density", "register",
           "articulation", "texture", "variation", "format", "bits")


@dataclass(frozen=True)
class Row:
    index: int  # 1-based, as a person counts the rows of their file
    fields: dict[str, str]
    base: Path  # the collection file's folder: relative image paths start there

    @property
    def name(self) -> str:
        raw = (self.fields.get("name") or "").strip()
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in raw).strip(".-")
        return safe[:80] or f"row{self.index:05d}"

    @property
    def key(self) -> str:
        """What the row asks, as a hash: a changed row is made again on resume."""
        return hashlib.sha256(json.dumps(self.fields, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def image(self) -> Path:
        path = Path((self.fields.get("image") or "").strip()).expanduser()
        return path if path.is_absolute() else self.base / path


def read_rows(path: Path) -> list[Row]:
    """The rows of a ``.csv`` (header line) or ``.jsonl`` (one object a line) collection.

    Raises:
        BadInputError: no such file, no ``image`` column, a column nobody knows.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"collection not found: {path}")
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        records = []
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    value = json.loads(line)
                except ValueError as err:
                    raise BadInputError(f"{path.name} line {n}: not JSON ({err})") from None
                if not isinstance(value, dict):
                    raise BadInputError(f"{path.name} line {n}: not a JSON object")
                records.append(value)
    else:
        records = list(csv.DictReader(text.splitlines()))
    if not records:
        raise BadInputError(f"{path.name} holds no rows")
    names = set().union(*(r.keys() for r in records))
    unknown = sorted(n for n in names if n and n not in COLUMNS)
    if "image" not in names:
        raise BadInputError(f"{path.name} has no 'image' column (columns: "
                            f"{', '.join(COLUMNS)})")
    if unknown:
        raise BadInputError(f"{path.name}: unknown column(s) {', '.join(unknown)}; use "
                            f"{', '.join(COLUMNS)}")
    return [Row(k, {c: "" if r.get(c) is None else str(r.get(c)) for c in COLUMNS},
                path.parent) for k, r in enumerate(records, start=1)]


# --------------------------------------------------------------------------- one row

def request_of(row: Row, clip_seconds: float) -> Any:
    """The row as a GenerationRequest (every check a row can fail, before any model work).

    Raises:
        BadInputError: a missing or unreadable image, a pin out of range, a style or a
        length this bundle cannot play.
    """
    from a2m_core.images import load_image
    from a2m_core.prompt import check_user_text
    from a2m_core.request import GenerationRequest

    f = row.fields
    if not f["image"].strip():
        raise BadInputError("no image given")
    image = row.image
    if image.is_dir():
        raise BadInputError(f"image {image} is a folder")
    if not image.is_file():
        raise BadInputError(f"image not found: {image}")
    load_image(image)  # a text file named .jpg is refused here, in one line
    if f["style"].strip():
        raise BadInputError(f"style '{f['style'].strip()}': this bundle plays no styles "
                            f"to choose from (leave the column empty)")
    if f["seconds"].strip():
        try:
            seconds = float(f["seconds"])
        except ValueError:
            raise BadInputError(f"seconds '{f['seconds']}' is not a number") from None
        if abs(seconds - clip_seconds) > 0.5:
            raise BadInputError(f"seconds {seconds:g}: this bundle makes clips of "
                                f"{clip_seconds:.1f} s")
    request = GenerationRequest.from_dict(
        {k: v for k, v in f.items() if k not in ("style", "seconds", "name")} | {
            "image": image})
    try:
        check_user_text(request.comment, request.emotion)
    except ValueError as err:
        raise BadInputError(str(err)) from None
    return request


def run_row(engine: Any, row: Row, out: Path) -> dict[str, Any]:
    """Make one row's files (atomically) and return its manifest record; a bad row's record
    carries its error instead. Never raises for what a row holds."""
    started = time.perf_counter()
    record: dict[str, Any] = {"row": row.index, "name": row.name, "key": row.key,
                              "input": {k: v for k, v in row.fields.items() if v}}
    try:
        request = request_of(row, engine.mel_config.duration_s)
        if request.pins is not None and not engine.is_notes:
            raise BadInputError(f"pins need a notes bundle; {engine.name} is a mel bundle")
        made = produce(engine, request, Outputs(bits=request.bits).beside(
            out / f"{row.name}{request.suffix()}", midi=engine.is_notes, plan=engine.is_notes))
        clip = made.clip
        outputs = {"wav" if kind == "audio" else kind: path
                   for kind, path in made.files.items()}
        record.update(
            outputs={k: p.name for k, p in outputs.items()},
            sha256={k: sha256_of(p) for k, p in outputs.items()},
            plan=clip.plan.describe() if clip.plan else None, why=clip.why or None,
            error=None)
    except A2MError as err:
        record.update(outputs={}, sha256={}, error=str(err))
    except Exception as err:  # noqa: BLE001 - one row's bug must not stop the collection
        log.exception("row %d failed", row.index)
        record.update(outputs={}, sha256={}, error=f"unexpected {type(err).__name__}: {err}")
    record["seconds"] = round(time.perf_counter() - started, 3)
    return record


# --------------------------------------------------------------------------- resume

def finished_rows(out: Path, rows: list[Row]) -> dict[int, dict[str, Any]]:
    """Rows the manifest records as done whose files still hold their sha256 (or that ended
    in an error), by row index. The manifest is rewritten with only those lines (a torn
    last line, a line whose file is gone or changed, a row asked differently now: dropped)."""
    path = out / MANIFEST
    if not path.is_file():
        return {}
    keys = {r.index: r.key for r in rows}
    done: dict[int, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
            index = int(rec["row"])
        except (ValueError, KeyError, TypeError):
            continue  # cut by a kill in the middle of the line
        if keys.get(index) != rec.get("key"):
            continue
        files = rec.get("sha256") or {}
        if rec.get("error") is None and not all(
                (out / rec["outputs"][k]).is_file()
                and sha256_of(out / rec["outputs"][k]) == digest
                for k, digest in files.items()):
            continue
        done[index] = rec
    text = "".join(json.dumps(done[i], sort_keys=True) + "\n" for i in sorted(done))
    atomic_write_bytes(path, text.encode("utf-8"))
    return done


# --------------------------------------------------------------------------- running

_ENGINE: dict[str, Any] = {}  # per process: bundle -> engine, loaded once


def _engine(bundle: str | None, threads: int | None = None) -> Any:
    key = bundle or ""
    if key not in _ENGINE:
        import torch

        from a2m_core import Art2Music

        if threads:
            torch.set_num_threads(threads)
        _ENGINE[key] = Art2Music.load(bundle, device="cpu")
    return _ENGINE[key]


def _row_job(bundle: str | None, row: Row, out: str, threads: int | None = None
             ) -> dict[str, Any]:
    """One row where it runs (a pool process, a Dask worker): the engine is this
    process's own, loaded at its first row."""
    return run_row(_engine(bundle, threads), row, Path(out))


# Every row runs its models on one thread, wherever it runs: a sum split over two threads
# adds in another order, and the last bits of an embedding would then differ between a
# laptop, a pool process and a cluster worker. Rows run side by side instead (workers).
ROW_THREADS = 1


def _local(bundle: str | None, todo: list[Row], out: Path, workers: int
           ) -> Iterator[dict[str, Any]]:
    if workers <= 1:
        engine = _engine(bundle, ROW_THREADS)
        for row in todo:
            yield run_row(engine, row, out)
        return
    import concurrent.futures as cf
    import multiprocessing as mp

    with cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(_row_job, bundle, row, str(out), ROW_THREADS)
                   for row in todo]
        for fut in cf.as_completed(futures):
            yield fut.result()


def _dask(address: str, bundle: str | None, todo: list[Row], out: Path
          ) -> Iterator[dict[str, Any]]:
    try:
        from distributed import Client, as_completed
    except ImportError as err:
        raise BadInputError("--cluster dask://… needs Dask: pip install "
                            "'art2music[cluster]'") from err
    client = Client(address, timeout="20s")
    try:
        futures = [client.submit(_row_job, bundle, row, str(out), ROW_THREADS, pure=False)
                   for row in todo]
        for fut in as_completed(futures):
            yield fut.result()
    finally:
        client.close()


def run_collection(collection: Path, out: Path, bundle: str | None = None,
                   workers: int = 1, cluster: str | None = None,
                   progress: Callable[[int, int, dict[str, Any]], None] | None = None
                   ) -> dict[str, Any]:
    """Make every row of ``collection`` not done yet in ``out``; returns counts.

    Raises:
        BadInputError: an unreadable collection, an unknown cluster address.
    """
    rows = read_rows(collection)
    names = [r.name for r in rows]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise BadInputError(f"name(s) given to more than one row: {', '.join(twice[:5])}")
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out)  # what a killed run was writing; never a finished file
    done = finished_rows(out, rows)
    todo = [r for r in rows if r.index not in done]
    if cluster:
        if not cluster.startswith("dask://"):
            raise BadInputError(f"--cluster {cluster}: use dask://HOST:PORT")
        source = _dask("tcp://" + cluster.removeprefix("dask://"), bundle, todo, out)
    else:
        source = _local(bundle, todo, out, workers)
    counts = {"rows": len(rows), "skipped": len(done), "made": 0, "errors": 0}
    with open(out / MANIFEST, "a", encoding="utf-8") as manifest:
        for k, record in enumerate(source, start=1):
            manifest.write(json.dumps(record, sort_keys=True) + "\n")
            manifest.flush()
            os.fsync(manifest.fileno())  # the line is the row's receipt: on disk first
            counts["errors" if record["error"] else "made"] += 1
            if progress is not None:
                progress(k, len(todo), record)
    return counts
