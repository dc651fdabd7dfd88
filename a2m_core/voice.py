"""What the engine hands a voice, and what a voice is.

The engine prepares the requests, encodes the paintings and comments and fuses them
(``projector``); a voice turns the fused vectors into sound. Two voices exist:
``mel.voice.MelVoice`` (the paper's mel decoder and vocoder) and ``notes.voice.NotesVoice``
(a plan, notes and a SoundFont sampler).
"""
from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, Union

import numpy as np
import torch

if TYPE_CHECKING:
    from PIL import Image

    from .bundle import GenerationConfig
    from .clip import Clip, StreamChunk
    from .mel.streaming import Pacing
    from .notes.plan import Pins
    from .painting import PaintingLook
    from .request import GenerationRequest

Stage = Callable[..., float]  # stage(name, fraction=None): check cancel, report, time
CancelCheck = Union[threading.Event, Callable[[], bool], None]  # noqa: UP007 - a runtime alias


def cancelled(cancel: CancelCheck) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


@dataclass
class Encoded:
    """A batch of fused vectors with what the voices need beside them."""

    fused: torch.Tensor  # [B, hidden]
    seeds: list[int | None]
    keys: list[bytes]  # each painting's identity (``painting_keys``)
    prompts: list[str]  # the composite texts the text encoder read ("" from features)
    comments: list[str]
    pins: list[Pins | None]  # what each clip plays under (notes bundles)
    variations: list[float | None]  # each request's own variation (None: the bundle's)
    requests: list[GenerationRequest] | None = None  # None: from features (ablations)
    bare: torch.Tensor | None = None  # notes: the fused vectors of the paintings alone
    looks: list[PaintingLook | None] | None = None  # notes: each painting's measured look
    encode_s: float = 0.0

    def __len__(self) -> int:
        return len(self.seeds)


def painting_keys(images: Sequence[Image.Image]) -> list[bytes]:
    """What an unseeded draw is seeded by: each painting's decoded pixels (their sha256).

    Not its embedding's bytes: those differ in the last bits between CPUs (AVX2 and AVX-512
    kernels) and runtimes (int8, bf16), so the same painting and comment would draw another
    performance on another machine (measured with embedding keys: band std 5.28 dB on an
    AVX2 host, 5.94 on an AVX-512 one, same bundle)."""
    from .images import image_key

    return [image_key(im).encode() for im in images]


def generators(seeds: Sequence[int | None], keys: Sequence[bytes]) -> list[torch.Generator]:
    """One generator per clip: its seed, else its painting's key (the painting's pixels),
    so the same painting and comment give the same clip on any machine and runtime."""
    gens = []
    for seed, key in zip(seeds, keys):
        if seed is None:
            seed = int.from_bytes(hashlib.sha256(key).digest()[:8], "little")
        gens.append(torch.Generator().manual_seed(int(seed)))
    return gens


class Voice(Protocol):
    """Fused vectors -> clips, whole or in chunks."""

    name: str  # what makes the sound, for people ("HiFi-GAN", "SoundFont sampler")
    sample_rate: int  # the sound's rate (a mel voice's is the mel convention's)

    def clips(self, batch: Encoded, gen: GenerationConfig, stage: Stage | None,
              on_mel: Callable[[np.ndarray], None] | None, cancel: CancelCheck,
              timings: dict[str, float]) -> list[Clip]: ...

    def stream(self, batch: Encoded, gen: GenerationConfig, stage: Stage,
               cancel: CancelCheck, pacing: Pacing | None,
               timings: dict[str, float]) -> Iterator[StreamChunk]: ...
