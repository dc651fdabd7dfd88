"""The model catalogue: which published models exist, their files and hashes, where they live.

Plain data. Each :class:`ModelEntry` names its files by their path in the publisher's
repository, with the id that verifies them (a git blob id or a sha256) and, where known, the
size; a ``build`` recipe turns the fetched files into one bundle with the existing importer.
``a2m_core/model_store.py`` fetches, verifies, builds and removes; this module only says what
and where.

Where models live: ``$A2M_HOME`` or the platform's user data folder (``~/.local/share/
art2music`` on Linux, ``~/Library/Application Support/Art2Music`` on macOS,
``%LOCALAPPDATA%\\Art2Music`` on Windows). ``$A2M_REGISTRY`` may name a JSON file of extra
entries (a lab's own models, an internal mirror's layout) in the same format as
:meth:`ModelEntry.to_dict`.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import ModelLoadError
from .paths import STARTER, STARTER_NAME, models_home


@dataclass(frozen=True)
class RemoteFile:
    """One file of a model, at its path in the publisher's repository."""

    path: str  # repository path, also its path under --from BASE
    git_blob: str | None = None  # sha1(b"blob <size>\0" + content), as `git hash-object`
    sha256: str | None = None
    size: int | None = None  # bytes, where known (lets a resume know a partial is sane)
    role: str = ""  # what the build recipe calls it: "decoder", "vocoder", ...
    optional: bool = False  # fetched only with --all (not needed to build the bundle)

    def expected(self) -> tuple[str, str]:
        """(kind, id) to verify against: the git blob id when known, else the sha256."""
        if self.git_blob:
            return "git blob", self.git_blob
        if self.sha256:
            return "sha256", self.sha256
        raise ModelLoadError(f"registry entry for {self.path} has no git blob id or sha256")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    description: str
    licence: str = ""
    homepage: str = ""
    base_url: str = ""  # default source; files at <base_url>/<path>
    files: tuple[RemoteFile, ...] = ()
    # How the files become a bundle: {"kind": "reference", "decoder": role, "vocoder": role,
    # "hifigan": "v1", "random_projector_seed": 0}, or {"kind": "packaged"} for the starter.
    build: dict[str, Any] = field(default_factory=dict)
    encoder: dict[str, Any] = field(default_factory=dict)  # EncoderConfig.to_dict()
    # The OpenCLIP weights file a --from source may hold beside the repository files (the
    # tag's own download otherwise goes through open_clip's cache).
    encoder_weights_file: str = "open_clip_pytorch_model.bin"
    # Its sha256: needed to take it from an http(s) source (a folder the user gives is
    # trusted as theirs; its sha256 is recorded at install either way).
    encoder_weights_sha256: str = ""
    size_hint: str = ""  # for `list` before anything is fetched, e.g. "~4.2 GB"

    def file(self, role: str) -> RemoteFile:
        for f in self.files:
            if f.role == role:
                return f
        raise ModelLoadError(f"model '{self.name}' has no file for '{role}'")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = [asdict(f) for f in self.files]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelEntry:
        """An entry from a registry file, checked: its name and every path it will write
        must stay inside its own folder, and every file must carry an id to verify."""
        try:
            files = tuple(RemoteFile(**f) for f in data.get("files", ()))
            made = cls(**{**data, "files": files})
        except TypeError as err:
            raise ModelLoadError(f"registry entry {data.get('name', '?')!r} is malformed: "
                                 f"{err}") from err
        check_name(made.name)
        for f in made.files:
            check_relative(f.path, f"model '{made.name}': file path")
            f.expected()  # refuses a file with neither a git blob id nor a sha256
        check_relative(made.encoder_weights_file, f"model '{made.name}': encoder_weights_file")
        return made


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_name(name: str) -> str:
    """A model name is one plain folder name: letters, digits, '.', '_' and '-'."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise ModelLoadError(f"model name {name!r} is refused: use letters, digits, '.', '_' "
                             f"and '-' (no '/', no '..')")
    return name


def check_relative(rel: str, what: str) -> str:
    """A path a registry gives must be relative and stay below its folder."""
    parts = PurePosixPath(rel).parts if isinstance(rel, str) else ()
    if (not isinstance(rel, str) or not rel or rel.startswith(("/", "\\")) or "\\" in rel
            or ":" in rel.split("/", 1)[0] or ".." in parts or not parts):
        raise ModelLoadError(f"{what} {rel!r} is refused: it must be a relative path inside "
                             f"the model's folder (no absolute path, no '..')")
    return rel


def confined(base: Path, path: Path, what: str) -> Path:
    """``path`` itself, after checking that it resolves inside ``base`` (a symlink placed
    in the models folder cannot lead a write or a delete elsewhere)."""
    root = base.resolve()
    real = path.resolve()
    if real != root and root not in real.parents:
        raise ModelLoadError(f"{what} {path} leads outside {base} (through a symlink?): "
                             f"refused")
    return path


# ViT-H-14 / laion2b_s32b_b79k: the paper's frozen image and text encoder (1024-d).
PAPER_ENCODER = {"name": "ViT-H-14", "pretrained": "laion2b_s32b_b79k", "embed_dim": 1024}

BUILTIN: dict[str, ModelEntry] = {
    STARTER_NAME: ModelEntry(
        name=STARTER_NAME,
        description="the committed starter: small, CPU-friendly, plays notes from a plan of "
                    "feeling cues on a SoundFont (see a2m_core/assets/starter.README.txt)",
        licence="model trained on public-domain scores (music21 corpus) and paintings; "
                "SoundFont FluidR3_GM (MIT); see starter.NOTICE.md",
        build={"kind": "packaged"},
    ),
    "paper": ModelEntry(
        name="paper",
        description="the authors' published model: OpenCLIP ViT-H-14 + gated projector + "
                    "4x512 BiLSTM decoder + their fine-tuned HiFi-GAN V1",
        licence="see https://github.com/hh-jy/Art2Music (the authors' terms); OpenCLIP "
                "weights: MIT",
        homepage="https://github.com/hh-jy/Art2Music",
        base_url="https://raw.githubusercontent.com/hh-jy/Art2Music/main",
        files=(
            RemoteFile("Art2Music_model/checkpoints/best_model_epoch.pt",
                       git_blob="3683fac78df6662d241c7a0bc330f8c1e9c74b34", role="decoder"),
            RemoteFile("Art2Music_model/checkpoints/hifigan_g_00411810.pth",
                       git_blob="22a7905d7d52ca08cc1bc673684baae51c5eb1e7", role="vocoder"),
            RemoteFile("Art2Music_model/LJ_FT_T2_V1/LJ_FT_T2_V1/generator_v1",
                       git_blob="ce949df590a130ead138048d279214153d211ff7",
                       role="base-vocoder", optional=True),
        ),
        # The reference optimiser never trained the projector; when the decoder file holds
        # no projector weights, a seeded random one keeps the import reproducible.
        build={"kind": "reference", "decoder": "decoder", "vocoder": "vocoder",
               "hifigan": "v1", "random_projector_seed": 0},
        encoder=PAPER_ENCODER,
        size_hint="~4.2 GB with the ViT-H-14 weights",
    ),
    # The notes starter's SoundFont where no system package installs it (macOS, Windows,
    # another Linux): Debian's own package from Debian's mirror, its sha256 as Debian's
    # signed index states it; the SoundFont inside is checked by its own sha256.
    "fluidr3-gm": ModelEntry(
        name="fluidr3-gm",
        description="the SoundFont the notes starter plays through (FluidR3_GM), for "
                    "systems without Debian's fluid-soundfont-gm",
        licence="MIT (Frank Wen, FluidR3_GM)",
        homepage="https://packages.debian.org/bookworm/fluid-soundfont-gm",
        base_url="https://deb.debian.org/debian",
        files=(RemoteFile("pool/main/f/fluid-soundfont/fluid-soundfont-gm_3.1-5.3_all.deb",
                          sha256="6f531493ac4e4d9772fd96b2488ea1790af81c196135fbdd25997da078"
                                 "1fc60e", size=119610208, role="deb"),),
        build={"kind": "soundfont", "deb": "deb",
               "member": "usr/share/sounds/sf2/FluidR3_GM.sf2",
               "sha256": "74594e8f4250680adf590507a306655a299935343583256f3b722c48a1bc1cb0"},
        size_hint="~120 MB download, 148 MB installed",
    ),
}


def registry() -> dict[str, ModelEntry]:
    """The built-in entries plus those of ``$A2M_REGISTRY`` (which may override by name).

    Raises:
        ModelLoadError: ``$A2M_REGISTRY`` names a missing or malformed file.
    """
    entries = dict(BUILTIN)
    extra = os.environ.get("A2M_REGISTRY")
    if extra:
        path = Path(extra).expanduser()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ModelLoadError(f"A2M_REGISTRY={path}: cannot read it as JSON ({err})") from err
        items = data.get("models", data) if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ModelLoadError(f"A2M_REGISTRY={path}: expected a list of models")
        for item in items:
            entry = ModelEntry.from_dict(item)
            if entry.name == STARTER_NAME:
                raise ModelLoadError(f"A2M_REGISTRY={path}: '{STARTER_NAME}' is built in")
            entries[entry.name] = entry
    return entries


def entry(name: str) -> ModelEntry:
    entries = registry()
    if name not in entries:
        raise ModelLoadError(f"unknown model '{name}'; known: {', '.join(sorted(entries))}")
    return entries[name]


# --------------------------------------------------------------------------- where
def model_dir(name: str) -> Path:
    """A model's folder under ``models_home()`` (the name checked: never a path)."""
    return models_home() / "models" / check_name(name)


