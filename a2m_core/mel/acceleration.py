"""Faster ways to run the same weights on a CPU, each one measured before it is a default.

- **ONNX Runtime vocoder** (``vocoder_backend``: ``"auto"``, the default, uses it on a CPU
  when ``onnxruntime`` and ``onnx`` are installed, as they are by ``requirements.txt``;
  ``"onnx"`` asks for it, ``"torch"`` refuses it): the HiFi-GAN generator is exported to ONNX
  once, as its two parts (``HiFiGANGenerator.front`` and ``back``: streaming gives each its
  own context), dynamic length, cached under the user cache keyed by the weights' hash, checked
  against the eager module on its first use (largest sample difference, stated in the log),
  and then run by ONNX Runtime. A failed export or a difference over ``ONNX_TOLERANCE`` falls
  back to PyTorch with a warning: faster must never mean different.
- **int8 encoder** (``encoder_int8``, default True: on a CPU): PyTorch's dynamic
  quantisation of the Linear layers of OpenCLIP's image and text transformers (weights int8,
  activations quantised on the fly). The embeddings move a little; ``benchmarks/
  bench_generate.py`` prints how much, and how much the mel that follows moves (0.005 dB at
  paper size: inaudible). It became the default once it was quantised in place: its cost at
  each engine load fell from 8.6-11 s to nothing measurable (ViT-H-14: 17.5 s against 18.0 s
  for plain, one run), while every new painting and comment encodes ~1.5x faster. Other
  image models (the starter's EfficientNet) are left as they are; embeddings are cached
  apart from float ones.
- **bf16 decoder** (``precision="auto"``, the default): the mel decoder (projector +
  BiLSTM) under bf16 autocast on a CPU with native bf16 (AVX512-BF16 or AMX), float32
  elsewhere; see ``RuntimeOptions.stage_dtype`` for what was measured and why only there.
- **threads**: torch's intra-op threads (None: torch's default, one per core).

``benchmarks/bench_generate.py`` measures each against the plain path (``RuntimeOptions.
plain()``) in the same run; the defaults are the ones that won on our 2-core machines.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

log = logging.getLogger(__name__)

ONNX_TOLERANCE = 1e-3  # largest |sample difference| accepted from the ONNX vocoder


@dataclass(frozen=True)
class RuntimeOptions:
    """How the engine runs its models (never what they compute beyond float tolerance,
    except int8, whose error the benchmark states)."""

    vocoder_backend: str = "auto"  # "auto" (ONNX Runtime where installed), "onnx", "torch"
    encoder_int8: bool = True  # int8 Linear layers in OpenCLIP, on a CPU (plain(): off)
    threads: int | None = None  # torch intra-op threads (None: torch's default)
    # Autocast for the PyTorch stages: "auto" (the default: the mel decoder in bf16 on a CPU
    # that computes bf16 natively, float32 everywhere else), "fp32" (none), or "fp16" /
    # "bf16" for every PyTorch stage (GPUs; bf16 also on a CPU with native bf16).
    precision: str = "auto"

    def __post_init__(self) -> None:
        if self.vocoder_backend not in ("auto", "torch", "onnx"):
            raise ValueError(f"vocoder_backend must be 'auto', 'torch' or 'onnx', got "
                             f"{self.vocoder_backend!r}")
        if self.precision not in ("auto", "fp32", "fp16", "bf16"):
            raise ValueError(f"precision must be 'auto', 'fp32', 'fp16' or 'bf16', got "
                             f"{self.precision!r}")

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The dtype asked for every PyTorch stage (None for "auto" and "fp32")."""
        return {"fp16": torch.float16, "bf16": torch.bfloat16}.get(self.precision)

    def stage_dtype(self, stage: str, device_type: str, int8_encoder: bool = False
                    ) -> torch.dtype | None:
        """The autocast dtype for one stage ("encoder", "decoder" or "vocoder"), or None.

        "auto" puts only the decoder in bf16, and only on a CPU with native bf16: measured on
        an AVX512-BF16 CPU (paper size, 2 cores), the BiLSTM runs 1.7x faster (0.23 s against
        0.40 s) and its output moves by 5e-4, while the vocoder in bf16 moved samples by up to
        0.09 (SNR 23-28 dB on real music), too much to call inaudible, and the int8 encoder
        beats a bf16 one (0.86 s against 1.38 s). An int8 encoder never autocasts (its
        quantised layers take float32 only)."""
        if stage == "encoder" and int8_encoder:
            return None
        if self.precision == "auto":
            native = device_type == "cpu" and cpu_has_native_bf16()
            return torch.bfloat16 if stage == "decoder" and native else None
        return self.autocast_dtype

    @classmethod
    def plain(cls) -> RuntimeOptions:
        """Eager PyTorch in float32: the reference the faster runtimes are measured on."""
        return cls(vocoder_backend="torch", encoder_int8=False, precision="fp32")

    def wants_onnx(self, on_cpu: bool) -> bool:
        """Whether to try the ONNX Runtime vocoder: asked for, or "auto" with both packages
        installed (a missing package then means PyTorch, without a warning). A reduced
        ``precision`` asked for by name runs the vocoder in PyTorch under autocast."""
        if not on_cpu or self.vocoder_backend == "torch":
            return False
        if self.vocoder_backend == "auto" and self.autocast_dtype is not None:
            return False
        if self.vocoder_backend == "onnx":
            return True
        from importlib.util import find_spec

        return find_spec("onnxruntime") is not None and find_spec("onnx") is not None

    def wants_int8(self, on_cpu: bool) -> bool:
        return self.encoder_int8 and on_cpu

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def native_bf16_in(cpuinfo: str) -> bool:
    """Whether a ``/proc/cpuinfo`` text names bf16 instructions (AVX512-BF16 or AMX-BF16)."""
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    return bool(flags & {"avx512_bf16", "amx_bf16"})


