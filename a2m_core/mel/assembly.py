"""How an engine runs its weights on a device: the device, reduced precision per stage, the
vocoder's runner (PyTorch, ONNX Runtime, or PyTorch under autocast). The engine asks;
generation itself stays in ``engine.py``, the vocoder's use in ``vocoding.py``."""
from __future__ import annotations

from collections.abc import Callable

import torch

from ..errors import BadInputError
from .acceleration import RuntimeOptions


def resolve_device(device: str | None) -> torch.device:
    """``"auto"``/None -> CUDA when available, else CPU; anything else as torch reads it."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise BadInputError(f"unknown device '{device}': use auto, cpu or cuda[:N]") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BadInputError(f"device '{device}' requested but CUDA is not available here")
    return dev


def check_precision(runtime: RuntimeOptions, device: torch.device) -> None:
    """Refuse a reduced precision the device cannot run.

    Raises:
        BadInputError: fp16 off CUDA, or bf16 on a CPU without bf16 instructions.
    """
    if runtime.autocast_dtype is None or device.type == "cuda":
        return
    # measured here: oneDNN has no bf16/fp16 LSTM on AVX2 CPUs ("could not create a
    # primitive descriptor"); bf16 runs on CPUs with bf16 instructions
    from .acceleration import cpu_has_native_bf16

    if runtime.precision == "fp16" or not cpu_has_native_bf16():
        raise BadInputError(
            f"precision '{runtime.precision}' is for CUDA devices and CPUs with bf16 "
            f"instructions (bf16 only); on this {device} the faster paths are the ONNX "
            f"Runtime vocoder and int8 OpenCLIP (both default)")


def vocoder_runner(vocoder: torch.nn.Module, runtime: RuntimeOptions, device: torch.device,
                   n_mels: int, dtype: torch.dtype | None
                   ) -> Callable[[torch.Tensor], torch.Tensor]:
    """What turns a log-mel into samples: the module, its ONNX Runtime twin (CPU default,
    checked against it), or the module under autocast when a reduced precision is asked."""
    if runtime.wants_onnx(device.type == "cpu"):
        from ..paths import cache_dir
        from .acceleration import onnx_vocoder

        fast = onnx_vocoder(vocoder, n_mels, cache_dir() / "onnx", runtime.threads)
        if fast is not None:
            return fast
    if dtype is not None:
        return Autocast(vocoder, device.type, dtype)
    return vocoder


class Autocast:
    """A vocoder called under ``torch.autocast`` (reduced precision), with its two parts
    (``front``, ``back``) so streaming splits it as it does the float one."""

    def __init__(self, module: torch.nn.Module, device_type: str, dtype: torch.dtype) -> None:
        self.module, self.device_type, self.dtype = module, device_type, dtype

    def _run(self, fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor
             ) -> torch.Tensor:
        with torch.autocast(self.device_type, dtype=self.dtype):
            return fn(x).float()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(self.module, x)

    def front(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(self.module.front, x)

    def back(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(self.module.back, x)


