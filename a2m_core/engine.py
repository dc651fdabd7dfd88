"""The engine: one object that turns a painting and a comment into a clip.

    engine = Art2Music.load()                     # default bundle, best device
    clip = engine.generate("starry.jpg", "the swirling sky feels alive", seed=3)
    clip.save("starry.wav")

Stages: ``encode`` (image + composite text) -> ``mel`` (projector + BiLSTM decoder) ->
``vocoder`` (HiFi-GAN or Griffin-Lim) -> ``finish`` (loudness, peak ceiling, fades). A notes
bundle plays the fused vector instead (``notes/player.py``: plan -> notes -> sampler), and
its mel is the mel of that sound.

Concurrency model: one engine may be shared by any number of threads (the desktop app's
worker, the OSC bridge's worker, a script). ``generate`` calls are serialised by an internal
lock: the models are not re-entrant and on CPU they already use every core, so running two
at once would only make both slower. Callers that must stay responsive call ``generate`` from
a worker thread; progress and ``on_mel`` callbacks run on that calling thread. Cancellation
is checked at stage boundaries.
"""
from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Union

import numpy as np
import torch
from PIL import Image

from . import postprocess
from .acceleration import RuntimeOptions
from .assembly import (
    Autocast,
    check_precision,
    embedding_cache,
    resolve_device,
    vocoder_runner,
)
from .audio import MelConfig, denormalize, griffin_lim
from .bundle import Bundle, BundleConfig, VocoderConfig, load_bundle
from .clip import Clip, GenerationRequest, StreamChunk, chunked
from .encoders import ClipEncoder, ImageInput, load_image
from .errors import A2MError, BadInputError, GenerationCancelled
from .notes.plan import Pins
from .prompt import MusicHints, build_prompt, check_user_text
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

Progress = Callable[[str, float], None]  # (stage, overall fraction 0..1)
CancelCheck = Union[threading.Event, Callable[[], bool], None]
STAGES = ("encode", "mel", "vocoder", "finish")
# Rough share of a CPU generation spent before each stage starts (for one progress bar).
# Frames vocoded between two cancel checks: ~1 s of work on a 2-core CPU.
VOCODE_SPAN = 160
_STAGE_START = {"encode": 0.0, "mel": 0.25, "vocoder": 0.55, "finish": 0.95}


def _stage_clock(progress: Progress | None, cancel: CancelCheck
                 ) -> Callable[..., float]:
    """``stage(name, fraction=None)``: check cancel, report progress, return the time."""

    def stage(name: str, fraction: float | None = None) -> float:
        if _cancelled(cancel):
            raise GenerationCancelled(f"generation cancelled at the {name} stage")
        if progress:
            progress(name, _STAGE_START[name] if fraction is None else fraction)
        return time.perf_counter()

    return stage


def _cancelled(cancel: CancelCheck) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def painting_keys(images: Sequence[Image.Image]) -> list[bytes]:
    """What an unseeded draw is seeded by: each painting's decoded pixels (their sha256).

    Not its embedding's bytes: those differ in the last bits between CPUs (AVX2 and AVX-512
    kernels) and runtimes (int8, bf16), so the same painting and comment would draw another
    performance on another machine (measured with embedding keys: band std 5.28 dB on an
    AVX2 host, 5.94 on an AVX-512 one, same bundle)."""
    from .encoders import image_key

    return [image_key(im).encode() for im in images]


