"""Streaming: the vocoder in overlapping chunks, and a level known before the wave exists.

Playing while the vocoder still runs needs two things the one-shot path gets from the whole
wave:

- **Chunks that join without seams.** HiFi-GAN is convolutional: a chunk of mel frames,
  vocoded with its receptive field's reach of extra frames on each side
  (``HiFiGANConfig.context_frames``, 14 for V1) and cropped back, gives the samples the
  whole-clip run gives, up to float rounding (``tests/test_streaming.py``). Most of that
  reach is in the generator's first stage, and most of the work in the stages after it, so
  the generator runs in two parts (``HiFiGANGenerator.front`` / ``back``): the front with
  the whole context, its output cropped to the back's own reach (2 frames a side for V1
  instead of 14), then the back. A 16-frame chunk costs about half as much. Griffin-Lim is
  iterative over the whole spectrogram, so a Griffin-Lim bundle streams one chunk: the whole
  clip.
- **The loudness gain before the first sample is played.** BS.1770 loudness (K-weighted
  power, 400 ms blocks, absolute and relative gates) is computed here from the mel itself: the
  mel holds the magnitudes the vocoder reproduces. The constant that ties mel power to LUFS
  is calibrated once per mel convention on a music-like signal measured by ``loudness``. The
  peak ceiling is the same soft knee as the one-shot path's (``postprocess.soft_ceiling``).
- **Chunks that keep ahead of playback** (``Pacer``). Every chunk pays its context frames
  again, so small chunks cost more per second of sound; the chunk after the first must be
  made while the first one plays. Fixed sizes (32 then 64) left a 0.16 s gap after the first
  chunk on a day the 2-core machine's vocoder ran at 5.8 ms a frame (a frame plays for
  11.6 ms), and were needlessly long on a fast day. So the chunks are sized from the
  vocoder's measured speed: the first as short as lets the second fit in the time the first
  plays, each next one as long as the sound already made covers, never so short that the
  vocoder falls behind, growing to ``largest`` frames (less context work per second).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ..audio import MelConfig, denormalize, log_mel_torch

BLOCK_S, OVERLAP = 0.4, 0.75  # BS.1770 gating blocks
ABS_GATE, REL_GATE = -70.0, -10.0


@lru_cache(maxsize=8)
def _k_weights(cfg: MelConfig) -> np.ndarray:
    """BS.1770's K-filter power response at each mel band's centre ``[n_mels]``."""
    from ..audio import _mel_basis_np
    from ..loudness import k_response

    basis = _mel_basis_np(cfg)  # [n_mels, bins]
    bins = np.linspace(0, cfg.sample_rate / 2, basis.shape[1])
    centres = (basis * bins).sum(axis=1) / np.maximum(basis.sum(axis=1), 1e-12)
    power = np.abs(k_response(centres, cfg.sample_rate)) ** 2
    # A band's value is a weighted sum of bin magnitudes; the power it stands for is about
    # (value / sum of weights)^2 per bin times its bins (sum / peak weight). Without this a
    # tone in a narrow low band and noise in a wide high one would not compare.
    total = np.maximum(basis.sum(axis=1), 1e-12)
    width = total / np.maximum(basis.max(axis=1), 1e-12)
    return (power * width / total**2).astype(np.float64)


def _block_powers(power: np.ndarray, cfg: MelConfig) -> np.ndarray:
    """K-weighted mel power per frame ``[T]`` -> mean power of each gating block."""
    fps = cfg.sample_rate / cfg.hop_length
    size = max(1, round(BLOCK_S * fps))
    step = max(1, round(size * (1 - OVERLAP)))
    starts = range(0, max(1, len(power) - size + 1), step)
    return np.array([power[s:s + size].mean() for s in starts])


def _raw_loudness(log_mel: np.ndarray, cfg: MelConfig, offset: float = 0.0) -> float:
    """Gated K-weighted power of a natural-log magnitude mel ``[n_mels, T]``, in dB before
    calibration; the gates compare ``level + offset`` (calibrated LUFS) with BS.1770's."""
    power = (np.exp(2.0 * log_mel.astype(np.float64)) * _k_weights(cfg)[:, None]).sum(axis=0)
    blocks = _block_powers(power, cfg)
    if not blocks.size:
        return -math.inf
    level = 10.0 * np.log10(np.maximum(blocks, 1e-30))
    keep = level + offset > ABS_GATE
    if not keep.any():
        return -math.inf
    relative = 10.0 * np.log10(blocks[keep].mean()) + REL_GATE
    keep &= level > relative
    return float(10.0 * np.log10(blocks[keep].mean())) if keep.any() else -math.inf


