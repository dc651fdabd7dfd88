"""VGGish audio embeddings for FAD, from a local weights file (no download).

Architecture and preprocessing follow the original VGGish release (16 kHz; 25 ms Hann
frames every 10 ms, 512-point FFT; 64 HTK mel bands 125-7500 Hz; log(mel + 0.01); 0.96 s
examples of 96 frames; six 3x3 conv layers with four max-pools; 4096-4096-128 fully
connected). Parameter names are those of the widely used PyTorch port (``features.N.*``,
``embeddings.N.*``), so its ``vggish-10086976.pth`` loads with ``weights_only=True``. The PCA
post-processing is not applied (the FAD reference uses the raw 128-d embedding layer).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

SAMPLE_RATE = 16000
WINDOW, HOP, FFT = 400, 160, 512
N_MELS, FMIN, FMAX = 64, 125.0, 7500.0
EXAMPLE_FRAMES = 96


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log(1.0 + f / 700.0)


def mel_matrix() -> np.ndarray:
    """``[FFT/2+1, 64]`` HTK triangular weights, as VGGish builds them."""
    bins_mel = _hz_to_mel(np.linspace(0.0, SAMPLE_RATE / 2, FFT // 2 + 1))
    edges = np.linspace(_hz_to_mel(np.array(FMIN)), _hz_to_mel(np.array(FMAX)), N_MELS + 2)
    weights = np.empty((FFT // 2 + 1, N_MELS))
    for i in range(N_MELS):
        lo, center, hi = edges[i : i + 3]
        weights[:, i] = np.maximum(0.0, np.minimum((bins_mel - lo) / (center - lo),
                                                   (hi - bins_mel) / (hi - center)))
    weights[0, :] = 0.0
    return weights


def examples(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono wave -> VGGish input examples ``[n, 96, 64]`` (log mel)."""
    import librosa

    if sample_rate != SAMPLE_RATE:
        wave = librosa.resample(np.asarray(wave, np.float32), orig_sr=sample_rate,
                                target_sr=SAMPLE_RATE)
    wave = np.asarray(wave, np.float64)
    if len(wave) < WINDOW:
        wave = np.pad(wave, (0, WINDOW - len(wave)))
    n_frames = 1 + (len(wave) - WINDOW) // HOP
    idx = np.arange(WINDOW)[None, :] + HOP * np.arange(n_frames)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / WINDOW)  # periodic Hann
    spec = np.abs(np.fft.rfft(wave[idx] * window, FFT))
    log_mel = np.log(spec @ mel_matrix() + 0.01)  # [frames, 64]
    n = max(1, len(log_mel) // EXAMPLE_FRAMES)
    if len(log_mel) < EXAMPLE_FRAMES:
        log_mel = np.pad(log_mel, ((0, EXAMPLE_FRAMES - len(log_mel)), (0, 0)),
                         constant_values=np.log(0.01))
    return log_mel[: n * EXAMPLE_FRAMES].reshape(n, EXAMPLE_FRAMES, N_MELS).astype(np.float32)


class VGGish(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 1
        for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M"):
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(in_ch, int(v), 3, padding=1), nn.ReLU(inplace=True)]
                in_ch = int(v)
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 4 * 6, 4096), nn.ReLU(True), nn.Linear(4096, 4096), nn.ReLU(True),
            nn.Linear(4096, 128), nn.ReLU(True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x [N, 1, 96, 64] -> [N, 512, 6, 4]; the port flattens in (6, 4, 512) order
        x = self.features(x)
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
        return self.embeddings(x)


class VGGishEmbedding:
    """Per-0.96 s VGGish embeddings ``[n_i, 128]`` for each clip."""

    name = "VGGish"
    label = "VGGish"
    comparable_to_paper = True

    def __init__(self, weights: str | Path, device: str = "cpu") -> None:
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"VGGish weights not found: {path} (the PyTorch port's "
                                    f"vggish-10086976.pth)")
        self.model = VGGish()
        from a2m_core.errors import BundleError
        from a2m_core.reference import load_torch_file

        state = load_torch_file(path)
        if not isinstance(state, dict):
            raise BundleError(f"{path} is not a VGGish state dict")
        state = {k: v for k, v in state.items() if not k.startswith("pproc")}
        try:
            self.model.load_state_dict(state)
        except RuntimeError as err:
            raise BundleError(f"{path} does not fit VGGish: "
                              f"{str(err).splitlines()[0]}") from err
        self.model.eval().to(device)
        self.device = device

    @torch.no_grad()
    def __call__(self, waves: list[np.ndarray], sample_rate: int) -> list[np.ndarray]:
        out = []
        for w in waves:
            x = torch.from_numpy(examples(w, sample_rate)).unsqueeze(1).to(self.device)
            out.append(self.model(x).cpu().numpy())
        return out