def bundle_path(name: str) -> Path:
    """The bundle a model builds into (the starter's is the committed file; a SoundFont
    entry's is the SoundFont)."""
    if name == STARTER_NAME:
        return STARTER
    recipe = registry().get(name, ModelEntry(name, "")).build
    if recipe.get("kind") == "soundfont":
        return model_dir(name) / PurePosixPath(recipe["member"]).name
    return model_dir(name) / f"{name}.safetensors"


def is_soundfont(name: str) -> bool:
    """Whether a catalogue entry installs a SoundFont (not a model to generate with)."""
    return registry().get(name, ModelEntry(name, "")).build.get("kind") == "soundfont"


def _settings_path() -> Path:
    return models_home() / "settings.json"


def default_model() -> str | None:
    """The model ``--set-default`` chose (None: the starter)."""
    try:
        data = json.loads(_settings_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = data.get("default") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else None


def set_default_model(name: str | None) -> None:
    """Make ``name`` the default of ``a2m``, the desktop app and the bridge (None: starter)."""
    from .fileio import atomic_write_bytes

    path = _settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data = data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        data = {}
    data["default"] = None if name in (None, STARTER_NAME) else name
    atomic_write_bytes(path, json.dumps(data, indent=2).encode())


def resolve_bundle(name_or_path: str | Path) -> Path:
    """A bundle path from either a path or a model name (``starter``, ``paper``, ...).

    Raises:
        ModelLoadError: a model name that is not installed (with the command to fetch it).
    """
    path = Path(name_or_path).expanduser()
    if path.exists() or path.suffix or os.sep in str(name_or_path) or "/" in str(name_or_path):
        return path
    name = str(name_or_path)
    entries = registry()
    if name not in entries:
        return path  # not a model name: let the bundle loader say the file is missing
    if is_soundfont(name):
        raise ModelLoadError(f"'{name}' is a SoundFont that notes models play through, not a "
                             f"model: use starter or another model")
    bundle = bundle_path(name)
    if not bundle.is_file():
        raise ModelLoadError(f"model '{name}' is not installed: run `a2m models fetch {name}`")
    return bundle
