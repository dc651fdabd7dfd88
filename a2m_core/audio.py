"""The one audio and mel-spectrogram convention (SPEC §2.1), in numpy and in torch.

Everything that turns sound into a mel or a mel into sound goes through :class:`MelConfig`:
the dataset builder (numpy/librosa), training (torch, possibly on GPU), the vocoders and the
mel view. No other module hard-codes a sample rate, a hop or a band count.

Pipeline (HiFi-GAN's, so its published vocoders fit our mels)::

    wave [N] --reflect pad (n_fft-hop)/2--> STFT(center=False, Hann) --> |X| (+1e-9 inside sqrt)
         --> Slaney mel basis [n_mels, n_fft/2+1] --> log(clamp(., 1e-5))            (log-mel)
         --> affine map to [-1, 1] with constants from the config                (normalised)
         --> pad with the silence floor (-1) or truncate to n_frames

The affine map is fixed (never per-clip statistics) so loudness survives the round trip, and
``log_min = log(clamp_min)`` makes digital silence land exactly on -1.
"""
from __future__ import annotations

import logging
import math
import warnings
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import BadInputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MelConfig:
    """Mel-spectrogram convention. Defaults are the paper's / reference HiFi-GAN's numbers."""

    sample_rate: int = 22050  # Hz, mono (paper)
    n_fft: int = 1024  # STFT size (paper)
    hop_length: int = 256  # samples between frames (paper)
    win_length: int = 1024  # Hann window length (paper)
    n_mels: int = 80  # mel bands (paper)
    fmin: float = 0.0  # lowest mel edge, Hz (ref HiFi-GAN config)
    fmax: float = 8000.0  # highest mel edge, Hz (ref HiFi-GAN config)
    clamp_min: float = 1e-5  # floor before the log (ref HiFi-GAN)
    n_frames: int = 896  # fixed length T, ~10.40 s (paper)
    log_min: float = math.log(1e-5)  # log-mel mapped to -1 (= digital silence)
    log_max: float = 2.5  # log-mel mapped to +1; above it is clipped (measured headroom)
    pad_value: float = -1.0  # normalised value used to pad short clips (silence floor)

    @property
    def n_samples(self) -> int:
        """Samples in a full-length clip (n_frames * hop)."""
        return self.n_frames * self.hop_length

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sample_rate

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown mel config fields: {sorted(unknown)}")
        return cls(**data)


# --------------------------------------------------------------------------- loading audio

def load_audio(
    path: str | Path,
    sample_rate: int,
    offset_s: float = 0.0,
    duration_s: float | None = None,
) -> np.ndarray:
    """Read any audio file libsndfile (wav/flac/ogg/mp3) or librosa can, as mono float32 at
    ``sample_rate``, optionally only ``offset_s .. offset_s+duration_s``.

    Raises:
        BadInputError: the file is missing, unreadable, or holds no samples in that window.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"audio file not found: {path}")
    try:
        import soundfile as sf

        # a Python file object: libsndfile gets no path to encode (names need not be UTF-8)
        with open(path, "rb") as raw, sf.SoundFile(raw) as f:
            native_sr = f.samplerate
            start = int(round(offset_s * native_sr))
            frames = -1 if duration_s is None else int(round(duration_s * native_sr))
            if start:
                f.seek(min(start, f.frames))
            data = f.read(frames=frames, dtype="float32", always_2d=True)
        wave = data.mean(axis=1)
    except Exception as sf_err:  # noqa: BLE001 - fall back to librosa's wider codec support
        try:
            import librosa

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "PySoundFile failed": we already know
                wave, native_sr = librosa.load(
                    str(path), sr=None, mono=True, offset=offset_s, duration=duration_s
                )
        except Exception as lr_err:  # noqa: BLE001
            raise BadInputError(
                f"cannot decode audio file {path}: {sf_err or lr_err}"
            ) from lr_err
    if wave.size == 0:
        raise BadInputError(f"audio file {path} has no samples in the requested window")
    if not np.all(np.isfinite(wave)):
        raise BadInputError(f"audio file {path} contains NaN or infinite samples")
    if native_sr != sample_rate:
        import librosa

        wave = librosa.resample(wave, orig_sr=native_sr, target_sr=sample_rate)
    return np.ascontiguousarray(wave, dtype=np.float32)


# --------------------------------------------------------------------------- mel basis

def mono_at(audio: np.ndarray, rate: int, target_rate: int | None = None) -> np.ndarray:
    """A clip's sound as the mel convention (and the yardsticks) hear it: its channels
    together (``[n, channels]`` -> ``[n]``), at ``target_rate`` (soxr; None: as it is)."""
    wave = np.asarray(audio, np.float32)
    wave = wave.mean(axis=1) if wave.ndim == 2 else wave
    if target_rate and target_rate != rate:
        import soxr

        wave = soxr.resample(wave, rate, target_rate).astype(np.float32)
    return wave


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default, ``htk=False``): linear below 1 kHz, log above."""
    hz = np.asarray(hz, dtype=np.float64)
    log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_part, hz / (200.0 / 3.0))


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)),
                    mel * (200.0 / 3.0))


