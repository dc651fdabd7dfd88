"""A sentence encoder that reads sentence-transformers' BERT folders without their library.

all-MiniLM-L6-v2 is six BERT layers, a mean over the tokens and a unit-length scale. Loading
it through ``sentence-transformers`` imports ``transformers`` and ``torch.distributed``: 3-16 s
of a 2-core machine's start-up, for a model that runs in milliseconds. This module builds the
same network from ``config.json`` in plain torch, reads ``model.safetensors`` into it and
tokenises with the ``tokenizers`` library (the same ``tokenizer.json``), so the embeddings are
those of the library (a test holds them equal within 1e-5) at a fraction of the import cost.

Folders it reads: a BERT encoder (``config.json`` with ``model_type: bert``, absolute
positions), mean pooling (``1_Pooling/config.json``), optionally normalised (``modules.json``
names ``Normalize``). Anything else is :func:`readable` -> False, and the caller falls back to
the sentence-transformers library.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .errors import ModelLoadError


def readable(folder: Path) -> bool:
    """Whether ``folder`` is a sentence-transformers BERT + mean-pooling model this module
    can run (else use the sentence-transformers library)."""
    try:
        cfg = json.loads((folder / "config.json").read_text())
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError):
        return False
    only_mean = pooling.get("pooling_mode_mean_tokens") and not any(
        pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens",
                                 "pooling_mode_mean_sqrt_len_tokens"))
    return (cfg.get("model_type") == "bert" and bool(only_mean)
            and cfg.get("position_embedding_type", "absolute") == "absolute"
            and cfg.get("hidden_act") == "gelu"
            and cfg.get("hidden_size", 0) % max(cfg.get("num_attention_heads", 1), 1) == 0
            and (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file())


class _Layer(nn.Module):
    """One post-norm BERT layer; parameter names follow the checkpoint's."""

    def __init__(self, width: int, heads: int, inner: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = (nn.Linear(width, width) for _ in range(3))
        self.attn_out = nn.Linear(width, width)
        self.attn_norm = nn.LayerNorm(width, eps=eps)
        self.inner = nn.Linear(width, inner)
        self.out = nn.Linear(inner, width)
        self.out_norm = nn.LayerNorm(width, eps=eps)

    def forward(self, x: torch.Tensor, pad_bias: torch.Tensor) -> torch.Tensor:
        b, t, w = x.shape

        def split(h: torch.Tensor) -> torch.Tensor:
            return h.view(b, t, self.heads, w // self.heads).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=pad_bias)
        x = self.attn_norm(x + self.attn_out(att.transpose(1, 2).reshape(b, t, w)))
        return self.out_norm(x + self.out(F.gelu(self.inner(x))))


class MiniBert(nn.Module):
    """BERT's embeddings and encoder layers (no pooler: the sentence is the tokens' mean)."""

    def __init__(self, cfg: dict) -> None:
        super().__init__()
        width, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
        self.words = nn.Embedding(cfg["vocab_size"], width)
        self.positions = nn.Embedding(cfg["max_position_embeddings"], width)
        self.types = nn.Embedding(cfg["type_vocab_size"], width)
        self.norm = nn.LayerNorm(width, eps=eps)
        self.layers = nn.ModuleList(
            _Layer(width, cfg["num_attention_heads"], cfg["intermediate_size"], eps)
            for _ in range(cfg["num_hidden_layers"]))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Token ids and attention mask ``[B, T]`` -> hidden states ``[B, T, width]``."""
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = self.norm(self.words(ids) + self.positions(pos)[None] + self.types.weight[0])
        # padded keys get -inf-like bias; the dtype's lowest, as the library does
        bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.layers:
            x = layer(x, bias)
        return x


# checkpoint name pieces -> ours (the rest of each name is kept)
_RENAMES = (
    ("embeddings.word_embeddings.", "words."),
    ("embeddings.position_embeddings.", "positions."),
    ("embeddings.token_type_embeddings.", "types."),
    ("embeddings.LayerNorm.", "norm."),
    ("encoder.layer.", "layers."),
    (".attention.self.query.", ".query."),
    (".attention.self.key.", ".key."),
    (".attention.self.value.", ".value."),
    (".attention.output.dense.", ".attn_out."),
    (".attention.output.LayerNorm.", ".attn_norm."),
    (".intermediate.dense.", ".inner."),
    (".output.dense.", ".out."),
    (".output.LayerNorm.", ".out_norm."),
)


def _our_name(name: str) -> str | None:
    if name.startswith(("pooler.", "embeddings.position_ids")):
        return None
    name = name.removeprefix("bert.")
    for old, new in _RENAMES:
        name = name.replace(old, new)
    return name


class SentenceEncoder:
    """Texts -> sentence embeddings ``[B, dim]`` float32, as sentence-transformers'
    ``encode(..., normalize_embeddings=True)`` gives them.

    Raises (at construction):
        ModelLoadError: the folder is not one :func:`readable` accepts, or its weights do
        not fit its config.
    """

    def __init__(self, folder: str | Path, device: str = "cpu") -> None:
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        folder = Path(folder)
        if not readable(folder):
            raise ModelLoadError(f"{folder} is not a BERT mean-pooling sentence model")
        cfg = json.loads((folder / "config.json").read_text())
        st_cfg = folder / "sentence_bert_config.json"
        limit = json.loads(st_cfg.read_text()).get("max_seq_length") if st_cfg.is_file() else None
        self.max_seq_length = int(min(limit or 512, cfg["max_position_embeddings"]))
        modules = folder / "modules.json"
        self.normalize = modules.is_file() and "Normalize" in modules.read_text()
        self.dim = int(cfg["hidden_size"])
        self.model = MiniBert(cfg)
        state = {}
        for name, tensor in load_file(str(folder / "model.safetensors")).items():
            ours = _our_name(name)
            if ours is not None:
                state[ours] = tensor.float()
        try:
            self.model.load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise ModelLoadError(f"{folder}'s weights do not fit its config: {err}") from err
        self.device = torch.device(device)
        self.model.to(self.device).eval().requires_grad_(False)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_seq_length)
        self.tokenizer.no_padding()

    def count_tokens(self, text: str) -> int:
        """How many tokens ``text`` is, with [CLS] and [SEP], before truncation."""
        self.tokenizer.no_truncation()
        try:
            return len(self.tokenizer.encode(text).ids)
        finally:
            self.tokenizer.enable_truncation(self.max_seq_length)

    @torch.inference_mode()
    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Embeddings ``[len(texts), dim]`` (unit length when the folder normalises)."""
        out = np.zeros((len(texts), self.dim), np.float32)
        # longest first, as the library batches: similar lengths pad least
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            enc = self.tokenizer.encode_batch([texts[i] for i in rows])
            t = max(len(e.ids) for e in enc)
            ids = torch.zeros(len(rows), t, dtype=torch.long)
            mask = torch.zeros(len(rows), t, dtype=torch.long)
            for j, e in enumerate(enc):
                ids[j, :len(e.ids)] = torch.tensor(e.ids)
                mask[j, :len(e.ids)] = 1
            ids, mask = ids.to(self.device), mask.to(self.device)
            hidden = self.model(ids, mask)
            m = mask[..., None].to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
            if self.normalize:
                pooled = F.normalize(pooled, dim=-1)
            out[rows] = pooled.float().cpu().numpy()
        return out

    def get_embedding_dimension(self) -> int:
        return self.dim


__all__ = ["MiniBert", "SentenceEncoder", "readable"]