@lru_cache(maxsize=8)
def _calibration(cfg: MelConfig) -> float:
    """LUFS minus the raw mel loudness, measured on a music-like test signal.

    Mel bands hold magnitudes, not powers: a steady tone reads about 1 dB higher than noise
    of the same power (noise's mean magnitude is 0.89 of its RMS). Music is mostly tones, so
    the calibration signal is a chord of harmonic tones over a little noise.
    """
    from ..postprocess import measure_lufs

    sr = cfg.sample_rate
    t = np.arange(sr * 8) / sr
    rng = np.random.default_rng(0)
    wave = 0.01 * rng.standard_normal(t.size)
    for f0 in (110.0, 165.0, 220.0, 277.2):
        for k in range(1, 12):
            if f0 * k < min(cfg.fmax, sr / 2) * 0.95:
                wave += 0.05 / k * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.28))
    wave = wave.astype(np.float32)
    # natural-log magnitudes, the mel convention's; torch's STFT, not librosa's, whose import
    # (with numba) cost the first streamed clip of a process 1.7 s
    log_mel = log_mel_torch(torch.from_numpy(wave), cfg).numpy()
    return measure_lufs(wave, sr) - _raw_loudness(log_mel, cfg)


def loudness_from_mel(norm_mel: np.ndarray, cfg: MelConfig) -> float:
    """Estimated integrated loudness (LUFS) of the clip a normalised mel ``[n_mels, T]``
    vocodes to; ``-inf`` for silence."""
    offset = _calibration(cfg)
    log_mel = np.asarray(denormalize(np.asarray(norm_mel, np.float64), cfg))
    raw = _raw_loudness(log_mel, cfg, offset)
    return raw + offset if math.isfinite(raw) else -math.inf


def chunk_spans(n_frames: int, chunk: int, context: int, first: int | None = None
                ) -> list[tuple[int, int, int, int]]:
    """``(start, end, padded_start, padded_end)`` frame spans covering ``n_frames``; the first
    span may be shorter (``first``): it is what stands between the call and the first sound."""
    spans, s = [], 0
    while s < n_frames:
        e = min(n_frames, s + (first if first and s == 0 else chunk))
        spans.append((s, e, max(0, s - context), min(n_frames, e + context)))
        s = e
    return spans


@dataclass(frozen=True)
class Pacing:
    """How streamed chunks are sized (frames). ``first`` is used while the vocoder's speed
    is unknown (the first stream of a process that has not vocoded yet)."""

    first: int = 32
    smallest: int = 16
    largest: int = 256
    headroom: float = 0.8  # a chunk may take this share of the sound time it must fit in

    def __post_init__(self) -> None:
        if not 1 <= self.smallest <= self.largest or self.first < 1:
            raise ValueError(f"chunk sizes must be positive with smallest <= largest, got "
                             f"first {self.first}, smallest {self.smallest}, largest "
                             f"{self.largest}")
        if not 0.0 < self.headroom <= 1.0:
            raise ValueError(f"headroom must be in (0, 1], got {self.headroom}")


