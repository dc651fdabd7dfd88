"""The engine: one object that turns a painting and a comment into a clip.

    engine = Art2Music.load()                     # default bundle, best device
    engine.set_generation_params(loudness_lufs=-16)   # optional: the bundle's defaults
    clip = engine.generate("starry.jpg", "the swirling sky feels alive", seed=3)
    clip.save("starry.wav")

The public surface is :meth:`Art2Music.load`, ``generate`` / ``generate_batch`` /
``generate_stream`` / ``generate_mels``, :meth:`Art2Music.set_generation_params`, and for
measurements ``generate_from_features`` and ``render_notes``. The modules inside (projector,
decoder, vocoder, note player) are private: reach them only in tests of the engine itself.

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
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from . import postprocess
from .acceleration import RuntimeOptions
from .assembly import (
    check_precision,
    resolve_device,
    vocoder_runner,
)
from .audio import MelConfig
from .bundle import Bundle, BundleConfig, GenerationConfig, VocoderConfig, load_bundle
from .clip import Clip, GenerationRequest, StreamChunk, chunked
from .embedding_cache import cache_folder
from .encoders import ClipEncoder
from .errors import A2MError, BadInputError, GenerationCancelled
from .images import ImageInput, load_image
from .notes.plan import Pins, Plan
from .notes.score import Note
from .painting import PaintingLook, measure, painting_words
from .prompt import MusicHints, build_prompt, check_user_text, feeling_words
from .streaming import Pacing
from .vocoding import CancelCheck, MelVoice, cancelled

if TYPE_CHECKING:
    from .notes.player import NotePlayer, Reading

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]  # (stage, overall fraction 0..1)
STAGES = ("encode", "mel", "vocoder", "finish")  # a mel bundle's; a notes bundle's: encode, notes
# Rough share of a CPU generation spent before each stage starts (for one progress bar).
_STAGE_START = {"encode": 0.0, "mel": 0.25, "vocoder": 0.55, "finish": 0.95, "notes": 0.25}


def _stage_clock(progress: Progress | None, cancel: CancelCheck
                 ) -> Callable[..., float]:
    """``stage(name, fraction=None)``: check cancel, report progress, return the time."""

    def stage(name: str, fraction: float | None = None) -> float:
        if cancelled(cancel):
            raise GenerationCancelled(f"generation cancelled at the {name} stage")
        if progress:
            progress(name, _STAGE_START[name] if fraction is None else fraction)
        return time.perf_counter()

    return stage


def painting_keys(images: Sequence[Image.Image]) -> list[bytes]:
    """What an unseeded draw is seeded by: each painting's decoded pixels (their sha256).

    Not its embedding's bytes: those differ in the last bits between CPUs (AVX2 and AVX-512
    kernels) and runtimes (int8, bf16), so the same painting and comment would draw another
    performance on another machine (measured with embedding keys: band std 5.28 dB on an
    AVX2 host, 5.94 on an AVX-512 one, same bundle)."""
    from .images import image_key

    return [image_key(im).encode() for im in images]


class Art2Music:
    """A loaded model bundle ready to generate. Create with :meth:`load`."""

    def __init__(self, bundle: Bundle, device: str | None = "auto",
                 vocoder: str = "bundle", runtime: RuntimeOptions | None = None) -> None:
        if vocoder not in ("bundle", "griffin-lim"):
            raise BadInputError(f"unknown vocoder '{vocoder}': use bundle (the bundle's own) "
                                f"or griffin-lim (fast, phasey)")
        if vocoder == "griffin-lim" and bundle.config.is_notes:
            log.info("a notes bundle plays through its SoundFont sampler: vocoder "
                     "'griffin-lim' does not apply")
            vocoder = "bundle"
        if vocoder == "griffin-lim" and bundle.config.vocoder.kind != "griffin-lim":
            # The explicit fast choice: skip loading the neural vocoder altogether.
            cfg = replace(bundle.config, vocoder=VocoderConfig(
                kind="griffin-lim", hifigan=None,
                griffin_lim_iters=bundle.config.vocoder.griffin_lim_iters))
            bundle = Bundle(cfg, {k: v for k, v in bundle.tensors.items()
                                  if not k.startswith("vocoder.")}, bundle.path)
        self.bundle = bundle
        self.config: BundleConfig = bundle.config
        self._generation: GenerationConfig = bundle.config.generation
        self.device = resolve_device(device)
        self.runtime = runtime or RuntimeOptions()
        on_cpu = self.device.type == "cpu"
        check_precision(self.runtime, self.device)
        if self.runtime.threads:
            torch.set_num_threads(self.runtime.threads)
        mods = bundle.modules()
        self._projector = mods.projector.to(self.device)
        self._decoder = mods.decoder.to(self.device) if mods.decoder is not None else None
        # notes bundles: plan + notes + sampler instead of the mel decoder and vocoder (the
        # note model samples token by token: it stays on the CPU, where a step is cheapest)
        self._player: NotePlayer | None = None
        if bundle.config.is_notes:
            from .notes.player import NotePlayer

            assert mods.notes_head is not None and mods.notes_model is not None
            assert bundle.config.notes is not None and bundle.config.sampler is not None
            self._projector = self._projector.cpu()
            self._player = NotePlayer(mods.notes_head, mods.notes_model, bundle.config.notes,
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
        self.encoder.disk_cache = cache_folder(
            self.config.encoder.to_dict(), bundle.path if enc_state is not None else None,
            int8, self._dtypes["encoder"])
        # a mel bundle's vocoder and finisher (a notes bundle's sound is its sampler's)
        self._voice: MelVoice | None = None
        if self._player is None:
            runner = None if mods.vocoder is None else vocoder_runner(
                mods.vocoder.to(self.device), self.runtime, self.device,
                self.mel_config.n_mels, self._dtypes["vocoder"])
            self._voice = MelVoice(mods.vocoder, runner, self.mel_config,
                                   self.config.vocoder.griffin_lim_iters, self.device)
        self._lock = threading.RLock()
        log.info("loaded bundle %s on %s", self.config.name, self.device)

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(cls, bundle: str | Path | Bundle | None = None, device: str | None = "auto",
             vocoder: str = "bundle", runtime: RuntimeOptions | None = None) -> Art2Music:
        """Load a bundle file, an installed model by name (``"starter"``, ``"paper"``; see
        ``a2m models``), or the default bundle when None, onto a device.

        ``vocoder="griffin-lim"`` swaps the bundle's neural vocoder for the fast Griffin-Lim
        fallback (no vocoder weights are loaded); ``"bundle"`` keeps the bundle's own. ``runtime``
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
    def is_notes(self) -> bool:
        """Whether the bundle plays notes (plan, notes, sampler) rather than a mel."""
        return self._player is not None

    @property
    def vocoder_name(self) -> str:
        """Which vocoder makes the sound: "HiFi-GAN" (", ONNX Runtime" when it runs there)
        or "Griffin-Lim"."""
        return "SoundFont sampler" if self._voice is None else self._voice.name

    @property
    def generation(self) -> GenerationConfig:
        """The generation parameters in force (the bundle's, unless set)."""
        return self._generation

    def set_generation_params(self, **params: float | None) -> None:
        """Change how this engine generates from now on; the names are
        :class:`~a2m_core.bundle.GenerationConfig`'s: ``variation``, ``loudness_lufs`` (None:
        leave the level alone), ``peak_dbfs``, ``fade_ms``, ``latent_temperature`` and, for
        notes bundles, ``plan_temperature``. Clips already being made keep the old ones.

        Raises:
            BadInputError: an unknown name or a value out of its range (nothing changes).
        """
        known = {f.name for f in fields(GenerationConfig)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise BadInputError(f"unknown generation parameter {unknown[0]!r}: use "
                                f"{', '.join(sorted(known))}")
        new = replace(self._generation, **params)
        try:
            new.check()
        except ValueError as err:
            raise BadInputError(str(err)) from err
        self._generation = new

    def _autocast(self, stage: str) -> torch.autocast:
        """The runtime's autocast for one stage ("encoder", "decoder"; a no-op at fp32)."""
        dtype = self._dtypes[stage]
        return torch.autocast(self.device.type, dtype=dtype or torch.float32,
                              enabled=dtype is not None)

    # ------------------------------------------------------------------ stages
    def _fuse(self, image_feat: torch.Tensor, text_feat: torch.Tensor,
              seeds: Sequence[int | None], variation: float) -> torch.Tensor:
        """Projector + seeded variation: ``[B, D]`` x2 -> fused ``[B, hidden]``."""
        fused = self._projector(text_feat.to(self.device), image_feat.to(self.device))
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

    def _draw_latents(self, fused: torch.Tensor, gens: list[torch.Generator],
                      gen: GenerationConfig) -> torch.Tensor | None:
        """The decoder's performance latents ``[B, latent_dim]`` (None when it has none)."""
        if not self._decoder.cfg.latent_dim:
            return None
        return self._decoder.sample_latents(fused, gens, gen.latent_temperature)

    def truncation_note(self, prompt: str) -> str | None:
        """A sentence for the user when the text encoder will read only part of a composite
        prompt (``Clip.prompt``); None when all of it is read."""
        need, limit = self.encoder.text_capacity(prompt)
        if need <= limit:
            return None
        return (f"the text encoder reads the first {limit} tokens of the prompt and this one "
                f"has {need}: the end of the comment (and hints after it) is not heard")

    def _decode_mel(self, fused: torch.Tensor, latents: torch.Tensor | None = None,
                    generators: list[torch.Generator] | None = None) -> torch.Tensor:
        """Fused ``[B, hidden]`` (+ latents) -> normalised mel ``[B, n_mels, T]`` in [-1, 1].
        Without latents a latent decoder gives its average rendition; a detail flow draws
        its noise from ``generators`` (None: its zero-noise answer)."""
        return self._decoder.render(fused, latents, generators).transpose(1, 2).clamp(-1.0, 1.0)

    # ------------------------------------------------------------------ streaming
    def generate_stream(
        self,
        image: ImageInput,
        comment: str = "",
        hints: MusicHints | str | None = None,
        seed: int | None = None,
        emotion: str | None = None,
        progress: Progress | None = None,
        cancel: CancelCheck = None,
        pacing: Pacing | None = None,
        pins: Pins | None = None,
    ) -> Iterator[StreamChunk]:
        """Like :meth:`generate`, but yields the audio in chunks as the vocoder makes them.

        The first chunk is ready after the encoders, the decoder and one short vocoder chunk
        (sized by ``streaming.Pacer`` from the vocoder's measured speed: as short as lets
        the next chunk be made while it plays: 16 of 896 frames on a 2-core CPU, with
        HiFi-GAN's later stages given only their own context); later chunks grow to 256
        frames as the sound made runs ahead (``pacing`` changes those bounds). The first
        chunk carries the whole mel, the last one the whole :class:`Clip`. It is the clip
        :meth:`generate` makes, in pieces: the same samples, the same level (set from the
        loudness the mel predicts, before the wave exists; ``postprocess.ChunkFinisher``).
        The engine's lock is held until the generator finishes or is closed.

        Raises:
            BadInputError, GenerationCancelled: as :meth:`generate` (cancel is checked between
            chunks too).
        """
        gen = self._generation
        request = GenerationRequest(image, comment, hints, seed, emotion, pins)
        prompts, images = self._prepare([request])
        stage = _stage_clock(progress, cancel)
        if self._player is not None:
            # the sampler plays a whole clip in ~0.03 s: the stream is the finished clip in
            # chunks, so its level and samples equal generate()'s exactly
            clip = self._generate_notes([request], images, stage, None, gen,
                                        progress)[0]
            yield from chunked(clip, int(self.sample_rate * 0.5))
            return

        with self._lock, torch.inference_mode():
            timings: dict[str, float] = {}
            mel = self._encode_and_decode(images, prompts, [seed], gen, stage, timings)[0]
            mel_np = mel.float().cpu().numpy()

            t = stage("vocoder")
            assert self._voice is not None
            finish = self._voice.finisher(mel_np, gen)
            total = finish.total
            parts, first = [], True
            for start, wave in self._voice.pieces(mel, seed, self._voice.pacer(pacing)):
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
        comment: str = "",
        hints: MusicHints | str | None = None,
        seed: int | None = None,
        emotion: str | None = None,
        progress: Progress | None = None,
        cancel: CancelCheck = None,
        on_mel: Callable[[np.ndarray], None] | None = None,
        pins: Pins | None = None,
    ) -> Clip:
        """Generate one ~10.4 s clip, with the generation parameters in force
        (:meth:`set_generation_params`).

        Args:
            image: painting as a path, PIL image or HxWxC array.
            comment: the viewer's comment; empty: the painting alone sets the feeling.
            hints: optional music hints (``MusicHints`` or ``"Jazz; mellow piano"``). A notes
                bundle plays the instrument they name, unless ``pins`` fix one.
            seed: an int replays a performance; ``None`` draws it from the painting's pixels,
                so the same painting and comment give the same clip on any machine.
            emotion: an ArtEmis emotion label to add to the emotion keywords.
            progress: called as ``progress(stage, fraction)`` at each stage.
            cancel: an Event or callable; when set/true, stops at the next stage boundary.
            on_mel: called with the normalised mel ``[n_mels, T]`` as soon as it exists.
            pins: notes bundles: controls to fix (tempo, key, instrument, ...); the rest
                follow the painting and the comment.

        Raises:
            BadInputError: unreadable image, over-long comment. GenerationCancelled:
            cancelled.
        """
        req = GenerationRequest(image, comment, hints, seed, emotion, pins)
        return self.generate_batch([req], progress=progress, cancel=cancel, on_mel=on_mel)[0]

    @torch.inference_mode()
    def generate_batch(
        self,
        requests: Sequence[GenerationRequest],
        progress: Progress | None = None,
        cancel: CancelCheck = None,
        on_mel: Callable[[np.ndarray], None] | None = None,
    ) -> list[Clip]:
        """Generate several clips, encoding and decoding them as one batch."""
        if not requests:
            return []
        gen = self._generation
        prompts, images = self._prepare(requests)
        stage = _stage_clock(progress, cancel)
        if self._player is not None:
            return self._generate_notes(requests, images, stage, on_mel, gen,
                                        progress)

        with self._lock:
            timings: dict[str, float] = {}
            seeds = [r.seed for r in requests]
            mels = self._encode_and_decode(images, prompts, seeds, gen, stage, timings)
            mels_np = mels.float().cpu().numpy()
            if on_mel:
                for m in mels_np:
                    on_mel(m)

            t = stage("vocoder")
            assert self._voice is not None
            audios = self._voice.finished(mels, mels_np, seeds, gen, cancel)
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

    @torch.inference_mode()
    def generate_mels(self, requests: Sequence[GenerationRequest]) -> np.ndarray:
        """Only the mels ``[B, n_mels, T]`` the clips of ``requests`` would have (no vocoder:
        for previews and measurements); the same as ``Clip.mel`` of :meth:`generate_batch`."""
        if not requests:
            return np.zeros((0, self.mel_config.n_mels, self.mel_config.n_frames), np.float32)
        if self._player is not None:  # the mel of a notes clip is the mel of its sound
            return np.stack([c.mel for c in self.generate_batch(requests)])
        gen = self._generation
        prompts, images = self._prepare(requests)
        with self._lock:
            with self._autocast("encoder"):
                feats = (self.encoder.encode_images(images).float(),
                         self.encoder.encode_texts(prompts).float())
            mels = self._mels(*feats, [r.seed for r in requests], gen,
                              painting_keys(images))
        return mels.float().cpu().numpy()

    @torch.inference_mode()
    def generate_from_features(self, image_feat: torch.Tensor, text_feat: torch.Tensor,
                               seeds: Sequence[int | None],
                               keys: Sequence[bytes] | None = None,
                               pins: Sequence[Pins | None] | None = None,
                               looks: Sequence[PaintingLook | None] | None = None
                               ) -> list[Clip]:
        """Clips from encoder features ``[B, D]`` (``engine.encoder.encode_images`` /
        ``encode_texts``, or any stand-in: zeros, noise) instead of paintings and comments:
        for ablations such as Table IV. A seed draws the performance as in :meth:`generate`;
        a None seed draws from ``keys[i]`` (``painting_keys`` of the painting the features
        came from). A mel bundle given no seeds and no keys plays each row's average
        rendition (no draw at all).
        ``pins``: a notes bundle's pinned controls per row (e.g. the reference's instrument,
        so that a comparison measures what the inputs decide). ``looks``: a notes bundle's
        painting looks per row (``painting.measure``), which steer the plan as in
        :meth:`generate`; None leaves the painting to the features alone.

        Raises:
            BadInputError: the features' shapes do not fit the bundle, a None seed has no
            key (but for a mel bundle's average renditions; a notes bundle always draws a
            plan), or pins are given to a mel bundle.
        """
        enc = self.config.encoder
        want = (enc.embed_dim, enc.text_embed_dim)
        if (image_feat.ndim != 2 or text_feat.ndim != 2
                or (image_feat.shape[1], text_feat.shape[1]) != want
                or not len(image_feat) == len(text_feat) == len(seeds)):
            raise BadInputError(f"features must be [B, {want[0]}] (image) and [B, {want[1]}] "
                                f"(text) with one seed per row; got "
                                f"{tuple(image_feat.shape)}, {tuple(text_feat.shape)} and "
                                f"{len(seeds)} seeds")
        gen = self._generation
        n = len(seeds)
        if pins is not None and (len(pins) != n or (self._player is None
                                                    and any(p and p.any() for p in pins))):
            raise BadInputError("pins need a notes bundle and one entry (or None) per row")
        average = keys is None and self._player is None and all(s is None for s in seeds)
        if keys is None and not average and any(s is None for s in seeds):
            raise BadInputError("a row without a seed needs a key (painting_keys) to draw "
                                "from; only a mel bundle with no seeds at all plays its "
                                "average renditions")
        with self._lock:
            if self._player is not None:
                from .notes.player import Reading

                fused = self._projector(text_feat.float().cpu(), image_feat.float().cpu())
                readings = [Reading(look=lk) for lk in looks] if looks is not None else None
                return self._play(fused, seeds, keys or [b""] * n, pins or [None] * n,
                                  [""] * n, [""] * n, gen, None, None, readings)
            if average:
                with self._autocast("decoder"):
                    mels = self._decode_mel(self._fuse(image_feat, text_feat, seeds,
                                                       gen.variation)).float()
            else:
                mels = self._mels(image_feat, text_feat, seeds, gen, keys or [b""] * n)
            mels_np = mels.cpu().numpy()
            assert self._voice is not None
            audios = self._voice.finished(mels, mels_np, seeds, gen, None)
        return [Clip(audio=a, sample_rate=self.sample_rate, mel=m, prompt="", comment="",
                     seed=s, bundle_name=self.name) for a, m, s in zip(audios, mels_np, seeds)]

    def render_notes(self, notes: Sequence[Note], plan: Plan) -> np.ndarray:
        """A notes bundle's sampler playing ``notes`` (beats at ``plan.tempo_bpm``) on
        ``plan.instrument``: the raw wave of one clip's length, before level and fades.

        Raises:
            BadInputError: a mel bundle (it has no sampler).
        """
        if self._player is None:
            raise BadInputError(f"{self.name} is a mel bundle: it has no sampler to play notes")
        return self._player.sampler.render(list(notes), plan.tempo_bpm, plan.instrument,
                                           self.mel_config.n_samples)

    # ------------------------------------------------------------------ inside
    def _prepare(self, requests: Sequence[GenerationRequest]
                 ) -> tuple[list[str], list[Image.Image]]:
        """Composite prompts and decoded paintings; validates every input before any model
        work, so a bad one costs nothing and names itself. A notes bundle's prompts need the
        painting's words, known only once it is encoded (``_generate_notes`` writes them):
        its list is empty."""
        prompts, images = [], []
        for r in requests:
            if r.pins is not None and r.pins.any() and self._player is None:
                raise BadInputError(f"controls can be pinned only with a notes bundle; "
                                    f"{self.name} is a mel bundle")
            try:
                check_user_text(r.comment, r.emotion)
                if self._player is None:
                    prompts.append(build_prompt(r.comment, r.music_hints(), r.emotion,
                                                self.config.prompt).text)
            except ValueError as err:
                raise BadInputError(str(err)) from err
            # Decode once here; the encoder caches the decoded pixels.
            images.append(load_image(r.image))
        return prompts, images

    def _mels(self, image_feat: torch.Tensor, text_feat: torch.Tensor,
              seeds: Sequence[int | None], gen: GenerationConfig, keys: Sequence[bytes]
              ) -> torch.Tensor:
        """Embeddings -> normalised mels ``[B, n_mels, T]`` (projector, latents, decoder).

        ``keys``: each painting's identity (``painting_keys``). Without a seed the
        performance latent is drawn from it alone: one painting keeps its "performance", so
        two comments on it differ by what the comment asks for (through the condition and
        the latent prior), not by an unrelated random draw."""
        with self._autocast("decoder"):
            fused = self._fuse(image_feat, text_feat, seeds, gen.variation)
            gens = self._generators(seeds, keys)
            return self._decode_mel(fused, self._draw_latents(fused, gens, gen), gens).float()

    def _encode_and_decode(self, images: list[Image.Image], prompts: list[str],
                           seeds: Sequence[int | None], gen: GenerationConfig,
                           stage: Callable[..., float], timings: dict[str, float]
                           ) -> torch.Tensor:
        """The encode and mel stages (timed, cancellable): normalised mels ``[B, n_mels, T]``."""
        t = stage("encode")
        with self._autocast("encoder"):
            image_feat = self.encoder.encode_images(images).float()
            text_feat = self.encoder.encode_texts(prompts).float()
        timings["encode"] = time.perf_counter() - t
        t = stage("mel")
        mels = self._mels(image_feat, text_feat, seeds, gen, painting_keys(images))
        timings["mel"] = time.perf_counter() - t
        return mels

    @torch.inference_mode()
    def _generate_notes(self, requests: Sequence[GenerationRequest],
                        images: list[Image.Image], stage: Callable[..., float],
                        on_mel: Callable[[np.ndarray], None] | None,
                        gen: GenerationConfig, progress: Progress | None) -> list[Clip]:
        """A notes bundle's clips: encode the paintings, read their look and subjects, then
        encode the composite texts with the painting's words (and the same painting with no
        comment, to tell what the comment itself asks), then per clip plan + notes +
        sampler."""
        from .notes.player import Reading

        with self._lock:
            t = stage("encode")
            image_feat = self.encoder.encode_images(images).float().cpu()
            looks = [measure(im, subjects) for im, subjects
                     in zip(images, self.encoder.subjects(image_feat))]
            texts, bare = [], []
            for r, look in zip(requests, looks):
                hints = r.music_hints()
                texts.append(build_prompt(r.comment, hints, r.emotion, self.config.prompt,
                                          painting_words(look, r.comment)).text)
                bare.append(build_prompt("", hints, None, self.config.prompt,
                                         painting_words(look)).text)
            feats = self.encoder.encode_texts(texts + bare).float().cpu()
            encode_s = time.perf_counter() - t
            stage("notes")
            n = len(requests)
            fused = self._projector(feats[:n], image_feat)
            fused_bare = self._projector(feats[n:], image_feat)
            readings = []
            for i, (r, look) in enumerate(zip(requests, looks)):
                words = tuple(feeling_words(r.comment))
                readings.append(Reading(look, fused_bare[i], words, r.has_comment,
                                        bool(words or r.emotion), r.pins,
                                        r.hinted_instrument()))
            clips = self._play(fused, [r.seed for r in requests], painting_keys(images),
                               [r.notes_pins() for r in requests], texts,
                               [r.comment for r in requests], gen, on_mel, stage, readings)
            for c in clips:
                c.timings["encode"] = encode_s
            if progress:
                progress("done", 1.0)
            return clips

    def _play(self, fused: torch.Tensor, seeds: Sequence[int | None], keys: Sequence[bytes],
              pins: Sequence[Pins | None], prompts: Sequence[str], comments: Sequence[str],
              gen: GenerationConfig, on_mel: Callable[[np.ndarray], None] | None,
              stage: Callable[..., float] | None = None,
              readings: Sequence[Reading | None] | None = None) -> list[Clip]:
        """Each fused vector's plan (steered by its ``readings``: the painting's look, the
        comment's own push), notes and sound, finished at the loudness its dynamics ask for;
        the mel is computed from the sound."""
        from .audio import wave_to_mel_torch

        assert self._player is not None
        gens = self._generators(seeds, keys)
        clips = []
        for i in range(len(seeds)):
            if i and stage is not None:
                stage("notes")
            perf = self._player.play(fused[i], gens[i], pins[i], gen.plan_temperature,
                                     readings[i] if readings is not None else None)
            level = (None if gen.loudness_lufs is None
                     else gen.loudness_lufs + perf.loudness_offset_db())
            audio = postprocess.finish(perf.wave, self.sample_rate, level, gen.peak_dbfs,
                                       gen.fade_ms)
            mel = wave_to_mel_torch(torch.from_numpy(audio), self.mel_config).numpy()
            if on_mel:
                on_mel(mel)
            clips.append(Clip(audio=audio, sample_rate=self.sample_rate,
                              mel=mel.astype(np.float32), prompt=prompts[i],
                              comment=comments[i], seed=seeds[i], timings=dict(perf.timings),
                              bundle_name=self.name, plan=perf.plan, notes=perf.notes,
                              look=readings[i].look if readings and readings[i] else None))
        return clips


__all__ = ["A2MError", "Art2Music", "Clip", "GenerationRequest", "resolve_device"]
