"""Faster ways to run the same weights on a CPU, each one measured before it is a default.

- **ONNX Runtime vocoder** (``vocoder_backend="onnx"``): the HiFi-GAN generator is exported to
  ONNX once (dynamic length), cached under the user cache keyed by the weights' hash, checked
  against the eager module on its first use (largest sample difference, stated in the log),
  and then run by ONNX Runtime. A failed export or a difference over ``ONNX_TOLERANCE`` falls
  back to PyTorch with a warning: faster must never mean different.
- **int8 encoder** (``encoder_int8=True``): PyTorch's dynamic quantisation of the OpenCLIP
  image tower's Linear layers (weights int8, activations quantised on the fly). The embeddings move
  a little; ``benchmarks/bench_generate.py`` prints how much, and the mel that follows.
- **threads**: torch's intra-op threads (None: torch's default, one per core).

``benchmarks/bench_generate.py`` measures each against the plain path in the same run; the
engine's defaults are the ones that won on our 2-core machines.
"""
from __future__ import annotations

import hashlib
import logging
import threading
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
    except ``encoder_int8``, whose error the benchmark states)."""

    vocoder_backend: str = "torch"  # "torch" or "onnx" (ONNX Runtime; CPU only)
    encoder_int8: bool = False  # dynamic int8 Linear layers in OpenCLIP (CPU only)
    threads: int | None = None  # torch intra-op threads (None: torch's default)

    def __post_init__(self) -> None:
        if self.vocoder_backend not in ("torch", "onnx"):
            raise ValueError(f"vocoder_backend must be 'torch' or 'onnx', got "
                             f"{self.vocoder_backend!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def weights_digest(module: torch.nn.Module) -> str:
    """A short sha256 of a module's parameters and buffers (names, shapes, bytes)."""
    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        h.update(name.encode() + str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:24]


class OnnxVocoder:
    """A HiFi-GAN generator run by ONNX Runtime: ``log_mel [1, n_mels, T] -> wave [1, 1, N]``
    (a torch tensor, like the module it replaces)."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.path = path
        self._lock = threading.Lock()  # a session may run from the engine's caller threads

    def __call__(self, log_mel: torch.Tensor) -> torch.Tensor:
        x = log_mel.detach().float().cpu().numpy()
        with self._lock:
            (wave,) = self.session.run(None, {"mel": x})
        return torch.from_numpy(wave)


def _export(vocoder: torch.nn.Module, n_mels: int, path: Path) -> None:
    from .fileio import atomic_path

    vocoder = vocoder.eval().cpu()
    example = torch.zeros(1, n_mels, 64)
    with atomic_path(path, suffix=".onnx") as tmp, torch.inference_mode():
        torch.onnx.export(vocoder, (example,), str(tmp), input_names=["mel"],
                          output_names=["wave"], opset_version=17, dynamo=False,
                          dynamic_axes={"mel": {2: "frames"}, "wave": {2: "samples"}})


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
    path = cache / f"hifigan-{weights_digest(vocoder)}.onnx"
    try:
        if not path.is_file():
            log.info("exporting the vocoder to ONNX once: %s", path)
            _export(vocoder, n_mels, path)
        runner = OnnxVocoder(path, threads)
        # First use: the same mel through both, a length that is not the export's.
        mel = torch.from_numpy(np.random.default_rng(0).normal(-4.0, 2.0, (1, n_mels, 48))
                               .astype(np.float32))
        with torch.inference_mode():
            eager = vocoder(mel).float()
        diff = float((runner(mel) - eager).abs().max())
    except Exception as err:  # noqa: BLE001 - exporter and runtime errors vary widely
        log.warning("the ONNX vocoder could not be used (%s): using PyTorch",
                    str(err).splitlines()[0] if str(err) else type(err).__name__)
        path.unlink(missing_ok=True)
        return None
    if diff > ONNX_TOLERANCE:
        log.warning("the ONNX vocoder differs from PyTorch by %.2e (> %.0e): using PyTorch",
                    diff, ONNX_TOLERANCE)
        return None
    log.info("vocoder on ONNX Runtime (largest sample difference to PyTorch %.1e)", diff)
    return runner


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantisation of a model's Linear layers (CPU inference only)."""
    from torch.ao.quantization import quantize_dynamic

    return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
