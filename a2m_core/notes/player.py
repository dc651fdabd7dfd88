"""What a notes bundle does with one fused vector: plan, notes, sound.

``NotePlayer.play(fused, generator, pins)`` draws the plan from the control head (pinned
controls put in), samples the notes under it, and plays them on the sampler. Every draw
comes from the clip's generator, in that order, so a seed (or the painting, when there is
no seed) replays the clip exactly.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..audio import MelConfig
from .model import ControlHead, NoteModel, NotesConfig, bars_for, plan_cond, realise
from .plan import Pins, Plan
from .sampler import Sampler, SamplerConfig
from .score import Note

# Loudness follows the plan's dynamics: dB per velocity step around mf (84), so pp plays
# about 7 dB under the bundle's loudness target and ff about 5 dB over (then the ceiling).
DB_PER_VELOCITY = 0.15


@dataclass
class Performance:
    plan: Plan
    notes: list[Note]
    wave: np.ndarray  # raw sampler output, float32 [n_samples]
    timings: dict[str, float] = field(default_factory=dict)

    def loudness_offset_db(self) -> float:
        return DB_PER_VELOCITY * (self.plan.velocity - 84.0)


class NotePlayer:
    def __init__(self, head: ControlHead, model: NoteModel, cfg: NotesConfig,
                 sampler: SamplerConfig, mel: MelConfig) -> None:
        self.head, self.model, self.cfg, self.mel = head, model, cfg, mel
        self.sampler = Sampler(sampler, mel.sample_rate)

    def plan(self, fused: torch.Tensor, gen: torch.Generator, pins: Pins | None = None,
             temperature: float | None = None) -> Plan:
        temp = self.cfg.plan_temperature if temperature is None else temperature
        plan = self.head.sample(fused.view(1, -1), [gen], temp)[0]
        return pins.apply(plan) if pins is not None else plan

    @torch.inference_mode()
    def play(self, fused: torch.Tensor, gen: torch.Generator, pins: Pins | None = None,
             temperature: float | None = None) -> Performance:
        """``fused [input_dim]`` -> the plan, its notes and their sound."""
        t0 = time.perf_counter()
        plan = self.plan(fused, gen, pins, temperature)
        t1 = time.perf_counter()
        duration = self.mel.duration_s
        cond = torch.tensor(plan_cond(plan), dtype=torch.float32)
        tokens = self.model.sample(cond, fused.float().cpu(), bars_for(plan, duration), gen)
        notes = realise(tokens, plan, duration)
        t2 = time.perf_counter()
        wave = self.sampler.render(notes, plan.tempo_bpm, plan.instrument, self.mel.n_samples)
        t3 = time.perf_counter()
        return Performance(plan, notes, wave,
                           {"plan": t1 - t0, "notes": t2 - t1, "sampler": t3 - t2})
