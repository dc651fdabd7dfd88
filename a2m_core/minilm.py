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


class MiniBert:
    """BERT's embeddings and encoder layers over the checkpoint's own tensors (no pooler:
    the sentence is the tokens' mean). Plain functions, not modules: building ``nn``
    layers would first fill 23 M parameters with random numbers the checkpoint replaces
    (0.15 s of every start)."""

    def __init__(self, cfg: dict, weights: dict[str, torch.Tensor]) -> None:
        self.cfg = cfg
        self.w = {k.removeprefix("bert."): v.float() for k, v in weights.items()}
        for i in range(cfg["num_hidden_layers"]):
            for part in ("attention.self.query", "attention.self.key", "attention.self.value",
                         "attention.output.dense", "attention.output.LayerNorm",
                         "intermediate.dense", "output.dense", "output.LayerNorm"):
                for kind in ("weight", "bias"):
                    name = f"encoder.layer.{i}.{part}.{kind}"
                    if name not in self.w:
                        raise ModelLoadError(f"the checkpoint has no {name}")

    def to(self, device: torch.device) -> MiniBert:
        self.w = {k: v.to(device) for k, v in self.w.items()}
        return self

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.layer_norm(x, x.shape[-1:], self.w[f"{name}.weight"], self.w[f"{name}.bias"],
                            self.cfg["layer_norm_eps"])

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(x, self.w[f"{name}.weight"], self.w[f"{name}.bias"])

    def __call__(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Token ids and attention mask ``[B, T]`` -> hidden states ``[B, T, width]``."""
        w, heads = self.w, self.cfg["num_attention_heads"]
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = (F.embedding(ids, w["embeddings.word_embeddings.weight"])
             + F.embedding(pos, w["embeddings.position_embeddings.weight"])[None]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._norm(x, "embeddings.LayerNorm")
        # padded keys get -inf-like bias; the dtype's lowest, as the library does
        bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        b, t, width = x.shape

        def split(h: torch.Tensor) -> torch.Tensor:
            return h.view(b, t, heads, width // heads).transpose(1, 2)

        for i in range(self.cfg["num_hidden_layers"]):
            at = f"encoder.layer.{i}."
            q, k, v = (split(self._linear(x, at + f"attention.self.{n}"))
                       for n in ("query", "key", "value"))
            att = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
            att = self._linear(att.transpose(1, 2).reshape(b, t, width),
                               at + "attention.output.dense")
            x = self._norm(x + att, at + "attention.output.LayerNorm")
            inner = F.gelu(self._linear(x, at + "intermediate.dense"))
            x = self._norm(x + self._linear(inner, at + "output.dense"),
                           at + "output.LayerNorm")
        return x


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
        self.device = torch.device(device)
        self.model = MiniBert(cfg, load_file(str(folder / "model.safetensors"))).to(self.device)
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