class Pacer:
    """Sizes the chunks of one stream so the next chunk is ready before the sound already
    made has played. The vocoder runs in parts (one, or HiFi-GAN's front and back); part
    ``p`` vocodes a chunk of ``c`` frames with ``contexts[p]`` frames on each side at
    ``rates[p]`` seconds a frame (None: not measured yet). Playback is taken to start when
    the first chunk is ready. ``clock`` is injectable for tests."""

    def __init__(self, pacing: Pacing, frame_s: float, contexts: Sequence[int],
                 rates: Sequence[float] | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.pacing, self.frame_s, self.contexts = pacing, frame_s, tuple(contexts)
        if rates is not None and len(rates) != len(self.contexts):
            rates = None  # measured on another split of the vocoder: measure again
        self.rates = None if rates is None else tuple(rates)
        self.clock = clock
        self.started: float | None = None  # when the first chunk was ready
        self.made_s = 0.0  # seconds of sound made so far

    def _clamp(self, frames: float) -> int:
        return int(min(self.pacing.largest, max(self.pacing.smallest, math.ceil(frames))))

    def _costs(self) -> tuple[float, float]:
        """(seconds per frame of chunk, seconds per chunk for its context)."""
        assert self.rates is not None
        per_frame = sum(self.rates)
        return per_frame, sum(2 * k * r for k, r in zip(self.contexts, self.rates))

    def sustainable(self) -> int:
        """The shortest chunk the vocoder makes faster than it plays (with headroom);
        ``largest`` when none is: then only throughput helps."""
        per_frame, fixed = self._costs()
        budget = self.pacing.headroom * self.frame_s - per_frame  # time gained per frame
        if budget <= 0:
            return self.pacing.largest
        return self._clamp(fixed / budget)

    def first(self) -> int:
        """The shortest first chunk during whose playing a sustainable second one is made."""
        if self.rates is None:
            return self.pacing.first
        per_frame, fixed = self._costs()
        second = self.sustainable() * per_frame + fixed
        return self._clamp(second / (self.pacing.headroom * self.frame_s))

    def next(self) -> int:
        """The next chunk: as long as the sound still to play covers, at least sustainable."""
        if self.started is None:
            return self.first()
        per_frame, fixed = self._costs()
        ahead = self.made_s - (self.clock() - self.started)  # sound left to play
        fits = (self.pacing.headroom * ahead - fixed) / per_frame
        return self._clamp(max(math.floor(fits), self.sustainable()))

    def record(self, frames: int, work: Sequence[tuple[int, float]]) -> None:
        """A chunk of ``frames`` was vocoded; ``work``: each part's (frames it ran on,
        seconds it took)."""
        measured = tuple(sec / max(1, n) for n, sec in work)
        # the latest chunk counts most: the machine's speed drifts with what else runs
        self.rates = measured if self.rates is None else tuple(
            0.5 * (a + b) for a, b in zip(self.rates, measured))
        if self.started is None:
            self.started = self.clock()
        self.made_s += frames * self.frame_s


def part_contexts(context: int, split: tuple[int, int, int] | None) -> tuple[int, ...]:
    """Frames of context a side each part of the vocoder runs with (``Pacer.contexts``)."""
    return (context,) if split is None else (split[0] + split[1], split[1])


def vocode_span(vocoder: Callable[[torch.Tensor], torch.Tensor], log_mel: torch.Tensor,
                s: int, e: int, hop: int, context: int,
                split: tuple[int, int, int] | None = None,
                clock: Callable[[], float] = time.perf_counter
                ) -> tuple[torch.Tensor, list[tuple[int, float]]]:
    """The samples of frames ``[s, e)`` of a log-mel ``[1, n_mels, T]`` (1-D), and each
    part's (frames it ran on, seconds it took). See :func:`stream_hifigan` for ``split``;
    ``s, e = 0, T`` is the whole clip."""
    n = log_mel.shape[-1]
    if split is None:
        ps, pe = max(0, s - context), min(n, e + context)
        t = clock()
        wave = vocoder(log_mel[..., ps:pe]).reshape(-1)
        return wave[(s - ps) * hop:(e - ps) * hop], [(pe - ps, clock() - t)]
    front_ctx, back_ctx, rate = split
    bs, be = max(0, s - back_ctx), min(n, e + back_ctx)  # the back's frames
    fs, fe = max(0, bs - front_ctx), min(n, be + front_ctx)  # the front's
    t = clock()
    h = vocoder.front(log_mel[..., fs:fe])[..., (bs - fs) * rate:(be - fs) * rate]
    t_front = clock()
    wave = vocoder.back(h).reshape(-1)
    return wave[(s - bs) * hop:(e - bs) * hop], [(fe - fs, t_front - t),
                                                   (be - bs, clock() - t_front)]


def stream_hifigan(vocoder: Callable[[torch.Tensor], torch.Tensor], log_mel: torch.Tensor,
                   hop: int, chunk: int | Pacer, context: int, first: int | None = None,
                   split: tuple[int, int, int] | None = None
                   ) -> Iterator[tuple[int, np.ndarray]]:
    """``(first sample, samples)`` of a log-mel ``[1, n_mels, T]`` vocoded chunk by chunk,
    each with ``context`` frames on each side (``HiFiGANConfig.context_frames``: any less
    changes the samples, any more is work thrown away). ``chunk``: a fixed size (after
    ``first``), or a :class:`Pacer` that sizes each chunk and is told how long it took.

    ``split``: ``(front context, back context, front samples per frame)`` for a vocoder
    with ``front`` and ``back`` parts (``HiFiGANGenerator``, ``OnnxVocoder``): the front
    runs with both parts' context, its output is cropped to the back's own context, and the
    back (most of the work) runs on that. The samples are the same."""
    n = log_mel.shape[-1]
    clock = chunk.clock if isinstance(chunk, Pacer) else time.perf_counter

    def vocode(s: int, e: int) -> tuple[np.ndarray, list[tuple[int, float]]]:
        out, work = vocode_span(vocoder, log_mel, s, e, hop, context, split, clock)
        return out.float().cpu().numpy(), work

    if not isinstance(chunk, Pacer):
        for s, e, _, _ in chunk_spans(n, chunk, context, first):
            yield s * hop, vocode(s, e)[0]
        return
    s = 0
    while s < n:
        e = min(n, s + chunk.next())
        out, work = vocode(s, e)
        chunk.record(e - s, work)
        yield s * hop, out
        s = e
