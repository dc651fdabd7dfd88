"""Fetch, verify, build, list and remove the registry's models (``a2m models``, the desktop
Models dialog and ``a2m-osc --model`` all use this module).

A fetch downloads each file to ``<file>.part`` (resuming it with an HTTP ``Range`` request
when an earlier run was cut off), checks its git blob id or sha256, and only then renames it
into place; a file that fails the check is deleted, never kept. The files become one bundle
through the existing importer (``a2m_core/reference.py``), which reads every checkpoint with
``weights_only=True``. Sources: the entry's own ``base_url``, or ``--from`` an http(s) mirror
or a local folder laid out like the repository.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import shutil
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from .errors import A2MError, ModelLoadError
from .fileio import atomic_write_bytes, sha256_of
from .registry import (
    STARTER_NAME,
    ModelEntry,
    RemoteFile,
    bundle_path,
    check_relative,
    confined,
    default_model,
    model_dir,
    models_home,
    registry,
    set_default_model,
)
from .registry import (
    entry as registry_entry,
)

log = logging.getLogger(__name__)

# (what, bytes done, bytes total or None); called often, from the fetching thread.
Progress = Callable[[str, int, "int | None"], None]
CHUNK = 1 << 20
TIMEOUT_S = 30.0
INSTALL_FILE = "install.json"


class FetchCancelled(A2MError):
    """The user cancelled a fetch; the partial download is kept for the next run."""


@dataclass
class ModelStatus:
    name: str
    description: str
    installed: bool
    is_default: bool
    size_bytes: int  # on disk (0 when not installed)
    bundle: Path | None
    size_hint: str = ""


@dataclass
class FetchResult:
    name: str
    bundle: Path
    fetched_bytes: int  # transferred in this run (a resumed or skipped file counts less)
    files: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- hashing
def git_blob_id(path: str | Path) -> str:
    """The id git gives the file's content (``git hash-object``)."""
    path = Path(path)
    h = hashlib.sha1(usedforsecurity=False)
    h.update(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def sha256_file(path: str | Path) -> str:
    return sha256_of(path)  # one hasher for the project, remembered per (path, size, mtime)


def file_id(path: str | Path, kind: str) -> str:
    return git_blob_id(path) if kind == "git blob" else sha256_file(path)


def _amount(n: int | None) -> str:
    return "?" if n is None else human_size(n)


def human_size(n: float) -> str:
    """``1234567`` -> ``"1.2 MB"`` (decimal units, as download tools show them)."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""  # pragma: no cover


# --------------------------------------------------------------------------- sources
def _is_url(source: str) -> bool:
    return urllib.parse.urlparse(str(source)).scheme in ("http", "https")


class _Missing(ModelLoadError):
    """The source has no such file (HTTP 404 / no local file)."""


class SourceUnreachable(ModelLoadError):
    """The download address cannot be reached (no network, a name that does not resolve, a
    refused connection); front ends turn this into their own advice."""

    def __init__(self, source: str, reason: object) -> None:
        super().__init__(f"cannot reach {source}: {reason}")
        self.source, self.reason = source, str(reason)


def _open(source: str, rel: str, start: int) -> tuple[BinaryIO | None, int, int | None]:
    """Open ``rel`` at ``source`` from byte ``start``.

    Returns (stream or None when nothing is left, the offset the stream starts at, the
    full size or None). The offset is 0 when an HTTP server ignored the Range request.
    """
    if not _is_url(source):
        path = Path(source).expanduser() / rel
        if not path.is_file():
            raise _Missing(f"{rel} is not in {Path(source).expanduser()}")
        size = path.stat().st_size
        if start >= size:
            return None, start, size
        f = open(path, "rb")  # noqa: SIM115 - the caller closes it
        f.seek(start)
        return f, start, size
    url = source.rstrip("/") + "/" + urllib.parse.quote(rel)
    request = urllib.request.Request(url, headers={"User-Agent": "art2music-models"})
    if start:
        request.add_header("Range", f"bytes={start}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)  # noqa: S310 - http(s) only
    except urllib.error.HTTPError as err:
        if err.code == 416 and start:  # nothing after `start`: the partial is whole
            return None, start, start
        if err.code == 404:
            raise _Missing(f"{rel} is not at {source} (HTTP 404)") from err
        raise ModelLoadError(f"{url}: HTTP {err.code} {err.reason}") from err
    except (urllib.error.URLError, OSError) as err:
        raise SourceUnreachable(source, getattr(err, "reason", err)) from err
    length = response.headers.get("Content-Length")
    if response.status == 206:
        # Content-Range: bytes <start>-<end>/<total>
        crange = response.headers.get("Content-Range", "")
        total = crange.rsplit("/", 1)[-1]
        size = int(total) if total.isdigit() else None
        return response, start, size
    return response, 0, int(length) if length and length.isdigit() else None


# --------------------------------------------------------------------------- one file
def _download(rel: str, source: str, part: Path, size: int | None,
              progress: Progress | None, cancel: threading.Event | None) -> int:
    """Bring ``part`` up to the whole of ``rel`` at ``source``, resuming what it holds;
    returns the bytes transferred.

    Raises:
        _Missing: the source has no such file.
        ModelLoadError: unreachable, or cut off (the partial stays for the next run).
        FetchCancelled: ``cancel`` was set (the partial stays).
    """
    part.parent.mkdir(parents=True, exist_ok=True)
    if part.is_symlink():
        raise ModelLoadError(f"{part} is a symbolic link: a download never writes through "
                             f"one (remove it and fetch again)")
    confined(models_home(), part, "download")
    start = part.stat().st_size if part.is_file() else 0
    if size is not None and start > size:
        start = 0
    stream, offset, total = _open(source, rel, start)
    total = total if total is not None else size
    if stream is None:
        return 0
    done, moved = offset, 0
    try:
        with stream, _open_nofollow(part) as out:
            out.seek(offset)
            out.truncate()
            last = 0.0
            # read1: whatever has arrived, up to CHUNK (read() would wait for all of CHUNK
            # and a stall's timeout would lose what came meanwhile)
            read = getattr(stream, "read1", stream.read)
            while True:
                if cancel is not None and cancel.is_set():
                    raise FetchCancelled(f"fetch cancelled; {_amount(done)} of {rel} kept "
                                         "for the next run")
                block = read(CHUNK)
                if not block:
                    break
                out.write(block)
                out.flush()  # on disk for a resume, whatever ends this run
                done += len(block)
                moved += len(block)
                now = time.monotonic()
                if progress is not None and now - last > 0.1:
                    progress(rel, done, total)
                    last = now
            out.flush()
            os.fsync(out.fileno())
    except (OSError, http.client.HTTPException) as err:
        raise ModelLoadError(f"download of {rel} interrupted at {_amount(done)} of "
                             f"{_amount(total)} ({err or type(err).__name__}); run the same "
                             "command again to resume") from err
    if progress is not None:
        progress(rel, done, total)
    if total is not None and done < total:
        raise ModelLoadError(f"download of {rel} stopped at {_amount(done)} of "
                             f"{_amount(total)}; run the same command again to resume")
    return moved


def _open_nofollow(path: Path) -> Any:
    """``path`` opened read-write (created if missing) without following a symbolic link
    put there after the checks (O_NOFOLLOW, where the platform has it)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    return os.fdopen(fd, "r+b")


def fetch_file(f: RemoteFile, source: str, dest: Path, progress: Progress | None = None,
               cancel: threading.Event | None = None) -> int:
    """Download ``f`` from ``source`` to ``dest``, verified; returns the bytes transferred.

    Raises:
        ModelLoadError: unreachable source, missing file, interrupted transfer (run again to
            resume), or a content id that is not the expected one (the download is deleted).
        FetchCancelled: ``cancel`` was set (the partial file is kept for resuming).
    """
    kind, expected = f.expected()
    if dest.is_file():
        if file_id(dest, kind) == expected:
            return 0
        log.warning("%s no longer matches its %s id: fetching it again", dest, kind)
        dest.unlink()
    part = dest.with_name(dest.name + ".part")
    moved = _download(f.path, source, part, f.size, progress, cancel)
    actual = file_id(part, kind)
    if actual != expected:
        part.unlink()
        raise ModelLoadError(f"{f.path}: expected {kind} {expected}, got {actual}; the file "
                             "was deleted (a wrong mirror or a corrupt download)")
    os.replace(part, dest)
    return moved


# --------------------------------------------------------------------------- encoder
def _openclip_cached(name: str, tag: str) -> str | None:
    """The open_clip cache's copy of a pretrained tag's weights, if any (never downloads)."""
    try:
        from huggingface_hub import try_to_load_from_cache
        from open_clip.pretrained import get_pretrained_cfg
    except ImportError:
        return None
    hub = ((get_pretrained_cfg(name, tag) or {}).get("hf_hub") or "").strip("/")
    if not hub:
        return None
    repo = "/".join(hub.split("/")[:2])
    for filename in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
        found = try_to_load_from_cache(repo, filename)
        if isinstance(found, str):
            return found
    return None


def _encoder_config(e: ModelEntry, source: str | None, folder: Path,
                    progress: Progress | None, cancel: threading.Event | None
                    ) -> tuple[dict[str, Any], int]:
    """The bundle's encoder config, making sure its weights will load; (config, bytes).

    Order: a weights file already installed beside the model -> one that ``--from`` holds
    (a folder; an http(s) mirror only when the entry gives ``encoder_weights_sha256`` to
    check it by; its sha256 is recorded at install so ``verify`` notices later damage) ->
    open_clip's own cache -> open_clip's download, when the hub answers.
    """
    from .encoders import _hub_reachable

    enc = dict(e.encoder)
    tag = enc.get("pretrained")
    if not tag or enc.get("weights_file"):
        return enc, 0
    local = confined(models_home(), folder / check_relative(
        e.encoder_weights_file, "encoder_weights_file"), "encoder weights")
    moved = 0
    want = e.encoder_weights_sha256.lower()
    # From an http(s) source only with a sha256 to check it by (else open_clip's own
    # download below, which the hub's checksums cover); a folder is the user's own.
    if not local.is_file() and source and (want or not _is_url(source)):
        part = local.with_name(local.name + ".part")
        try:
            moved = _download(e.encoder_weights_file, source, part, None, progress, cancel)
        except _Missing:
            pass
        else:
            got = sha256_file(part) if want else ""
            if got != want:
                part.unlink()
                raise ModelLoadError(f"{e.encoder_weights_file} from {source} has sha256 "
                                     f"{got[:16]}…, not the registry's {want[:16]}…: removed")
            os.replace(part, local)
    if local.is_file():
        return {**enc, "weights_file": str(local)}, moved
    if _openclip_cached(enc["name"], tag):
        return enc, 0
    if not _hub_reachable():
        raise ModelLoadError(
            f"the {enc['name']} / {tag} encoder weights are not in open_clip's cache "
            f"(HF_HOME={os.environ.get('HF_HOME', '~/.cache/huggingface')}) and the hub is "
            f"unreachable: put {e.encoder_weights_file} in a folder and run "
            f"`a2m models fetch {e.name} --from FOLDER`")
    from open_clip.pretrained import download_pretrained, get_pretrained_cfg

    log.info("downloading %s / %s through open_clip's cache (about 3.9 GB)", enc["name"], tag)
    try:
        download_pretrained(get_pretrained_cfg(enc["name"], tag))
    except Exception as err:  # noqa: BLE001 - the hub's errors are many and long
        raise ModelLoadError(f"open_clip could not download {enc['name']} / {tag}: "
                             f"{str(err).splitlines()[0]}") from err
    return enc, 0


# --------------------------------------------------------------------------- model
def _install_record(name: str) -> dict[str, Any] | None:
    try:
        return json.loads((model_dir(name) / INSTALL_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def fetch_model(name: str | ModelEntry, source: str | Path | None = None,
                progress: Progress | None = None, cancel: threading.Event | None = None,
                include_optional: bool = False, make_default: bool = False) -> FetchResult:
    """Fetch, verify and build a model into its bundle; resumable, idempotent.

    Raises:
        ModelLoadError: unknown model, unreachable source, a file that fails its check, an
            interrupted transfer (run again to resume), missing encoder weights offline.
        FetchCancelled: ``cancel`` was set.
    """
    e = registry_entry(name) if isinstance(name, str) else name
    if make_default and e.build.get("kind") == "soundfont":
        raise ModelLoadError(f"'{e.name}' is a SoundFont, not a model: it cannot be the "
                             f"default (notes models find it by its sha256)")
    if e.build.get("kind") == "packaged":
        if make_default:
            set_default_model(e.name)
        return FetchResult(e.name, bundle_path(e.name), 0)
    src = str(source) if source is not None else e.base_url
    if not src:
        raise ModelLoadError(f"model '{e.name}' has no download address: use --from")
    if not _is_url(src) and not Path(src).expanduser().is_dir():
        raise ModelLoadError(f"--from {src}: neither an http(s) URL nor a folder")
    folder = model_dir(e.name)
    files_dir = folder / "files"
    moved, names = 0, []
    for f in e.files:
        if f.optional and not include_optional:
            continue
        dest = confined(models_home(), files_dir / check_relative(f.path, "file path"),
                        "file")
        moved += fetch_file(f, src, dest, progress, cancel)
        names.append(f.path)
    enc, enc_bytes = _encoder_config(e, str(source) if source is not None else None, folder,
                                     progress, cancel)
    moved += enc_bytes
    bundle = _build(e, files_dir, enc, bundle_path(e.name))
    record = {
        "name": e.name, "source": src, "installed": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "bundle": bundle.name,
        "files": [{"path": f.path, "kind": f.expected()[0], "id": f.expected()[1]}
                  for f in e.files if f.path in names],
    }
    if enc.get("weights_file"):
        record["encoder_weights"] = {"path": Path(enc["weights_file"]).name,
                                     "sha256": sha256_file(enc["weights_file"])}
    atomic_write_bytes(folder / INSTALL_FILE, json.dumps(record, indent=2).encode())
    if make_default:
        set_default_model(e.name)
    return FetchResult(e.name, bundle, moved, names)


def _build(e: ModelEntry, files_dir: Path, enc: dict[str, Any], out: Path) -> Path:
    from .encoders import EncoderConfig
    from .reference import import_reference

    recipe = e.build
    if recipe.get("kind") == "soundfont":
        from .soundfonts import extract_from_deb

        return extract_from_deb(files_dir / e.file(recipe["deb"]).path, recipe["member"],
                                out, recipe["sha256"])
    if recipe.get("kind") != "reference":
        raise ModelLoadError(f"model '{e.name}': unknown build recipe {recipe.get('kind')!r}")
    vocoder = recipe.get("vocoder")
    return import_reference(
        files_dir / e.file(recipe["decoder"]).path, out,
        vocoder_path=files_dir / e.file(vocoder).path if vocoder else None,
        hifigan=recipe.get("hifigan", "v1"),
        encoder=EncoderConfig(**enc) if enc else None,
        random_projector_seed=recipe.get("random_projector_seed"),
        name=e.name,
    )


def verify_model(name: str) -> list[str]:
    """Re-check an installed model's files; returns the problems (empty: all good).

    Raises:
        ModelLoadError: unknown or not installed.
    """
    e = registry_entry(name)
    if e.build.get("kind") == "packaged":
        path = bundle_path(name)
        return [] if path.is_file() else [f"{path} is missing (reinstall the package)"]
    record = _install_record(name)
    if record is None:
        raise ModelLoadError(f"model '{name}' is not installed: run `a2m models fetch {name}`")
    problems = []
    files_dir = model_dir(name) / "files"
    for item in record.get("files", []):
        path = files_dir / item["path"]
        if not path.is_file():
            problems.append(f"{item['path']}: missing")
        elif (actual := file_id(path, item["kind"])) != item["id"]:
            problems.append(f"{item['path']}: expected {item['kind']} {item['id']}, "
                            f"got {actual}")
    weights = record.get("encoder_weights")
    if weights:
        path = model_dir(name) / weights["path"]
        if not path.is_file():
            problems.append(f"{weights['path']}: missing")
        elif sha256_file(path) != weights["sha256"]:
            problems.append(f"{weights['path']}: changed since it was installed")
    if not bundle_path(name).is_file():
        problems.append(f"{bundle_path(name).name}: missing (run fetch again to rebuild)")
    return problems


def remove_model(name: str) -> int:
    """Delete an installed model; returns the bytes freed. The starter is never removed.

    Raises:
        ModelLoadError: the starter, or a model that is not installed.
    """
    if name == STARTER_NAME:
        raise ModelLoadError("the starter ships with Art2Music and cannot be removed")
    registry_entry(name)
    folder = model_dir(name)
    if not folder.is_dir():
        raise ModelLoadError(f"model '{name}' is not installed")
    # the home, not its models folder: a models folder that is itself a link elsewhere
    # resolves outside the home and is refused
    confined(models_home(), folder, f"model '{name}'")
    freed = _disk_size(folder)
    shutil.rmtree(folder)
    if default_model() == name:
        set_default_model(None)
    return freed


def _disk_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def list_models() -> list[ModelStatus]:
    default = default_model() or STARTER_NAME
    out = []
    for name, e in sorted(registry().items(), key=lambda kv: kv[0] != STARTER_NAME):
        bundle = bundle_path(name)
        if e.build.get("kind") == "packaged":
            installed, size = bundle.is_file(), bundle.stat().st_size if bundle.is_file() else 0
        else:
            installed = bundle.is_file() and _install_record(name) is not None
            size = _disk_size(model_dir(name)) if model_dir(name).is_dir() else 0
        out.append(ModelStatus(name, e.description, installed, name == default, size,
                               bundle if installed else None, e.size_hint))
    return out
