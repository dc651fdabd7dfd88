"""The mel voice: fused vectors -> a mel (BiLSTM decoder, performance latent, detail flow)
-> sound (HiFi-GAN or Griffin-Lim), one-shot or streamed."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch

from ..audio import MelConfig
from ..bundle import GenerationConfig
from ..clip import Clip, StreamChunk
from ..voice import CancelCheck, Encoded, Stage, generators
from .acceleration import RuntimeOptions
from .assembly import vocoder_runner
from .decoder import MelDecoder
from .hifigan import HiFiGANGenerator
from .streaming import Pacing
from .vocoding import Vocoder

# Rough share of a CPU generation spent before each stage starts (for one progress bar).
STAGE_START = {"mel": 0.25, "vocoder": 0.55, "finish": 0.95}


class MelVoice:
    """A mel bundle's decoder and vocoder on one device."""

    def __init__(self, decoder: MelDecoder, vocoder: HiFiGANGenerator | None,
                 mel_config: MelConfig, griffin_lim_iters: int, device: torch.device,
                 runtime: RuntimeOptions, dtypes: dict[str, torch.dtype | None]) -> None:
        self.decoder = decoder.to(device)
        self.device, self.mel_config, self.dtypes = device, mel_config, dtypes
        runner = None if vocoder is None else vocoder_runner(
            vocoder.to(device), runtime, device, mel_config.n_mels, dtypes["vocoder"])
        self.vocoding = Vocoder(vocoder, runner, mel_config, griffin_lim_iters, device)
        self.sample_rate = mel_config.sample_rate  # the sound's: the mel convention's

    @property
    def name(self) -> str:
        return self.vocoding.name

    def _autocast(self) -> torch.autocast:
        dtype = self.dtypes["decoder"]
        return torch.autocast(self.device.type, dtype=dtype or torch.float32,
                              enabled=dtype is not None)

    # ------------------------------------------------------------------ the mel
    def vary(self, fused: torch.Tensor, seeds: Sequence[int | None], variation: float
             ) -> torch.Tensor:
        """Seeded noise on each fused vector (``variation`` times its RMS); a row without a
        seed keeps the paper's deterministic vector."""
        fused = fused.to(self.device)
        if variation > 0:
            for i, seed in enumerate(seeds):
                if seed is None:
                    continue
                gen = torch.Generator().manual_seed(int(seed))
                noise = torch.randn(fused.shape[1], generator=gen).to(self.device)
                rms = fused[i].pow(2).mean().sqrt()
                fused[i] = fused[i] + variation * rms * noise
        return fused

    def decode(self, fused: torch.Tensor, latents: torch.Tensor | None = None,
               gens: list[torch.Generator] | None = None) -> torch.Tensor:
        """Fused ``[B, hidden]`` (+ latents) -> normalised mel ``[B, n_mels, T]`` in [-1, 1].
        Without latents a latent decoder gives its average rendition; a detail flow draws
        its noise from ``gens`` (None: its zero-noise answer)."""
        return self.decoder.render(fused, latents, gens).transpose(1, 2).clamp(-1.0, 1.0)

    def mels(self, batch: Encoded, gen: GenerationConfig, average: bool = False
             ) -> torch.Tensor:
        """The batch's normalised mels ``[B, n_mels, T]``. The performance latent is drawn
        from each clip's seed, else its painting alone: one painting keeps its performance,
        so two comments on it differ by what the comment asks. ``average``: each row's
        average rendition (no draw at all)."""
        with self._autocast():
            fused = self.vary(batch.fused, batch.seeds, gen.variation)
            if average:
                return self.decode(fused).float()
            gens = generators(batch.seeds, batch.keys)
            latents = None
            if self.decoder.cfg.latent_dim:
                temps = [gen.latent_temperature if v is None else v for v in batch.variations]
                latents = torch.cat([self.decoder.sample_latents(fused[i:i + 1], [g], t)
                                     for i, (g, t) in enumerate(zip(gens, temps))]) \
                    if len(set(temps)) > 1 else self.decoder.sample_latents(fused, gens, temps[0])
            return self.decode(fused, latents, gens).float()

    # ------------------------------------------------------------------ sound
    def clips(self, batch: Encoded, gen: GenerationConfig, stage: Stage | None,
              on_mel: Callable[[np.ndarray], None] | None, cancel: CancelCheck,
              timings: dict[str, float], average: bool = False) -> list[Clip]:
        t = stage("mel", STAGE_START["mel"]) if stage else time.perf_counter()
        mels = self.mels(batch, gen, average)
        mels_np = mels.cpu().numpy()
        timings["mel"] = time.perf_counter() - t
        if on_mel:
            for m in mels_np:
                on_mel(m)
        t = stage("vocoder", STAGE_START["vocoder"]) if stage else time.perf_counter()
        audios = self.vocoding.finished(mels, mels_np, batch.seeds, gen, cancel)
        timings["vocoder"] = time.perf_counter() - t
        t = stage("finish", STAGE_START["finish"]) if stage else time.perf_counter()
        clips = [Clip(audio=audios[i], sample_rate=self.mel_config.sample_rate,
                      mel=mels_np[i], prompt=batch.prompts[i], comment=batch.comments[i],
                      seed=batch.seeds[i], bundle_name="") for i in range(len(batch))]
        timings["finish"] = time.perf_counter() - t
        return clips

    def stream(self, batch: Encoded, gen: GenerationConfig, stage: Stage,
               cancel: CancelCheck, pacing: Pacing | None,
               timings: dict[str, float]) -> Iterator[StreamChunk]:
        """One clip in chunks as the vocoder makes them (``Art2Music.generate_stream``)."""
        t = stage("mel", STAGE_START["mel"])
        mel = self.mels(batch, gen)[0]
        mel_np = mel.cpu().numpy()
        timings["mel"] = time.perf_counter() - t
        t = stage("vocoder", STAGE_START["vocoder"])
        finish = self.vocoding.finisher(mel_np, gen)
        total, parts, first = finish.total, [], True
        seed = batch.seeds[0]
        for start, wave in self.vocoding.pieces(mel, seed, self.vocoding.pacer(pacing)):
            out = finish(start, wave)
            parts.append(out)
            end = start + out.size
            if end >= total:
                timings["vocoder"] = time.perf_counter() - t
                timings["finish"] = 0.0  # done chunk by chunk, inside the vocoder's time
                clip = Clip(audio=np.concatenate(parts), sample_rate=self.mel_config.sample_rate,
                            mel=mel_np, prompt=batch.prompts[0], comment=batch.comments[0],
                            seed=seed)
                yield StreamChunk(out, start, total, mel_np if first else None, clip)
                return
            yield StreamChunk(out, start, total, mel_np if first else None)
            first = False
            stage("vocoder", STAGE_START["vocoder"] + (STAGE_START["finish"]
                  - STAGE_START["vocoder"]) * end / total)
