"""The notes voice: each fused vector -> a plan (steered by the painting's look, the comment
leading) -> notes -> the SoundFont sampler, finished at the loudness its dynamics ask for.
A clip's mel is the mel of its sound."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import numpy as np
import torch

from .. import postprocess
from ..audio import MelConfig, mono_at, wave_to_mel_torch
from ..bundle import GenerationConfig
from ..clip import Clip, StreamChunk, chunked
from ..prompt import feeling_words
from ..voice import CancelCheck, Encoded, Stage, generators
from .model import ControlHead, NoteModel, NotesConfig
from .player import NotePlayer, Reading
from .sampler import SamplerConfig
from .styles import genre_note, unplayable_genre

STREAM_CHUNK_S = 0.5  # the sampler plays a clip in ~0.03 s: a stream is the clip in pieces


class NotesVoice:
    """A notes bundle's control head, note model and sampler (on the CPU, where a token
    step is cheapest)."""

    name = "SoundFont sampler"

    def __init__(self, head: ControlHead, model: NoteModel, cfg: NotesConfig,
                 sampler: SamplerConfig, mel_config: MelConfig) -> None:
        self.mel_config = mel_config
        self.player = NotePlayer(head, model, cfg, sampler, mel_config)
        self.sample_rate = self.player.sampler.sample_rate  # the sound's (44.1 kHz)
        self.channels = self.player.sampler.channels

    def mel_of(self, audio: np.ndarray) -> np.ndarray:
        """The mel picture of a clip's sound: its channels together, at the mel convention's
        rate (the clip itself stays at its own rate, in stereo)."""
        mono = mono_at(audio, self.sample_rate, self.mel_config.sample_rate)
        n = self.mel_config.n_samples
        mono = np.pad(mono, (0, max(0, n - len(mono))))[:n].astype(np.float32)
        return wave_to_mel_torch(torch.from_numpy(mono), self.mel_config).numpy()

    def readings(self, batch: Encoded) -> list[Reading]:
        """What each plan follows beside its fused vector: the look, and, for requests, the
        painting alone (to tell what the comment itself asks) and the comment's words."""
        looks = batch.looks or [None] * len(batch)
        if batch.requests is None or batch.bare is None:
            return [Reading(look=look) for look in looks]
        out = []
        for i, (r, look) in enumerate(zip(batch.requests, looks)):
            words = tuple(feeling_words(r.comment))
            out.append(Reading(look, batch.bare[i], words, r.has_comment,
                               bool(words or r.emotion), r.pins, r.hinted_instrument()))
        return out

    def clips(self, batch: Encoded, gen: GenerationConfig, stage: Stage | None,
              on_mel: Callable[[np.ndarray], None] | None, cancel: CancelCheck,
              timings: dict[str, float]) -> list[Clip]:
        gens = generators(batch.seeds, batch.keys)
        readings = self.readings(batch)
        clips = []
        for i in range(len(batch)):
            if stage is not None:
                stage("notes", 0.25 + 0.7 * i / len(batch))
            temperature = batch.variations[i]
            if temperature is None:
                temperature = gen.plan_temperature
            perf = self.player.play(batch.fused[i], gens[i], batch.pins[i], temperature,
                                    readings[i])
            level = (None if gen.loudness_lufs is None
                     else gen.loudness_lufs + perf.loudness_offset_db())
            audio = postprocess.finish(perf.wave, self.sample_rate, level, gen.peak_dbfs,
                                       gen.fade_ms)
            mel = self.mel_of(audio)
            if on_mel:
                on_mel(mel)
            plan, remarks = perf.plan, []
            hints = batch.requests[i].hint_texts() if batch.requests else []
            genre = unplayable_genre(hints)
            if genre:  # never ignored in silence: said in one line, and in the why-line
                remarks.append(genre_note(hints) or "")
                plan = replace(plan, why=f"{plan.why} · '{genre[0]}' is not played here "
                                         f"(nearest: {genre[1]})")
            clips.append(Clip(audio=audio, sample_rate=self.sample_rate,
                              mel=mel.astype(np.float32), prompt=batch.prompts[i],
                              comment=batch.comments[i], seed=batch.seeds[i],
                              timings={**timings, **perf.timings}, plan=plan,
                              notes=perf.notes, look=readings[i].look, remarks=remarks))
        return clips

    def stream(self, batch: Encoded, gen: GenerationConfig, stage: Stage,
               cancel: CancelCheck, pacing: object, timings: dict[str, float]
               ) -> Iterator[StreamChunk]:
        """The finished clip in chunks: its level and samples equal ``clips``' exactly."""
        clip = self.clips(batch, gen, stage, None, cancel, timings)[0]
        yield from chunked(clip, int(self.sample_rate * STREAM_CHUNK_S))