class Art2Music:
    """A loaded model bundle ready to generate. Create with :meth:`load`."""

    def __init__(self, bundle: Bundle, device: str | None = "auto",
                 vocoder: str | None = None, runtime: RuntimeOptions | None = None) -> None:
        if vocoder not in (None, "auto", "bundle", "griffin-lim"):
            raise BadInputError(f"unknown vocoder '{vocoder}': use bundle (the bundle's own) "
                                f"or griffin-lim (fast, phasey)")
        if vocoder == "griffin-lim" and bundle.config.is_notes:
            log.info("a notes bundle plays through its SoundFont sampler: vocoder "
                     "'griffin-lim' does not apply")
            vocoder = None
        if vocoder == "griffin-lim" and bundle.config.vocoder.kind != "griffin-lim":
            # The explicit fast choice: skip loading the neural vocoder altogether.
            cfg = replace(bundle.config, vocoder=VocoderConfig(
                kind="griffin-lim", hifigan=None,
                griffin_lim_iters=bundle.config.vocoder.griffin_lim_iters))
            bundle = Bundle(cfg, {k: v for k, v in bundle.tensors.items()
                                  if not k.startswith("vocoder.")}, bundle.path)
        self.bundle = bundle
        self.config: BundleConfig = bundle.config
        self.device = resolve_device(device)
        self.runtime = runtime or RuntimeOptions()
        on_cpu = self.device.type == "cpu"
        check_precision(self.runtime, self.device)
        if self.runtime.threads:
            torch.set_num_threads(self.runtime.threads)
        mods = bundle.modules()
        self.projector = mods.projector.to(self.device)
        self.decoder = mods.decoder.to(self.device) if mods.decoder is not None else None
        self.vocoder = mods.vocoder.to(self.device) if mods.vocoder is not None else None
        # notes bundles: plan + notes + sampler instead of the mel decoder and vocoder (the
        # note model samples token by token: it stays on the CPU, where a step is cheapest)
        self.player = None
        if bundle.config.is_notes:
            from .notes.player import NotePlayer

            assert mods.notes_head is not None and mods.notes_model is not None
            assert bundle.config.notes is not None and bundle.config.sampler is not None
            self.projector = self.projector.cpu()
            self.player = NotePlayer(mods.notes_head, mods.notes_model, bundle.config.notes,
                                     bundle.config.sampler, bundle.config.mel)
        enc_state = bundle.part("encoder") if self.config.encoder.weights_in_bundle else None
        self.encoder = ClipEncoder(self.config.encoder, str(self.device), state_dict=enc_state)
        # int8 applies to OpenCLIP towers only; where it applies, its embeddings (a little
        # different from float ones) get their own persistent cache.
        int8 = self.runtime.wants_int8(on_cpu) and self.encoder.model is not None
        if int8:
            from .acceleration import quantize_openclip_int8

            quantize_openclip_int8(self.encoder.model)
        # autocast per stage (RuntimeOptions.stage_dtype: "auto" is the bf16 decoder on CPUs
        # with native bf16); reduced-precision embeddings differ a little: their own cache
        self._dtypes = {stage: self.runtime.stage_dtype(stage, self.device.type, int8)
                        for stage in ("encoder", "decoder", "vocoder")}
        self.encoder.disk_cache = embedding_cache(bundle, enc_state is not None, int8,
                                                  self._dtypes["encoder"])
        # What turns a log-mel into samples (assembly.vocoder_runner).
        self._vocoder_fn: Callable[[torch.Tensor], torch.Tensor] | None = None
        if self.vocoder is not None:
            self._vocoder_fn = vocoder_runner(self.vocoder, self.runtime, self.device,
                                              self.mel_config.n_mels, self._dtypes["vocoder"])
        self._lock = threading.RLock()
        # seconds of vocoder work per mel frame for each of its parts, measured on the last
        # whole clip: a stream's first chunk is sized from them (streaming.Pacer), later
        # chunks from the stream's own. Not from streamed chunks: ONNX Runtime runs ~60 %
        # slower a frame on 44 frames than on 896, and streams closed after their first
        # chunk then grew the next stream's first chunk to 1.5-1.9 s of first sound.
        self._vocoder_rates: tuple[float, ...] | None = None
        import pyloudnorm  # noqa: F401 - warm: its first import costs ~0.6 s of the first clip
        log.info("loaded bundle %s on %s", self.config.name, self.device)

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(cls, bundle: str | Path | Bundle | None = None, device: str | None = "auto",
             vocoder: str | None = None, runtime: RuntimeOptions | None = None) -> Art2Music:
        """Load a bundle file, an installed model by name (``"starter"``, ``"paper"``; see
        ``a2m models``), or the default bundle when None, onto a device.

        ``vocoder="griffin-lim"`` swaps the bundle's neural vocoder for the fast Griffin-Lim
        fallback (no vocoder weights are loaded); None keeps the bundle's own. ``runtime``
        picks faster ways to run the same weights (``acceleration.RuntimeOptions``: ONNX
        Runtime for the vocoder, int8 encoder, threads).

        Raises:
            ModelLoadError: the bundle or the encoder weights can't be loaded.
            BadInputError: the device is unknown or unavailable.
        """
        if not isinstance(bundle, Bundle):
            from .defaults import resolve

            bundle = load_bundle(resolve(bundle))
        return cls(bundle, device, vocoder, runtime)

    # ------------------------------------------------------------------ properties
    @property
    def sample_rate(self) -> int:
        return self.config.mel.sample_rate

    @property
    def mel_config(self) -> MelConfig:
        return self.config.mel

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def vocoder_name(self) -> str:
        """Which vocoder makes the sound: "HiFi-GAN" (", ONNX Runtime" when it runs there)
        or "Griffin-Lim"."""
        if self.player is not None:
            return "SoundFont sampler"
        if self.vocoder is None:
            return "Griffin-Lim"
        if isinstance(self._vocoder_fn, Autocast):
            return f"HiFi-GAN, {str(self._vocoder_fn.dtype).removeprefix('torch.')}"
        return "HiFi-GAN" if self._vocoder_fn is self.vocoder else "HiFi-GAN, ONNX Runtime"

    def _autocast(self, stage: str) -> torch.autocast:
        """The runtime's autocast for one stage ("encoder", "decoder"; a no-op at fp32)."""
        dtype = self._dtypes[stage]
        return torch.autocast(self.device.type, dtype=dtype or torch.float32,
                              enabled=dtype is not None)

    # ------------------------------------------------------------------ stages
    def fuse(self, image_feat: torch.Tensor, text_feat: torch.Tensor,
             seeds: Sequence[int | None], variation: float) -> torch.Tensor:
        """Projector + seeded variation: ``[B, D]`` x2 -> fused ``[B, hidden]``."""
        fused = self.projector(text_feat.to(self.device), image_feat.to(self.device))
        if variation > 0:
            for i, seed in enumerate(seeds):
                if seed is None:
                    continue  # no seed: the paper's deterministic output
                gen = torch.Generator().manual_seed(int(seed))
                noise = torch.randn(fused.shape[1], generator=gen).to(self.device)
                rms = fused[i].pow(2).mean().sqrt()
                fused[i] = fused[i] + variation * rms * noise
        return fused

    @staticmethod
    def _generators(seeds: Sequence[int | None], keys: Sequence[bytes]
                    ) -> list[torch.Generator]:
        """One generator per clip: its seed, else its painting's key (``painting_keys``: the
        painting's pixels), so the same painting and comment give the same clip on any
        machine and runtime. The latent draw and then the detail flow's noise come from it,
        in that order."""
        gens = []
        for seed, key in zip(seeds, keys):
            if seed is None:
                seed = int.from_bytes(hashlib.sha256(key).digest()[:8], "little")
            gens.append(torch.Generator().manual_seed(int(seed)))
        return gens

    def _draw_latents(self, fused: torch.Tensor, gens: list[torch.Generator]
                      ) -> torch.Tensor | None:
        """The decoder's performance latents ``[B, latent_dim]`` (None when it has none)."""
        if not self.decoder.cfg.latent_dim:
            return None
        return self.decoder.sample_latents(fused, gens,
                                           self.config.generation.latent_temperature)

    def truncation_note(self, prompt: str) -> str | None:
        """A sentence for the user when the text encoder will read only part of a composite
        prompt (``Clip.prompt``); None when all of it is read."""
        need, limit = self.encoder.text_capacity(prompt)
        if need <= limit:
            return None
        return (f"the text encoder reads the first {limit} tokens of the prompt and this one "
                f"has {need}: the end of the comment (and hints after it) is not heard")

    def decode_mel(self, fused: torch.Tensor, latents: torch.Tensor | None = None,
                   generators: list[torch.Generator] | None = None) -> torch.Tensor:
        """Fused ``[B, hidden]`` (+ latents) -> normalised mel ``[B, n_mels, T]`` in [-1, 1].
        Without latents a latent decoder gives its average rendition; a detail flow draws
        its noise from ``generators`` (None: its zero-noise answer)."""
        return self.decoder.render(fused, latents, generators).transpose(1, 2).clamp(-1.0, 1.0)

    @torch.inference_mode()
    def _vocoded(self, mel: torch.Tensor, seed: int | None, span: int | Pacer | None,
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
                                 n_iter=self.config.vocoder.griffin_lim_iters, seed=seed or 0)
            return
        log_mel = denormalize(mel, self.mel_config).unsqueeze(0)  # [1, n_mels, T]
        assert self._vocoder_fn is not None
        hop, ctx = self.mel_config.hop_length, self.vocoder.cfg.context_frames
        if isinstance(span, Pacer):
            yield from stream_hifigan(self._vocoder_fn, log_mel, hop, span, ctx,
                                      split=self._vocoder_split())
            return
        n = log_mel.shape[-1]
        work: list[tuple[int, float]] = []
        for s, e, _, _ in chunk_spans(n, span or n, ctx):
            if _cancelled(cancel):
                raise GenerationCancelled("generation cancelled at the vocoder stage")
            wave, part_work = vocode_span(self._vocoder_fn, log_mel, s, e, hop, ctx,
                                          self._vocoder_split())
            # timed per part: a stream's first chunk is sized from these (streaming.Pacer)
            work = part_work if not work else [(a + c, b + d) for (a, b), (c, d)
                                               in zip(work, part_work)]
            self._vocoder_rates = tuple(sec / max(1, frames) for frames, sec in work)
            yield s * hop, wave.float().cpu().numpy()

    def vocode(self, mel: torch.Tensor, seed: int | None = None) -> np.ndarray:
        """Normalised mel ``[n_mels, T]`` -> raw wave ``[T * hop]`` (before level and fades)."""
        return np.concatenate([w for _, w in self._vocoded(mel, seed, None)])

    @torch.inference_mode()
    def _vocode_and_finish(self, mels: torch.Tensor, mels_np: np.ndarray,
                           seeds: Sequence[int | None], target: float | None,
                           cancel: CancelCheck) -> list[np.ndarray]:
        """Finished clips for mels ``[B, n_mels, T]``, through the streams' finisher: one
        batched vocoder call on a GPU (where a batch is what pays), one clip at a time
        elsewhere, in cancellable spans when there is a ``cancel`` (they cost ~12 %: 6.3 s
        against 5.6 s for the mel starter, 2-core x86_64, 2026-12-04)."""
        if self.vocoder is not None and self.device.type != "cpu" and len(mels) > 1:
            assert self._vocoder_fn is not None
            waves = self._vocoder_fn(denormalize(mels, self.mel_config)).float().cpu().numpy()
            return [self._finisher(mels_np[i], target)(0, w.reshape(-1))
                    for i, w in enumerate(waves)]
        span = VOCODE_SPAN if cancel is not None else None
        out = []
        for i in range(len(mels)):
            finish = self._finisher(mels_np[i], target)
            out.append(np.concatenate([finish(s, w) for s, w in
                                       self._vocoded(mels[i], seeds[i], span, cancel)]))
        return out

    def _finisher(self, mel: np.ndarray, target: float | None) -> postprocess.ChunkFinisher:
        """The one finisher of a mel bundle's clip, one-shot or streamed: the gain that
        brings the loudness the mel predicts to ``target`` (None: none), then fades and the
        soft ceiling (``postprocess.ChunkFinisher``)."""
        gain = 1.0
        if target is not None:
            level = loudness_from_mel(mel, self.mel_config)
            if math.isfinite(level) and level > postprocess.SILENCE_LUFS:
                gain = 10.0 ** ((target - level) / 20.0)
            else:
                log.info("clip is silent (%.1f LUFS); loudness left unchanged", level)
        gen_cfg = self.config.generation
        return postprocess.ChunkFinisher(mel.shape[-1] * self.mel_config.hop_length,
                                         self.sample_rate, gain, gen_cfg.peak_dbfs,
                                         gen_cfg.fade_ms)

    def _vocoder_split(self) -> tuple[int, int, int] | None:
        """``(front context, back context, front samples per frame)`` when the vocoder
        runs as HiFi-GAN's two parts (streaming gives each its own context), else None."""
        if self.vocoder is None or not hasattr(self._vocoder_fn, "front"):
            return None
        cfg = self.vocoder.cfg
        return (*cfg.split_context_frames, cfg.upsample_rates[0])

    # ------------------------------------------------------------------ streaming
    def generate_stream(
        self,
        image: ImageInput,
        comment: str,
        hints: MusicHints | str | None = None,
        seed: int | None = None,
        emotion: str | None = None,
        progress: Progress | None = None,
        cancel: CancelCheck = None,
        variation: float | None = None,
        loudness_lufs: float | None | str = "bundle",
        pacing: Pacing | None = None,
        pins: Pins | None = None,
    ) -> Iterator[StreamChunk]:
        """Like :meth:`generate`, but yields the audio in chunks as the vocoder makes them.

        The first chunk is ready after the encoders, the decoder and one short vocoder chunk
        (sized by ``streaming.Pacer`` from the vocoder's measured speed: as short as lets
        the next chunk be made while it plays: 16 of 896 frames on our 2-core CPU, with
        HiFi-GAN's later stages given only their own context; later chunks grow to 256
        frames as the sound made runs ahead; ``pacing`` changes those bounds); it carries
        the whole mel, the last one the
        whole :class:`Clip`. It is the clip :meth:`generate` makes, in pieces: the same
        samples, the same level (set from the loudness the mel predicts, before the wave
        exists; ``postprocess.ChunkFinisher``). The engine's lock is held until the
        generator finishes or is closed.

        Raises:
            BadInputError, GenerationCancelled: as :meth:`generate` (cancel is checked between
            chunks too).
        """
        gen_cfg = self.config.generation
        variation = gen_cfg.variation if variation is None else variation
        target = gen_cfg.loudness_lufs if loudness_lufs == "bundle" else loudness_lufs
        request = GenerationRequest(image, comment, hints, seed, emotion, pins)
        prompts, images = self._prepare([request])
        stage = _stage_clock(progress, cancel)
        if self.player is not None:
            # the sampler plays a whole clip in ~0.03 s: the stream is the finished clip in
            # chunks, so its level and samples equal generate()'s exactly
            clip = self._generate_notes([request], prompts, images, stage, None, target,
                                        progress)[0]
            yield from chunked(clip, int(self.sample_rate * 0.5))
            return

        with self._lock, torch.inference_mode():
            timings: dict[str, float] = {}
            mel = self._encode_and_decode(images, prompts, [seed], variation, stage,
                                          timings)[0]
            mel_np = mel.float().cpu().numpy()

            t = stage("vocoder")
            finish = self._finisher(mel_np, target)
            hop = self.mel_config.hop_length
            total = finish.total
            pacer = None
            if self.vocoder is not None:
                pacer = Pacer(pacing or Pacing(), hop / self.sample_rate,
                              part_contexts(self.vocoder.cfg.context_frames,
                                            self._vocoder_split()),
                              rates=self._vocoder_rates)
            parts, first = [], True
            for start, wave in self._vocoded(mel, seed, pacer):
                out = finish(start, wave)
                parts.append(out)
                end = start + out.size
                if end >= total:
                    timings["vocoder"] = time.perf_counter() - t
                    timings["finish"] = 0.0  # done chunk by chunk, inside the vocoder's time
                    audio = np.concatenate(parts)
                    clip = Clip(audio=audio, sample_rate=self.sample_rate, mel=mel_np,
                                prompt=prompts[0], comment=comment, seed=seed,
                                timings=timings, bundle_name=self.name)
                    if progress:
                        progress("done", 1.0)
                    yield StreamChunk(out, start, total, mel_np if first else None, clip)
                    return
                yield StreamChunk(out, start, total, mel_np if first else None)
                first = False
                stage("vocoder", _STAGE_START["vocoder"] + (_STAGE_START["finish"]
                      - _STAGE_START["vocoder"]) * end / total)

    # ------------------------------------------------------------------ generation
    @torch.inference_mode()
    def generate(
        self,
        image: ImageInput,
        comment: str,
        hints: MusicHints | str | None = None,
        seed: int | None = None,
        emotion: str | None = None,
        progress: Progress | None = None,
        cancel: CancelCheck = None,
        on_mel: Callable[[np.ndarray], None] | None = None,
        variation: float | None = None,
        loudness_lufs: float | None | str = "bundle",
        pins: Pins | None = None,
    ) -> Clip:
        """Generate one ~10.4 s clip.

        Args:
            image: painting as a path, PIL image or HxWxC array.
            comment: the viewer's comment (must not be empty).
            hints: optional music hints (``MusicHints`` or ``"Jazz; mellow piano"``).
            seed: ``None`` gives the deterministic output; an int a reproducible variation.
            emotion: an ArtEmis emotion label to add to the emotion keywords.
            progress: called as ``progress(stage, fraction)`` at each stage.
            cancel: an Event or callable; when set/true, stops at the next stage boundary.
            on_mel: called with the normalised mel ``[n_mels, T]`` as soon as it exists.
            variation: override the bundle's variation strength.
            loudness_lufs: override the loudness target (None: leave the level alone).
            pins: notes bundles: controls to fix (tempo, key, instrument, ...); the rest
                follow the painting and the comment.

        Raises:
            BadInputError: unreadable image, empty comment. GenerationCancelled: cancelled.
        """
        req = GenerationRequest(image, comment, hints, seed, emotion, pins)
        return self.generate_batch([req], progress=progress, cancel=cancel, on_mel=on_mel,
                                   variation=variation, loudness_lufs=loudness_lufs)[0]

    def _prepare(self, requests: Sequence[GenerationRequest]
                 ) -> tuple[list[str], list[Image.Image]]:
        """Composite prompts and decoded paintings; validates every input before any model
        work, so a bad one costs nothing and names itself."""
        prompts, images = [], []
        for r in requests:
            if r.pins is not None and r.pins.any() and self.player is None:
                raise BadInputError(f"controls can be pinned only with a notes bundle; "
                                    f"{self.name} is a mel bundle")
            hints = MusicHints.parse(r.hints) if isinstance(r.hints, str) else r.hints
            try:
                check_user_text(r.comment, r.emotion)
                prompts.append(build_prompt(r.comment, hints, r.emotion, self.config.prompt).text)
            except ValueError as err:
                raise BadInputError(str(err)) from err
            # Decode once here; the encoder caches the decoded pixels.
            images.append(load_image(r.image))
        return prompts, images

    def _mels(self, image_feat: torch.Tensor, text_feat: torch.Tensor,
              seeds: Sequence[int | None], variation: float, keys: Sequence[bytes]
              ) -> torch.Tensor:
        """Embeddings -> normalised mels ``[B, n_mels, T]`` (projector, latents, decoder).

        ``keys``: each painting's identity (``painting_keys``). Without a seed the
        performance latent is drawn from it alone: one painting keeps its "performance", so
        two comments on it differ by what the comment asks for (through the condition and
        the latent prior), not by an unrelated random draw."""
        with self._autocast("decoder"):
            fused = self.fuse(image_feat, text_feat, seeds, variation)
            gens = self._generators(seeds, keys)
            return self.decode_mel(fused, self._draw_latents(fused, gens), gens).float()

    def _encode_and_decode(self, images: list[Image.Image], prompts: list[str],
                           seeds: Sequence[int | None], variation: float,
                           stage: Callable[..., float], timings: dict[str, float]
                           ) -> torch.Tensor:
        """The encode and mel stages (timed, cancellable): normalised mels ``[B, n_mels, T]``."""
        t = stage("encode")
        with self._autocast("encoder"):
            image_feat = self.encoder.encode_images(images).float()
            text_feat = self.encoder.encode_texts(prompts).float()
        timings["encode"] = time.perf_counter() - t
        t = stage("mel")
        mels = self._mels(image_feat, text_feat, seeds, variation, painting_keys(images))
        timings["mel"] = time.perf_counter() - t
        return mels

    @torch.inference_mode()
    def _generate_notes(self, requests: Sequence[GenerationRequest], prompts: list[str],
                        images: list[Image.Image], stage: Callable[..., float],
                        on_mel: Callable[[np.ndarray], None] | None,
                        target: float | None, progress: Progress | None) -> list[Clip]:
        """A notes bundle's clips: encode, then per clip plan + notes + sampler, finished
        at the loudness its dynamics ask for; the mel is computed from the sound."""
        from .audio import wave_to_mel_torch

        assert self.player is not None
        gen_cfg = self.config.generation
        with self._lock:
            timings: dict[str, float] = {}
            t = stage("encode")
            image_feat = self.encoder.encode_images(images).float().cpu()
            text_feat = self.encoder.encode_texts(prompts).float().cpu()
            timings["encode"] = time.perf_counter() - t
            t = stage("mel")
            fused = self.projector(text_feat, image_feat)
            gens = self._generators([r.seed for r in requests], painting_keys(images))
            clips = []
            for i, r in enumerate(requests):
                if i:
                    stage("mel")
                perf = self.player.play(fused[i], gens[i], r.pins)
                level = None if target is None else target + perf.loudness_offset_db()
                audio = postprocess.finish(perf.wave, self.sample_rate, level,
                                           gen_cfg.peak_dbfs, gen_cfg.fade_ms)
                mel = wave_to_mel_torch(torch.from_numpy(audio), self.mel_config).numpy()
                if on_mel:
                    on_mel(mel)
                clip_t = {**perf.timings, "encode": timings["encode"]}
                clips.append(Clip(audio=audio, sample_rate=self.sample_rate,
                                  mel=mel.astype(np.float32), prompt=prompts[i],
                                  comment=r.comment, seed=r.seed, timings=clip_t,
                                  bundle_name=self.name, plan=perf.plan, notes=perf.notes))
            if progress:
                progress("done", 1.0)
            return clips

    @torch.inference_mode()
    def generate_mels(self, requests: Sequence[GenerationRequest],
                      variation: float | None = None) -> np.ndarray:
        """Only the mels ``[B, n_mels, T]`` the clips of ``requests`` would have (no vocoder:
        for previews and measurements); the same as ``Clip.mel`` of :meth:`generate_batch`."""
        if not requests:
            return np.zeros((0, self.mel_config.n_mels, self.mel_config.n_frames), np.float32)
        variation = self.config.generation.variation if variation is None else variation
        if self.player is not None:  # the mel of a notes clip is the mel of its sound
            return np.stack([c.mel for c in self.generate_batch(requests)])
        prompts, images = self._prepare(requests)
        with self._lock:
            with self._autocast("encoder"):
                feats = (self.encoder.encode_images(images).float(),
                         self.encoder.encode_texts(prompts).float())
            mels = self._mels(*feats, [r.seed for r in requests], variation,
                              painting_keys(images))
        return mels.float().cpu().numpy()

    @torch.inference_mode()
    def generate_batch(
        self,
        requests: Sequence[GenerationRequest],
        progress: Progress | None = None,
        cancel: CancelCheck = None,
        on_mel: Callable[[np.ndarray], None] | None = None,
        variation: float | None = None,
        loudness_lufs: float | None | str = "bundle",
    ) -> list[Clip]:
        """Generate several clips, encoding and decoding them as one batch."""
        if not requests:
            return []
        gen_cfg = self.config.generation
        variation = gen_cfg.variation if variation is None else variation
        target = gen_cfg.loudness_lufs if loudness_lufs == "bundle" else loudness_lufs
        prompts, images = self._prepare(requests)
        stage = _stage_clock(progress, cancel)
        if self.player is not None:
            return self._generate_notes(requests, prompts, images, stage, on_mel, target,
                                        progress)

        with self._lock:
            timings: dict[str, float] = {}
            seeds = [r.seed for r in requests]
            mels = self._encode_and_decode(images, prompts, seeds, variation, stage, timings)
            mels_np = mels.float().cpu().numpy()
            if on_mel:
                for m in mels_np:
                    on_mel(m)

            t = stage("vocoder")
            audios = self._vocode_and_finish(mels, mels_np, seeds, target, cancel)
            timings["vocoder"] = time.perf_counter() - t

            t = stage("finish")
            clips = [Clip(audio=audios[i], sample_rate=self.sample_rate, mel=mels_np[i],
                          prompt=prompts[i], comment=r.comment, seed=r.seed,
                          timings=timings, bundle_name=self.name)
                     for i, r in enumerate(requests)]
            timings["finish"] = time.perf_counter() - t
            for c in clips:
                c.timings = dict(timings)
            if progress:
                progress("done", 1.0)
            return clips


__all__ = ["A2MError", "Art2Music", "Clip", "GenerationRequest", "resolve_device"]
