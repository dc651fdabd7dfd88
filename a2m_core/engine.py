"""The engine: one object that turns a painting and a comment into a clip.

    engine = Art2Music.load()                     # default bundle, best device
    engine.set_generation_params(loudness_lufs=-16)   # optional: the bundle's defaults
    clip = engine.generate("starry.jpg", "the swirling sky feels alive", seed=3)
    clip.save("starry.wav")

The public surface is :meth:`Art2Music.load`, ``generate`` / ``run`` / ``generate_batch`` /
``generate_stream`` / ``stream`` / ``generate_mels``, :meth:`Art2Music.set_generation_params`,
and for measurements ``generate_from_features`` and ``render_notes``. To write a request's
files, surfaces call :func:`a2m_core.produce.produce`.

Stages: prepare (check every input, decode the paintings) -> encode (image + composite
text) -> fuse (projector) -> voice -> finish. The voice is the bundle's: ``mel.voice``
(decoder, vocoder) or ``notes.voice`` (plan, notes, sampler); each turns fused vectors into
clips or stream chunks.

Concurrency model: one engine may be shared by any number of threads (the desktop app's
worker, the OSC bridge's worker, a script). Generation is serialised by an internal lock:
the models are not re-entrant and on CPU they already use every core, so running two at once
would only make both slower. Callers that must stay responsive generate from a worker
thread; progress and ``on_mel`` callbacks run on that calling thread. Cancellation is
checked at stage boundaries.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .audio import MelConfig
from .bundle import Bundle, BundleConfig, GenerationConfig, VocoderConfig, load_bundle
from .clip import Clip, StreamChunk
from .embedding_cache import cache_folder
from .encoders import ClipEncoder
from .errors import A2MError, BadInputError, GenerationCancelled
from .images import ImageInput, load_image
from .mel.acceleration import RuntimeOptions
from .mel.assembly import check_precision, resolve_device
from .mel.streaming import Pacing
from .notes.plan import Pins, Plan
from .notes.score import Note
from .painting import PaintingLook, measure, painting_words
from .prompt import MusicHints, build_prompt, check_user_text
from .request import GenerationRequest
from .voice import CancelCheck, Encoded, Voice, cancelled, painting_keys

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]  # (stage, overall fraction 0..1)


def _stage_clock(progress: Progress | None, cancel: CancelCheck) -> Callable[..., float]:
    """``stage(name, fraction)``: check cancel, report progress, return the time."""

    def stage(name: str, fraction: float = 0.0) -> float:
        if cancelled(cancel):
            raise GenerationCancelled(f"generation cancelled at the {name} stage")
        if progress:
            progress(name, fraction)
        return time.perf_counter()

    return stage


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
        check_precision(self.runtime, self.device)
        if self.runtime.threads:
            torch.set_num_threads(self.runtime.threads)
        enc_state = bundle.part("encoder") if self.config.encoder.weights_in_bundle else None
        self.encoder = ClipEncoder(self.config.encoder, str(self.device), state_dict=enc_state)
        # int8 applies to OpenCLIP towers only; where it applies, its embeddings (a little
        # different from float ones) get their own persistent cache.
        int8 = self.runtime.wants_int8(self.device.type == "cpu") and \
            self.encoder.model is not None
        if int8:
            from .mel.acceleration import quantize_openclip_int8

            quantize_openclip_int8(self.encoder.model)
        # autocast per stage (RuntimeOptions.stage_dtype: "auto" is the bf16 decoder on CPUs
        # with native bf16); reduced-precision embeddings differ a little: their own cache
        self._dtypes = {stage: self.runtime.stage_dtype(stage, self.device.type, int8)
                        for stage in ("encoder", "decoder", "vocoder")}
        self.encoder.disk_cache = cache_folder(
            self.config.encoder.to_dict(), bundle.path if enc_state is not None else None,
            int8, self._dtypes["encoder"])
        mods = bundle.modules()
        self._voice: Voice
        if bundle.config.is_notes:
            # the note model samples token by token: it stays on the CPU, where a step is
            # cheapest, and so does the projector that feeds it
            from .notes.voice import NotesVoice

            assert mods.notes_head is not None and mods.notes_model is not None
            assert bundle.config.notes is not None and bundle.config.sampler is not None
            self._projector = mods.projector.cpu()
            self._voice = NotesVoice(mods.notes_head, mods.notes_model, bundle.config.notes,
                                     bundle.config.sampler, bundle.config.mel)
        else:
            from .mel.voice import MelVoice

            assert mods.decoder is not None
            self._projector = mods.projector.to(self.device)
            self._voice = MelVoice(mods.decoder, mods.vocoder, self.mel_config,
                                   self.config.vocoder.griffin_lim_iters, self.device,
                                   self.runtime, self._dtypes)
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
        """The clips' rate: the mel convention's for a mel bundle, the sampler's (44.1 kHz)
        for a notes bundle."""
        return self._voice.sample_rate

    @property
    def channels(self) -> int:
        """The clips' channels: 2 for a notes bundle in stereo (the default), else 1."""
        return int(getattr(self._voice, "channels", 1))

    @property
    def mel_config(self) -> MelConfig:
        return self.config.mel

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def is_notes(self) -> bool:
        """Whether the bundle plays notes (plan, notes, sampler) rather than a mel."""
        return self.config.is_notes

    @property
    def vocoder_name(self) -> str:
        """What makes the sound: "SoundFont sampler", "HiFi-GAN" (", ONNX Runtime" when it
        runs there) or "Griffin-Lim"."""
        return self._voice.name

    @property
    def variation(self) -> float:
        """The variation a request without one plays at: a notes bundle's plan temperature,
        a mel bundle's latent temperature."""
        gen = self._generation
        if self.is_notes:
            assert self.config.notes is not None
            return float(self.config.notes.plan_temperature if gen.plan_temperature is None
                         else gen.plan_temperature)
        return float(gen.latent_temperature)

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

    def truncation_note(self, prompt: str) -> str | None:
        """A sentence for the user when the text encoder will read only part of a composite
        prompt (``Clip.prompt``); None when all of it is read."""
        need, limit = self.encoder.text_capacity(prompt)
        if need <= limit:
            return None
        return (f"the text encoder reads the first {limit} tokens of the prompt and this one "
                f"has {need}: the end of the comment (and hints after it) is not heard")

    # ------------------------------------------------------------------ generation
    def generate(self, image: ImageInput, comment: str = "",
                 hints: MusicHints | str | None = None, seed: int | None = None,
                 emotion: str | None = None, progress: Progress | None = None,
                 cancel: CancelCheck = None,
                 on_mel: Callable[[np.ndarray], None] | None = None,
                 pins: Pins | None = None, variation: float | None = None) -> Clip:
        """Generate one clip, with the generation parameters in force
        (:meth:`set_generation_params`).

        Args:
            image: painting as a path, PIL image, encoded bytes or HxWxC array.
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
            variation: how far the draw strays from what the inputs ask (0-2; None: the
                bundle's own).

        Raises:
            BadInputError: unreadable image, over-long comment. GenerationCancelled:
            cancelled.
        """
        request = GenerationRequest(image, comment, hints, seed, emotion, pins, variation)
        return self.run(request, progress=progress, cancel=cancel, on_mel=on_mel)

    def run(self, request: GenerationRequest, progress: Progress | None = None,
            cancel: CancelCheck = None,
            on_mel: Callable[[np.ndarray], None] | None = None) -> Clip:
        """One request's clip (:meth:`generate`, with everything in one object)."""
        return self.generate_batch([request], progress=progress, cancel=cancel,
                                   on_mel=on_mel)[0]

    @torch.inference_mode()
    def generate_batch(self, requests: Sequence[GenerationRequest],
                       progress: Progress | None = None, cancel: CancelCheck = None,
                       on_mel: Callable[[np.ndarray], None] | None = None) -> list[Clip]:
        """Generate several clips, encoding and decoding them as one batch."""
        if not requests:
            return []
        gen = self._generation
        images = self._prepare(requests)
        stage = _stage_clock(progress, cancel)
        with self._lock:
            batch = self._encode(requests, images, stage)
            timings = {"encode": batch.encode_s}
            clips = self._voice.clips(batch, gen, stage, on_mel, cancel, timings)
            self._own(clips, timings)
        if progress:
            progress("done", 1.0)
        return clips

    def generate_stream(self, image: ImageInput, comment: str = "",
                        hints: MusicHints | str | None = None, seed: int | None = None,
                        emotion: str | None = None, progress: Progress | None = None,
                        cancel: CancelCheck = None, pacing: Pacing | None = None,
                        pins: Pins | None = None, variation: float | None = None
                        ) -> Iterator[StreamChunk]:
        """Like :meth:`generate`, but yields the audio in chunks as the voice makes them.

        A mel bundle's first chunk comes after the encoders, the decoder and one short
        vocoder chunk (``mel.streaming.Pacer``; ``pacing`` changes its bounds); a notes
        bundle streams its finished clip in half-second pieces. The first chunk carries the
        whole mel, the last the whole :class:`Clip` (:meth:`generate`'s, in pieces). The
        engine's lock is held until the generator finishes or is closed.

        Raises:
            BadInputError, GenerationCancelled: as :meth:`generate` (cancel is checked between
            chunks too).
        """
        request = GenerationRequest(image, comment, hints, seed, emotion, pins, variation)
        return self.stream(request, progress, cancel, pacing)

    def stream(self, request: GenerationRequest, progress: Progress | None = None,
               cancel: CancelCheck = None, pacing: Pacing | None = None
               ) -> Iterator[StreamChunk]:
        """One request's clip in chunks (:meth:`generate_stream`, with everything in one
        object). The request is checked here, before the first chunk is asked for."""
        images = self._prepare([request])
        return self._chunks(request, images, progress, cancel, pacing)

    def _chunks(self, request: GenerationRequest, images: list[Image.Image],
                progress: Progress | None, cancel: CancelCheck, pacing: Pacing | None
                ) -> Iterator[StreamChunk]:
        stage = _stage_clock(progress, cancel)
        with self._lock, torch.inference_mode():
            batch = self._encode([request], images, stage)
            timings = {"encode": batch.encode_s}
            for chunk in self._voice.stream(batch, self._generation, stage, cancel, pacing,
                                            timings):
                if chunk.clip is not None:
                    self._own([chunk.clip], timings)
                    if progress:
                        progress("done", 1.0)
                yield chunk

    @torch.inference_mode()
    def generate_mels(self, requests: Sequence[GenerationRequest]) -> np.ndarray:
        """Only the mels ``[B, n_mels, T]`` the clips of ``requests`` would have (a mel
        bundle runs no vocoder: for previews and measurements); ``Clip.mel`` of
        :meth:`generate_batch`."""
        if not requests:
            return np.zeros((0, self.mel_config.n_mels, self.mel_config.n_frames), np.float32)
        if self.is_notes:  # the mel of a notes clip is the mel of its sound
            return np.stack([c.mel for c in self.generate_batch(requests)])
        images = self._prepare(requests)
        with self._lock:
            batch = self._encode(requests, images, None)
            return self._voice.mels(batch, self._generation).cpu().numpy()

    @torch.inference_mode()
    def generate_from_features(self, image_feat: torch.Tensor, text_feat: torch.Tensor,
                               seeds: Sequence[int | None],
                               keys: Sequence[bytes] | None = None,
                               pins: Sequence[Pins | None] | None = None,
                               looks: Sequence[PaintingLook | None] | None = None
                               ) -> list[Clip]:
        """Clips from encoder features ``[B, D]`` (or stand-ins: zeros, noise) instead of
        paintings and comments, for ablations such as Table IV. A seed draws as in
        :meth:`generate`; a None seed draws from ``keys[i]`` (``painting_keys``); a mel
        bundle given neither plays each row's average rendition. ``pins``: a notes
        bundle's pinned controls per row; ``looks``: its painting looks per row
        (``painting.measure``), steering the plan as in :meth:`generate`.

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
        n = len(seeds)
        if pins is not None and (len(pins) != n or (not self.is_notes
                                                    and any(p and p.any() for p in pins))):
            raise BadInputError("pins need a notes bundle and one entry (or None) per row")
        average = keys is None and not self.is_notes and all(s is None for s in seeds)
        if keys is None and not average and any(s is None for s in seeds):
            raise BadInputError("a row without a seed needs a key (painting_keys) to draw "
                                "from; only a mel bundle with no seeds at all plays its "
                                "average renditions")
        device = self._projector_device()
        with self._lock:
            fused = self._projector(text_feat.float().to(device), image_feat.float().to(device))
            batch = Encoded(fused, list(seeds), list(keys or [b""] * n), [""] * n, [""] * n,
                            list(pins or [None] * n), [None] * n,
                            looks=list(looks) if looks is not None else None)
            timings: dict[str, float] = {}
            if average:
                clips = self._voice.clips(batch, self._generation, None, None, None, timings,
                                          average=True)
            else:
                clips = self._voice.clips(batch, self._generation, None, None, None, timings)
            self._own(clips, None)
        return clips

    def render_notes(self, notes: Sequence[Note], plan: Plan) -> np.ndarray:
        """A notes bundle's sampler playing ``notes`` (beats at ``plan.tempo_bpm``) on
        ``plan.instrument``: the raw wave of one clip's length at :attr:`sample_rate`
        (``[n, 2]`` in stereo), before level and fades.

        Raises:
            BadInputError: a mel bundle (it has no sampler).
        """
        if not self.is_notes:
            raise BadInputError(f"{self.name} is a mel bundle: it has no sampler to play notes")
        sampler = self._voice.player.sampler
        return sampler.render(list(notes), plan.tempo_bpm, plan.instrument,
                              round(self.mel_config.duration_s * sampler.sample_rate))

    # ------------------------------------------------------------------ inside
    def _prepare(self, requests: Sequence[GenerationRequest]) -> list[Image.Image]:
        """Check every input and decode the paintings, before any model work: a bad one
        costs nothing and names itself."""
        images = []
        for r in requests:
            if r.pins is not None and r.pins.any() and not self.is_notes:
                raise BadInputError(f"controls can be pinned only with a notes bundle; "
                                    f"{self.name} is a mel bundle")
            try:
                check_user_text(r.comment, r.emotion)
            except ValueError as err:
                raise BadInputError(str(err)) from err
            images.append(load_image(r.image))  # the encoder caches the decoded pixels
        return images

    def _projector_device(self) -> torch.device:
        return next(self._projector.parameters()).device

    def _encode(self, requests: Sequence[GenerationRequest], images: list[Image.Image],
                stage: Callable[..., float] | None) -> Encoded:
        """Encode the paintings and the composite texts, and fuse them. A notes bundle's
        texts carry the painting's words (known once it is encoded), and the same
        painting is fused once more with no comment, to tell what the comment itself asks."""
        t = stage("encode", 0.0) if stage else time.perf_counter()
        with self._autocast("encoder"):
            image_feat = self.encoder.encode_images(images).float()
        bare = looks = None
        if self.is_notes:
            looks = [measure(im, subjects) for im, subjects
                     in zip(images, self.encoder.subjects(image_feat))]
            texts, bare_texts = [], []
            for r, look in zip(requests, looks):
                hints = r.music_hints()
                texts.append(build_prompt(r.comment, hints, r.emotion, self.config.prompt,
                                          painting_words(look, r.comment)).text)
                bare_texts.append(build_prompt("", hints, None, self.config.prompt,
                                               painting_words(look)).text)
            feats = self.encoder.encode_texts(texts + bare_texts).float()
            text_feat, bare_feat = feats[:len(texts)], feats[len(texts):]
        else:
            texts = [build_prompt(r.comment, r.music_hints(), r.emotion,
                                  self.config.prompt).text for r in requests]
            with self._autocast("encoder"):
                text_feat = self.encoder.encode_texts(texts).float()
        device = self._projector_device()
        image_feat = image_feat.to(device)
        fused = self._projector(text_feat.to(device), image_feat)
        if looks is not None:
            bare = self._projector(bare_feat.to(device), image_feat)
        return Encoded(fused, [r.seed for r in requests], painting_keys(images), texts,
                       [r.comment for r in requests],
                       [r.notes_pins() if self.is_notes else None for r in requests],
                       [r.variation for r in requests], list(requests), bare, looks,
                       encode_s=time.perf_counter() - t)

    def _autocast(self, stage: str) -> torch.autocast:
        """The runtime's autocast for one stage (a no-op at fp32)."""
        dtype = self._dtypes[stage]
        return torch.autocast(self.device.type, dtype=dtype or torch.float32,
                              enabled=dtype is not None)

    def _own(self, clips: list[Clip], timings: dict[str, float] | None) -> None:
        """Name the bundle on each clip and give each the batch's stage timings."""
        for c in clips:
            c.bundle_name = self.name
            if timings is not None:
                c.timings = {**timings, **c.timings}


__all__ = ["A2MError", "Art2Music", "Clip", "GenerationRequest", "resolve_device"]