@functools.lru_cache(maxsize=1)
def _cpuinfo() -> str:
    """``/proc/cpuinfo``'s text; empty where there is none (macOS, Windows)."""
    try:
        return Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return ""


def cpu_name() -> str:
    """The CPU's model name, or "" where ``/proc/cpuinfo`` does not say."""
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return ""


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware, read from ``/proc/cpuinfo``; False where
    that file is missing (macOS, Windows: float32 there).

    Why not oneDNN's own check: it also says yes on AVX-512 CPUs without bf16 instructions,
    where bf16 is emulated and slower than float32, and on AVX2 CPUs oneDNN has no bf16
    LSTM at all (measured: "could not create a primitive descriptor")."""
    return native_bf16_in(_cpuinfo())


def weights_digest(module: torch.nn.Module) -> str:
    """A short sha256 of a module's parameters and buffers (names, shapes, bytes)."""
    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        h.update(name.encode() + str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:24]


def onnx_runtime() -> Any:
    """``onnxruntime``, with its telemetry turned off before any session is made: a gallery
    machine must make no outside lookups (ONNX Runtime can report usage events to
    Microsoft). Every ONNX session in the project is made after calling this.

    Raises:
        ImportError: onnxruntime is not installed.
    """
    import onnxruntime as ort

    ort.disable_telemetry_events()
    return ort


class OnnxVocoder:
    """A HiFi-GAN generator run by ONNX Runtime in its two parts (``front`` and ``back``,
    as ``HiFiGANGenerator`` splits it, so streaming can give each part its own context):
    ``log_mel [1, n_mels, T] -> wave [1, 1, N]`` (torch tensors, like the module it
    replaces)."""

    def __init__(self, paths: tuple[Path, Path], threads: int | None = None) -> None:
        ort = onnx_runtime()
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sessions = [ort.InferenceSession(str(p), opts,
                                              providers=["CPUExecutionProvider"])
                         for p in paths]
        self.paths = paths
        self._lock = threading.Lock()  # a session may run from the engine's caller threads

    def _run(self, part: int, x: torch.Tensor) -> torch.Tensor:
        with self._lock:
            (y,) = self.sessions[part].run(None, {"x": x.detach().float().cpu().numpy()})
        return torch.from_numpy(y)

    def front(self, log_mel: torch.Tensor) -> torch.Tensor:
        return self._run(0, log_mel)

    def back(self, hidden: torch.Tensor) -> torch.Tensor:
        return self._run(1, hidden)

    def __call__(self, log_mel: torch.Tensor) -> torch.Tensor:
        return self.back(self.front(log_mel))


