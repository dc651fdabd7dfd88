"""A mel bundle's vocoder stage: its vocoder (HiFi-GAN, however it runs, or Griffin-Lim)
and the one finisher every clip goes through, one-shot or streamed.

The mel voice (``mel/voice.py``) owns one :class:`Vocoder`; notes bundles have a sampler
instead (``notes/sampler.py``).
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch

from .. import postprocess
from ..audio import MelConfig, denormalize, griffin_lim
from ..bundle import GenerationConfig
from ..errors import GenerationCancelled
from ..voice import CancelCheck, cancelled
from .assembly import Autocast
from .hifigan import HiFiGANGenerator
from .streaming import (
    Pacer,
    Pacing,
    chunk_spans,
    loudness_from_mel,
    part_contexts,
    stream_hifigan,
    vocode_span,
)

log = logging.getLogger(__name__)

# Frames vocoded between two cancel checks: ~1 s of work on a 2-core CPU.
VOCODE_SPAN = 160


class Vocoder:
    """Turns normalised mels ``[n_mels, T]`` into finished samples.

    ``vocoder``: the HiFi-GAN module (None: Griffin-Lim); ``runner``: what runs it
    (``assembly.vocoder_runner``: the module itself, an autocast wrapper or ONNX Runtime).
    """

    def __init__(self, vocoder: HiFiGANGenerator | None,
                 runner: Callable[[torch.Tensor], torch.Tensor] | None,
                 mel_config: MelConfig, griffin_lim_iters: int, device: torch.device) -> None:
        self.vocoder = vocoder
        self.runner = runner
        self.mel_config = mel_config
        self.griffin_lim_iters = griffin_lim_iters
        self.device = device
        # seconds of vocoder work per mel frame for each of its parts, measured on the last
        # whole clip: a stream's first chunk is sized from them (streaming.Pacer), later
        # chunks from the stream's own. Not from streamed chunks: ONNX Runtime runs ~60 %
        # slower a frame on 44 frames than on 896, and streams closed after their first
        # chunk then grew the next stream's first chunk to 1.5-1.9 s of first sound.
        self.rates: tuple[float, ...] | None = None

    @property
    def name(self) -> str:
        """"HiFi-GAN" (with its dtype, or ", ONNX Runtime" when it runs there) or
        "Griffin-Lim"."""
        if self.vocoder is None:
            return "Griffin-Lim"
        if isinstance(self.runner, Autocast):
            return f"HiFi-GAN, {str(self.runner.dtype).removeprefix('torch.')}"
        return "HiFi-GAN" if self.runner is self.vocoder else "HiFi-GAN, ONNX Runtime"

    def split(self) -> tuple[int, int, int] | None:
        """``(front context, back context, front samples per frame)`` when the vocoder
        runs as HiFi-GAN's two parts (streaming gives each its own context), else None."""
        if self.vocoder is None or not hasattr(self.runner, "front"):
            return None
        cfg = self.vocoder.cfg
        return (*cfg.split_context_frames, cfg.upsample_rates[0])

    def pacer(self, pacing: Pacing | None) -> Pacer | None:
        """How a stream's chunks are sized (None for Griffin-Lim: one piece)."""
        if self.vocoder is None:
            return None
        return Pacer(pacing or Pacing(), self.mel_config.hop_length / self.mel_config.sample_rate,
                     part_contexts(self.vocoder.cfg.context_frames, self.split()),
                     rates=self.rates)

    @torch.inference_mode()
    def pieces(self, mel: torch.Tensor, seed: int | None, span: int | Pacer | None,
               cancel: CancelCheck = None) -> Iterator[tuple[int, np.ndarray]]:
        """Raw pieces ``(first sample, samples)`` of a normalised mel ``[n_mels, T]``, before
        level and fades. Griffin-Lim needs the whole spectrogram: one piece. HiFi-GAN runs
        in spans of ``span`` frames (None: one call; a :class:`Pacer`: sized as a stream
        needs), each with the vocoder's receptive field of context, so any cut gives the
        samples of one call (equal to the last bit on the starter). ``cancel`` is checked
        between spans: a 10 s clip takes ~5 s to vocode on a 2-core CPU.

        Raises:
            GenerationCancelled: ``cancel`` was set between two spans.
        """
        if self.vocoder is None:
            yield 0, griffin_lim(mel.float().cpu(), self.mel_config,
                                 n_iter=self.griffin_lim_iters, seed=seed or 0)
            return
        log_mel = denormalize(mel, self.mel_config).unsqueeze(0)  # [1, n_mels, T]
        assert self.runner is not None
        hop, ctx = self.mel_config.hop_length, self.vocoder.cfg.context_frames
        if isinstance(span, Pacer):
            yield from stream_hifigan(self.runner, log_mel, hop, span, ctx, split=self.split())
            return
        n = log_mel.shape[-1]
        work: list[tuple[int, float]] = []
        for s, e, _, _ in chunk_spans(n, span or n, ctx):
            if cancelled(cancel):
                raise GenerationCancelled("generation cancelled at the vocoder stage")
            wave, part_work = vocode_span(self.runner, log_mel, s, e, hop, ctx, self.split())
            # timed per part: a stream's first chunk is sized from these (streaming.Pacer)
            work = part_work if not work else [(a + c, b + d) for (a, b), (c, d)
                                               in zip(work, part_work)]
            self.rates = tuple(sec / max(1, frames) for frames, sec in work)
            yield s * hop, wave.float().cpu().numpy()

    def wave(self, mel: torch.Tensor, seed: int | None = None) -> np.ndarray:
        """Normalised mel ``[n_mels, T]`` -> raw wave ``[T * hop]`` (before level and fades)."""
        return np.concatenate([w for _, w in self.pieces(mel, seed, None)])

    @torch.inference_mode()
    def finished(self, mels: torch.Tensor, mels_np: np.ndarray, seeds: Sequence[int | None],
                 gen: GenerationConfig, cancel: CancelCheck) -> list[np.ndarray]:
        """Finished clips for mels ``[B, n_mels, T]``, through the streams' finisher: one
        batched vocoder call on a GPU (where a batch is what pays), one clip at a time
        elsewhere, in cancellable spans when there is a ``cancel`` (they cost ~12 %: 6.3 s
        against 5.6 s for the mel starter, 2-core x86_64, 2026-12-04)."""
        if self.vocoder is not None and self.device.type != "cpu" and len(mels) > 1:
            assert self.runner is not None
            waves = self.runner(denormalize(mels, self.mel_config)).float().cpu().numpy()
            return [self.finisher(mels_np[i], gen)(0, w.reshape(-1))
                    for i, w in enumerate(waves)]
        span = VOCODE_SPAN if cancel is not None else None
        out = []
        for i in range(len(mels)):
            finish = self.finisher(mels_np[i], gen)
            out.append(np.concatenate([finish(s, w) for s, w in
                                       self.pieces(mels[i], seeds[i], span, cancel)]))
        return out

    def finisher(self, mel: np.ndarray, gen: GenerationConfig) -> postprocess.ChunkFinisher:
        """The one finisher of a mel bundle's clip, one-shot or streamed: the gain that
        brings the loudness the mel predicts to ``gen.loudness_lufs`` (None: none), then
        fades and the soft ceiling (``postprocess.ChunkFinisher``)."""
        gain, target = 1.0, gen.loudness_lufs
        if target is not None:
            level = loudness_from_mel(mel, self.mel_config)
            if math.isfinite(level) and level > postprocess.SILENCE_LUFS:
                gain = 10.0 ** ((target - level) / 20.0)
            else:
                log.info("clip is silent (%.1f LUFS); loudness left unchanged", level)
        return postprocess.ChunkFinisher(mel.shape[-1] * self.mel_config.hop_length,
                                         self.mel_config.sample_rate, gain, gen.peak_dbfs,
                                         gen.fade_ms)