@lru_cache(maxsize=8)
def _mel_basis_np(cfg: MelConfig) -> np.ndarray:
    """Slaney-normalised triangular filters on Slaney's mel scale, as ``librosa.filters.mel``
    makes them (a test holds the two equal). Written out because importing librosa (and
    numba under it) cost the first streamed clip of a process 1.7 s (measured)."""
    # Keyed on the whole frozen config: HiFi-GAN keyed its cache on fmax alone and so
    # silently reused a wrong basis when other numbers changed.
    fft_hz = np.linspace(0.0, cfg.sample_rate / 2.0, 1 + cfg.n_fft // 2)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(cfg.fmin), _hz_to_mel(cfg.fmax), cfg.n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]  # equal area per filter
    return weights.astype(np.float32)  # [n_mels, n_fft//2+1]


def mel_basis(cfg: MelConfig, device: torch.device | str = "cpu") -> torch.Tensor:
    """Slaney-normalised mel filterbank ``[n_mels, n_fft//2+1]`` as a torch tensor."""
    return torch.from_numpy(_mel_basis_np(cfg)).to(device)


def _pad_amount(cfg: MelConfig) -> int:
    return (cfg.n_fft - cfg.hop_length) // 2


# --------------------------------------------------------------------------- wave -> log mel

def log_mel_numpy(wave: np.ndarray, cfg: MelConfig) -> np.ndarray:
    """Log-mel ``[n_mels, frames]`` (float32) of a mono wave, the dataset-building path."""
    import librosa

    wave = np.asarray(wave, dtype=np.float32)
    pad = _pad_amount(cfg)
    if wave.shape[-1] <= pad:  # reflect padding needs more samples than the pad
        wave = np.pad(wave, (0, pad + 1 - wave.shape[-1]))
    padded = np.pad(wave, (pad, pad), mode="reflect")
    spec = librosa.stft(
        padded,
        n_fft=cfg.n_fft,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        window="hann",
        center=False,
    )
    mag = np.sqrt(spec.real.astype(np.float64) ** 2 + spec.imag.astype(np.float64) ** 2 + 1e-9)
    mel = _mel_basis_np(cfg).astype(np.float64) @ mag
    return np.log(np.maximum(mel, cfg.clamp_min)).astype(np.float32)


def log_mel_torch(wave: torch.Tensor, cfg: MelConfig) -> torch.Tensor:
    """Log-mel ``[..., n_mels, frames]`` of waves ``[..., N]``, the training path (any device)."""
    squeeze = wave.dim() == 1
    x = wave.unsqueeze(0) if squeeze else wave  # [B, N]
    pad = _pad_amount(cfg)
    if x.shape[-1] <= pad:
        x = torch.nn.functional.pad(x, (0, pad + 1 - x.shape[-1]))
    x = torch.nn.functional.pad(x.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    window = torch.hann_window(cfg.win_length, device=x.device, dtype=x.dtype)
    spec = torch.stft(
        x,
        n_fft=cfg.n_fft,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        window=window,
        center=False,
        return_complex=True,
    )  # [B, F, frames]
    mag = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-9)
    mel = torch.matmul(mel_basis(cfg, x.device).to(mag.dtype), mag)  # [B, n_mels, frames]
    out = torch.log(torch.clamp(mel, min=cfg.clamp_min))
    return out.squeeze(0) if squeeze else out


# --------------------------------------------------------------------------- normalisation

def normalize(log_mel: Any, cfg: MelConfig, clip: bool = True) -> Any:
    """Fixed affine map log-mel -> [-1, 1] (numpy or torch). Values above ``log_max`` clip."""
    scale = 2.0 / (cfg.log_max - cfg.log_min)
    out = (log_mel - cfg.log_min) * scale - 1.0
    if clip:
        out = out.clip(-1.0, 1.0) if isinstance(out, np.ndarray) else out.clamp(-1.0, 1.0)
    return out


def denormalize(norm_mel: Any, cfg: MelConfig) -> Any:
    """Exact inverse of :func:`normalize` (for values inside [-1, 1])."""
    scale = (cfg.log_max - cfg.log_min) / 2.0
    return (norm_mel + 1.0) * scale + cfg.log_min


def fix_length(mel: Any, cfg: MelConfig) -> Any:
    """Pad (with ``cfg.pad_value``) or truncate the last axis of a normalised mel to T."""
    frames = mel.shape[-1]
    if frames == cfg.n_frames:
        return mel
    if frames > cfg.n_frames:
        return mel[..., : cfg.n_frames]
    if isinstance(mel, np.ndarray):
        pad = np.full(mel.shape[:-1] + (cfg.n_frames - frames,), cfg.pad_value, mel.dtype)
        return np.concatenate([mel, pad], axis=-1)
    return torch.nn.functional.pad(mel, (0, cfg.n_frames - frames), value=cfg.pad_value)


def wave_to_mel(wave: np.ndarray, cfg: MelConfig) -> np.ndarray:
    """Mono wave -> normalised, fixed-length mel ``[n_mels, n_frames]`` (numpy path)."""
    wave = np.asarray(wave, dtype=np.float32)[: cfg.n_samples]
    return fix_length(normalize(log_mel_numpy(wave, cfg), cfg), cfg).astype(np.float32)


def wave_to_mel_torch(wave: torch.Tensor, cfg: MelConfig) -> torch.Tensor:
    """Waves ``[..., N]`` -> normalised, fixed-length mels ``[..., n_mels, n_frames]`` (torch)."""
    return fix_length(normalize(log_mel_torch(wave[..., : cfg.n_samples], cfg), cfg), cfg)


# --------------------------------------------------------------------------- Griffin-Lim

def griffin_lim(
    norm_mel: torch.Tensor | np.ndarray,
    cfg: MelConfig,
    n_iter: int = 32,
    momentum: float = 0.99,
    seed: int = 0,
) -> np.ndarray:
    """The no-weights fallback vocoder: normalised mel ``[n_mels, T]`` -> wave ``[T*hop]``.

    Fast Griffin-Lim (Perraudin et al., momentum 0.99) in torch, so it stays off librosa's
    numba warm-up. The random initial phase is seeded: same mel, same audio.
    """
    mel = torch.as_tensor(np.asarray(norm_mel), dtype=torch.float32)
    if mel.dim() != 2 or mel.shape[0] != cfg.n_mels:
        raise ValueError(f"griffin_lim expects a mel [{cfg.n_mels}, T], got {list(mel.shape)}")
    mel_mag = torch.exp(denormalize(mel.clamp(-1.0, 1.0), cfg))  # [n_mels, T]
    inv = torch.linalg.pinv(mel_basis(cfg))  # [F, n_mels]
    mag = torch.clamp(inv @ mel_mag, min=0.0)  # [F, T]
    # Frames that are pure silence floor reconstruct to tiny noise, not to zero: zero them.
    mag[:, (mel <= -0.999).all(dim=0)] = 0.0
    window = torch.hann_window(cfg.win_length)
    length = mel.shape[1] * cfg.hop_length
    stft_kw = dict(n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
                   window=window)
    gen = torch.Generator().manual_seed(seed)
    angles = torch.exp(2j * math.pi * torch.rand(mag.shape, generator=gen))
    prev = torch.zeros_like(angles)
    target_frames = mag.shape[1]
    for _ in range(n_iter):
        wave = torch.istft(mag * angles, length=length, **stft_kw)
        rebuilt = torch.stft(wave, return_complex=True, **stft_kw)[:, :target_frames]
        accel = rebuilt - (momentum / (1 + momentum)) * prev
        prev = rebuilt
        angles = accel / accel.abs().clamp(min=1e-8)
    wave = torch.istft(mag * angles, length=length, **stft_kw)
    return wave.numpy().astype(np.float32)