class _Part(torch.nn.Module):
    """One of the generator's parts as a module the exporter can trace."""

    def __init__(self, generator: torch.nn.Module, part: str) -> None:
        super().__init__()
        self.generator, self.part = generator, part

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self.generator, self.part)(x)


def _export(vocoder: torch.nn.Module, n_mels: int, paths: tuple[Path, Path]) -> None:
    from ..fileio import atomic_path

    vocoder = vocoder.eval().cpu()
    example = torch.zeros(1, n_mels, 64)
    with torch.inference_mode():
        examples = (example, vocoder.front(example))
    for part, x, path in zip(("front", "back"), examples, paths):
        # The TorchScript exporter (dynamo=False): the torch.export one needs onnxscript and
        # gains nothing for a plain conv net; its deprecation notices say nothing to a user.
        with atomic_path(path, suffix=".onnx") as tmp, torch.inference_mode(), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(_Part(vocoder, part), (x,), str(tmp), input_names=["x"],
                              output_names=["y"], opset_version=17, dynamo=False,
                              dynamic_axes={"x": {2: "steps"}, "y": {2: "samples"}})


def onnx_vocoder(vocoder: torch.nn.Module, n_mels: int, cache: Path,
                 threads: int | None = None) -> OnnxVocoder | None:
    """The vocoder through ONNX Runtime (exported once into ``cache``), or None when
    onnxruntime is missing, the export fails, or its output differs from the eager module's
    by more than ``ONNX_TOLERANCE`` (then the engine keeps PyTorch; the log says why)."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        log.warning("vocoder_backend 'onnx' needs the onnxruntime package (pip install "
                    "onnxruntime): using PyTorch")
        return None
    stem = f"hifigan-{weights_digest(vocoder)}"
    paths = (cache / f"{stem}-front.onnx", cache / f"{stem}-back.onnx")
    verified = cache / f"{stem}.verified.json"
    try:
        if not all(p.is_file() for p in paths):
            log.info("exporting the vocoder to ONNX once: %s", cache / f"{stem}-*.onnx")
            verified.unlink(missing_ok=True)
            _export(vocoder, n_mels, paths)
        runner = OnnxVocoder(paths, threads)
        if verified.is_file():  # checked on its first use; the file is keyed by the weights
            return runner
        # First use: the same mel through both, a length that is not the export's.
        mel = torch.from_numpy(np.random.default_rng(0).normal(-4.0, 2.0, (1, n_mels, 48))
                               .astype(np.float32))
        with torch.inference_mode():
            eager = vocoder(mel).float()
        diff = float((runner(mel) - eager).abs().max())
    except Exception as err:  # noqa: BLE001 - exporter and runtime errors vary widely
        log.warning("the ONNX vocoder could not be used (%s): using PyTorch",
                    str(err).splitlines()[0] if str(err) else type(err).__name__)
        for p in paths:
            p.unlink(missing_ok=True)
        verified.unlink(missing_ok=True)
        return None
    if diff > ONNX_TOLERANCE:
        log.warning("the ONNX vocoder differs from PyTorch by %.2e (> %.0e): using PyTorch",
                    diff, ONNX_TOLERANCE)
        return None
    log.info("vocoder on ONNX Runtime (largest sample difference to PyTorch %.1e)", diff)
    try:
        from ..fileio import atomic_path

        with atomic_path(verified, suffix=".json") as tmp:
            Path(tmp).write_text(json.dumps({"max_abs_diff": diff,
                                             "tolerance": ONNX_TOLERANCE}))
    except OSError as err:  # a read-only cache: verify again next time
        log.debug("cannot record the ONNX check: %s", err)
    return runner


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantisation of a model's Linear layers, in place (the model is
    returned), for CPU inference only.

    In place because the copy ``quantize_dynamic`` makes by default is half its cost: 4.9 of
    8.2 s for a 315 M-parameter stack of ViT-H-sized Linear layers (1 thread); the rest is
    fbgemm's weight packing, paid at every load."""
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        # torch's notice that its quantised tensor creators will move: says nothing to a user
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)


