"""What a notes bundle does with one fused vector: plan, notes, sound.

``NotePlayer.play(fused, generator, pins)`` draws the plan from the control head (pinned
controls put in), samples the notes under it, and plays them on the sampler. Every draw
comes from the clip's generator, in that order, so a seed (or the painting, when there is
no seed) replays the clip exactly.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ..audio import MelConfig
from ..painting import PaintingLook
from .model import ControlHead, Controls, NoteModel, NotesConfig, bars_for, realise
from .plan import MODES, Pins, Plan
from .sampler import Sampler, SamplerConfig
from .score import Note
from .steering import led_by_comment, painting_steer, why_line

# Loudness follows the plan's dynamics: dB per velocity step around mf (84), so pp plays
# about 7 dB under the bundle's loudness target and ff about 5 dB over (then the ceiling).
DB_PER_VELOCITY = 0.15


@dataclass
class Reading:
    """What the plan needs beyond the fused vector to follow the painting's look, let the
    comment lead, and say why."""

    look: PaintingLook | None = None  # None: the painting steers only through the network
    bare: torch.Tensor | None = None  # fused vector of the same painting with no comment
    comment_words: tuple[str, ...] = ()  # the comment's feeling words, to quote
    has_comment: bool = True
    speaks: bool = True  # the comment names a feeling (feeling words, or an emotion label)
    pins: Pins | None = None  # the person's own pins (not the instrument the hints name)
    hinted: str | None = None  # the instrument the music hints name


@dataclass
class Performance:
    plan: Plan
    notes: list[Note]
    wave: np.ndarray  # raw sampler output, float32 [n_samples, 2] (mono configs: [n])
    timings: dict[str, float] = field(default_factory=dict)

    def loudness_offset_db(self) -> float:
        return DB_PER_VELOCITY * (self.plan.velocity - 84.0)


class NotePlayer:
    def __init__(self, head: ControlHead, model: NoteModel, cfg: NotesConfig,
                 sampler: SamplerConfig, mel: MelConfig) -> None:
        self.head, self.model, self.cfg, self.mel = head, model, cfg, mel
        self.sampler = Sampler(sampler)

    @torch.no_grad()
    def plan(self, fused: torch.Tensor, gen: torch.Generator, pins: Pins | None = None,
             temperature: float | None = None, reading: Reading | None = None) -> Plan:
        """The plan of one fused vector ``[input_dim]``: the head's draw, steered by the
        painting's look where ``reading`` has one (the comment leading), pinned controls put
        in, and the why-line."""
        temp = self.cfg.plan_temperature if temperature is None else temperature
        reading = reading or Reading()
        row = fused.view(1, -1).float()
        steer = push = None
        mode_push = 0.0
        if reading.bare is not None and reading.has_comment and not reading.speaks:
            # "I keep looking at this picture" names no feeling: the painting's plan, whatever
            # the head makes of the words (the notes still hear the whole text)
            row = reading.bare.view(1, -1).float()
        elif reading.bare is not None and reading.has_comment:
            with_c, without = self.head(row), self.head(reading.bare.view(1, -1).float())
            push = (with_c["mean"][0] - without["mean"][0]).numpy()
            major, minor = MODES.index("major"), MODES.index("minor")
            mode_push = float((with_c["mode"][0, major] - with_c["mode"][0, minor])
                              - (without["mode"][0, major] - without["mode"][0, minor]))
        if reading.look is not None:
            steer = painting_steer(reading.look, self.cfg.instruments)
            if push is not None:
                steer = led_by_comment(steer, push, mode_push)
        plan = self.head.sample(row, [gen], temp, [steer])[0]
        if pins is not None:
            plan = pins.apply(plan)
        why = why_line(reading.look, steer, list(reading.comment_words), push, mode_push,
                       reading.has_comment, reading.pins, reading.hinted, reading.speaks)
        return replace(plan, why=why)

    @torch.inference_mode()
    def play(self, fused: torch.Tensor, gen: torch.Generator, pins: Pins | None = None,
             temperature: float | None = None, reading: Reading | None = None
             ) -> Performance:
        """``fused [input_dim]`` -> the plan, its notes and their sound."""
        t0 = time.perf_counter()
        plan = self.plan(fused, gen, pins, temperature, reading)
        t1 = time.perf_counter()
        duration = self.mel.duration_s
        cond = torch.tensor(Controls.of_plan(plan).cond(), dtype=torch.float32)
        tokens = self.model.sample(cond, fused.float().cpu(), bars_for(plan, duration), gen)
        notes = realise(tokens, plan, duration)
        t2 = time.perf_counter()
        wave = self.sampler.check_sound(notes, plan.tempo_bpm, plan.instrument,
                                        round(duration * self.sampler.sample_rate))
        t3 = time.perf_counter()
        return Performance(plan, notes, wave,
                           {"plan": t1 - t0, "notes": t2 - t1, "sampler": t3 - t2})