class SelfAttention(torch.nn.Module):
    """``nn.MultiheadAttention`` for self-attention, with its projections as Linear layers.

    Why: ``nn.MultiheadAttention`` keeps its input projection as a bare parameter, which
    dynamic quantisation cannot reach (and its output projection is a Linear subclass it
    skips), so after ``quantize_int8`` a third of a ViT's weights stayed float32 and took 60 %
    of the int8 image encoder's time (ViT-H-14, profiled). As Linear layers they quantise with
    the rest. Same call and result as the module it replaces (eval, self-attention only)."""

    def __init__(self, mha: torch.nn.MultiheadAttention) -> None:
        super().__init__()
        if not mha._qkv_same_embed_dim or mha.bias_k is not None or mha.add_zero_attn:
            raise ValueError("only plain self-attention converts")
        e = mha.embed_dim
        self.heads, self.batch_first = mha.num_heads, mha.batch_first
        self.in_proj = torch.nn.Linear(e, 3 * e, bias=mha.in_proj_bias is not None)
        self.out_proj = torch.nn.Linear(e, e, bias=mha.out_proj.bias is not None)
        with torch.no_grad():
            self.in_proj.weight.copy_(mha.in_proj_weight)
            self.out_proj.weight.copy_(mha.out_proj.weight)
            if mha.in_proj_bias is not None:
                self.in_proj.bias.copy_(mha.in_proj_bias)
            if mha.out_proj.bias is not None:
                self.out_proj.bias.copy_(mha.out_proj.bias)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                key_padding_mask: torch.Tensor | None = None, need_weights: bool = False,
                attn_mask: torch.Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[torch.Tensor, None]:
        if key is not query or value is not query:
            raise ValueError("SelfAttention attends a sequence to itself")
        if key_padding_mask is not None or need_weights:
            raise ValueError("SelfAttention takes no key_padding_mask and returns no weights")
        x = query if self.batch_first else query.transpose(0, 1)  # [B, L, E]
        b, n, e = x.shape
        q, k, v = self.in_proj(x).view(b, n, 3, self.heads, e // self.heads).permute(2, 0, 3, 1, 4)
        if attn_mask is not None and attn_mask.dtype != torch.bool:
            attn_mask = attn_mask.to(q.dtype)
        y = torch.nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, is_causal=is_causal and attn_mask is None)
        y = self.out_proj(y.transpose(1, 2).reshape(b, n, e))
        return (y if self.batch_first else y.transpose(0, 1)), None


def _self_attention_as_linear(module: torch.nn.Module) -> None:
    """Every self-attention block's ``nn.MultiheadAttention`` -> ``SelfAttention``, in place
    (cross-attention blocks, with their own key/value norm, are left as they are)."""
    for block in module.modules():
        attn = getattr(block, "attn", None)
        if isinstance(attn, torch.nn.MultiheadAttention) and not hasattr(block, "ln_1_kv"):
            try:
                block.attn = SelfAttention(attn)
            except ValueError:
                pass


def quantize_openclip_int8(model: torch.nn.Module) -> None:
    """Both OpenCLIP towers' Linear layers to int8, in place, attention projections
    included. The text tower reads its compute dtype from ``mlp.c_fc.weight``, which a
    quantised layer no longer has; open_clip looks for ``int8_original_dtype`` first (its
    own int8 hook), so it is set to float32."""
    _self_attention_as_linear(model)
    model.visual = quantize_int8(model.visual)
    transformer = getattr(model, "transformer", None)
    if transformer is not None and hasattr(transformer, "resblocks"):
        model.transformer = quantize_int8(transformer)
        for block in model.transformer.resblocks:
            block.mlp.c_fc.int8_original_dtype = torch.float32
