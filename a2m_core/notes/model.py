"""The two small networks of a notes bundle, in the order they are read: the vocabulary
(``score``'s event tokens), :class:`Controls` (the plan's numbers as the networks see them:
normalising and clamping live there, once), :class:`ControlHead` with its loss, and
:class:`NoteModel`, whose ``forward`` (teacher forcing) and ``sample`` run the same step.

``ControlHead``: fused painting+comment vector ``[B, hidden]`` -> a distribution over the
plan's controls (Gaussian for tempo, notes per beat, register, articulation and loudness,
categorical for mode, instrument and texture). Sampling shares one draw per clip across
comments: with the same seed (or the same painting) a comment whose distribution sits at a
faster tempo gets the faster tempo, so the comment moves the plan the way it asks.

``NoteModel``: a GRU over the event tokens of ``score`` (a few million parameters; a GRU
step costs a fraction of a millisecond on a CPU, so a clip's ~300 tokens take ~0.1 s),
conditioned on the plan and the fused vector. It plays in a canonical key (tonic C); the
plan's tonic (the painting's hue key, ``steering``, else drawn) transposes the notes
afterwards, so the key is exact.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from . import score
from .plan import INSTRUMENTS, MODES, TEMPO_RANGE, TEXTURES, Plan
from .steering import Steer

VOCAB = score.VOCAB  # the event tokens: BOS, EOS, BAR, positions, pitches, durations
# Continuous controls and their normalisation: (name, centre, scale) of the value the head
# predicts (log tempo, log notes per beat, MIDI pitch, log articulation, velocity).
CONTINUOUS = (("log_tempo", math.log(100.0), 0.35), ("log_npb", math.log(1.5), 0.6),
              ("register", 62.0, 8.0), ("log_artic", 0.0, 0.5), ("velocity", 80.0, 25.0))
N_COND = len(CONTINUOUS) + len(MODES) + len(TEXTURES)


@dataclass(frozen=True)
class Controls:
    """A plan's (or a corpus window's) controls as plain numbers: what the control head
    predicts and the note model is conditioned on. Normalising (``continuous``, ``cond``)
    and the way back with its limits (``from_continuous``) live here and nowhere else."""

    tempo: float  # bpm
    notes_per_beat: float
    register: float  # mean MIDI pitch
    articulation: float  # duration / inter-onset interval
    velocity: float
    mode: str = "major"
    texture: str = "melody"

    @classmethod
    def of_plan(cls, plan: Plan) -> Controls:
        """A plan's controls with its register moved into the canonical key (C), where the
        note model plays."""
        return cls(plan.tempo_bpm, plan.notes_per_beat, plan.register - shift_for(plan.tonic),
                   plan.articulation, plan.velocity, plan.mode, plan.texture)

    def continuous(self) -> list[float]:
        """The five continuous controls, normalised (the head's targets and means)."""
        raw = (math.log(max(self.tempo, 1.0)), math.log(max(self.notes_per_beat, 0.05)),
               self.register, math.log(max(self.articulation, 0.05)), self.velocity)
        return [(v - c) / s for v, (_, c, s) in zip(raw, CONTINUOUS)]

    def cond(self) -> list[float]:
        """The note model's control input: the continuous ones and the mode and texture."""
        return self.continuous() + [float(self.mode == m) for m in MODES] + [
            float(self.texture == t) for t in TEXTURES]

    @staticmethod
    def from_continuous(values: Sequence[float]) -> tuple[float, float, float, float, float]:
        """Normalised values (a head's draw) -> (tempo, notes per beat, register,
        articulation, velocity), each within what the sampler and the plan allow: tempo
        and loudness bent softly into their ranges (more is still more), the rest clamped."""
        raw = [float(v) * s + c for v, (_, c, s) in zip(values, CONTINUOUS)]
        return (soft_limit(math.exp(raw[0]), *TEMPO_RANGE, knee=0.2),
                float(min(max(math.exp(raw[1]), 0.25), 6.0)),
                float(min(max(raw[2], 40.0), 84.0)),
                float(min(max(math.exp(raw[3]), 0.2), 3.0)),
                soft_limit(raw[4], 20.0, 127.0, knee=0.15))


@dataclass(frozen=True)
class NotesConfig:
    input_dim: int = 256  # fused vector size (= projector hidden)
    embed: int = 256  # token embedding and conditioning width
    hidden: int = 384  # GRU hidden size
    layers: int = 3  # stacked GRU layers
    head_hidden: int = 256  # control head MLP width
    instruments: tuple[str, ...] = tuple(INSTRUMENTS)
    max_tokens: int = 1200  # generation stops here whatever happens
    plan_temperature: float = 0.7  # spread of the sampled plan around what the inputs ask
    note_temperature: float = 0.95  # softmax temperature of the note sampler
    top_p: float = 0.95  # nucleus of the note sampler

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["instruments"] = list(self.instruments)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NotesConfig:
        data = dict(data)
        # bundles of 2026-12-07 and before wrote the clip's length here too; it is the mel
        # convention's (``MelConfig.duration_s``), one place
        data.pop("duration_s", None)
        if "instruments" in data:
            data["instruments"] = tuple(data["instruments"])
        return cls(**data)


def soft_limit(x: float, lo: float, hi: float, knee: float) -> float:
    """``x`` kept inside ``[lo, hi]``, unchanged in the middle and bent smoothly towards the
    limit in the outer ``knee`` share of the range at each end: a plan that asks for more
    than the range still gets more (a brighter painting plays faster even near 200 bpm),
    never beyond it."""
    width = knee * (hi - lo)
    top, bottom = hi - width, lo + width
    if x > top:
        return float(top + width * math.tanh((x - top) / width))
    if x < bottom:
        return float(bottom - width * math.tanh((bottom - x) / width))
    return float(x)


def shift_for(tonic: int) -> int:
    """Semitones from the canonical key (C) to ``tonic``, the nearer way (-5..+6)."""
    return tonic if tonic <= 6 else tonic - 12


class ControlHead(nn.Module):
    def __init__(self, cfg: NotesConfig) -> None:
        super().__init__()
        self.cfg = cfg
        n_cat = len(MODES) + len(cfg.instruments) + len(TEXTURES)
        self.net = nn.Sequential(nn.Linear(cfg.input_dim, cfg.head_hidden), nn.ReLU(),
                                 nn.Linear(cfg.head_hidden, len(CONTINUOUS) + n_cat))
        # the spread of each continuous control around its prediction (learned, log)
        self.log_std = nn.Parameter(torch.zeros(len(CONTINUOUS)))

    def forward(self, fused: torch.Tensor) -> dict[str, torch.Tensor]:
        """``[B, input_dim]`` -> means ``[B, 5]`` (normalised) and logits per category."""
        out = self.net(fused)
        k, m, i = len(CONTINUOUS), len(MODES), len(self.cfg.instruments)
        return {"mean": out[:, :k], "mode": out[:, k:k + m],
                "instrument": out[:, k + m:k + m + i], "texture": out[:, k + m + i:]}

    @torch.no_grad()
    def sample(self, fused: torch.Tensor, gens: list[torch.Generator], temperature: float,
               steers: Sequence[Steer | None] | None = None) -> list[Plan]:
        """One plan per row; each row's draws come from its own generator. ``steers``: per
        row, what the painting's look adds to the head's means and logits, and its tonic
        (``steering.painting_steer``); a row without one draws its tonic."""
        out = self.forward(fused.float())
        std = self.log_std.exp()
        plans = []
        for b, gen in enumerate(gens):
            steer = steers[b] if steers is not None else None
            z = torch.randn(len(CONTINUOUS), generator=gen)
            u = torch.rand(4, generator=gen)
            mean, mode, inst = (out["mean"][b].cpu(), out["mode"][b].float().cpu(),
                                out["instrument"][b].float().cpu())
            if steer is not None:
                mean = mean + torch.tensor(steer.mean)
                lean = steer.mode + steer.comment_mode
                mode = mode + torch.tensor([lean / 2, -lean / 2])  # major, minor
                inst = inst + torch.tensor([steer.instrument.get(n, 0.0)
                                            for n in self.cfg.instruments])
            tempo, npb, register, artic, velocity = Controls.from_continuous(
                mean + temperature * std.cpu() * z)

            def pick(logits: torch.Tensor, names: tuple[str, ...], uu: float) -> str:
                p = torch.softmax(logits.float().cpu() / max(temperature, 1e-3), -1)
                idx = int(torch.searchsorted(torch.cumsum(p, 0), torch.tensor(uu)).clamp(
                    max=len(names) - 1))
                return names[idx]

            tonic = int(u[3] * 12) % 12
            if steer is not None and steer.tonic is not None:
                tonic = steer.tonic
            plans.append(Plan(
                tempo_bpm=tempo, tonic=tonic, mode=pick(mode, MODES, float(u[0])),
                notes_per_beat=npb, register=register, articulation=artic,
                velocity=velocity, instrument=pick(inst, self.cfg.instruments, float(u[1])),
                texture=pick(out["texture"][b], TEXTURES, float(u[2]))))
        return plans

    def loss(self, out: dict[str, torch.Tensor], cont: torch.Tensor,
             cats: dict[str, torch.Tensor]) -> torch.Tensor:
        """Negative log-likelihood of the targets under the head's output ``out``: Gaussian
        with the learned spread for the continuous controls (``Controls.continuous``),
        cross-entropy for mode, instrument and texture (category indices in ``cats``)."""
        nll = (0.5 * ((cont - out["mean"]) / self.log_std.exp()) ** 2 + self.log_std).mean()
        ce = sum(nn.functional.cross_entropy(out[k], v) for k, v in cats.items())
        return nll + ce / 3


class NoteModel(nn.Module):
    def __init__(self, cfg: NotesConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(score.VOCAB, cfg.embed)
        self.cond = nn.Sequential(nn.Linear(N_COND + cfg.input_dim, cfg.embed), nn.Tanh())
        self.init = nn.Linear(cfg.embed, cfg.layers * cfg.hidden)
        self.gru = nn.GRU(cfg.embed, cfg.hidden, cfg.layers, batch_first=True)
        self.out = nn.Linear(cfg.hidden, score.VOCAB)

    def condition(self, controls: torch.Tensor, fused: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, N_COND]``, ``[B, input_dim]`` -> per-step conditioning ``[B, embed]`` and
        the GRU's initial state ``[layers, B, hidden]``."""
        c = self.cond(torch.cat([controls, fused], -1))
        h0 = self.init(c).view(-1, self.cfg.layers, self.cfg.hidden).transpose(0, 1)
        return c, torch.tanh(h0).contiguous()

    def forward(self, tokens: torch.Tensor, controls: torch.Tensor, fused: torch.Tensor
                ) -> torch.Tensor:
        """Teacher forcing: tokens ``[B, L]`` -> next-token logits ``[B, L, VOCAB]``. The
        whole sequence goes through ``nn.GRU`` at once (fast to train); it is the same
        recurrence as :meth:`step`, which sampling runs token by token (a test holds the
        two equal)."""
        c, h0 = self.condition(controls, fused)
        y, _ = self.gru(self.embed(tokens) + c.unsqueeze(1), h0)
        return self.out(y)

    def step(self, x: torch.Tensor, hs: list[torch.Tensor]) -> torch.Tensor:
        """One token through the GRU's layers: input ``[1, embed]`` (the token's conditioned
        embedding), states ``hs`` (one ``[1, hidden]`` per layer, updated in place) -> the
        next token's logits ``[VOCAB]``."""
        for k in range(self.cfg.layers):
            hs[k] = torch.gru_cell(x, hs[k], getattr(self.gru, f"weight_ih_l{k}"),
                                   getattr(self.gru, f"weight_hh_l{k}"),
                                   getattr(self.gru, f"bias_ih_l{k}"),
                                   getattr(self.gru, f"bias_hh_l{k}"))
            x = hs[k]
        return torch.addmv(self.out.bias, self.out.weight, x[0])

    @torch.inference_mode()
    def sample(self, controls: torch.Tensor, fused: torch.Tensor, bars: int,
               gen: torch.Generator) -> list[int]:
        """Tokens for one clip of ``bars`` bars, drawn from ``gen`` under the event grammar
        (a position moves forward within its bar, a chord's pitches rise, a pitch is
        followed by its duration), so every drawn sequence decodes into notes.

        One token at a time (:meth:`step`) on one thread: at this size a step is a few small
        matrix-vector products, and thread hand-offs would cost more than the arithmetic
        (~0.3 ms a token on a 2-core CPU)."""
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            c, h0 = self.condition(controls.view(1, -1).float(), fused.view(1, -1).float())
            inputs = self.embed.weight + c  # [VOCAB, embed]: every token's conditioned input
            hs = [h0[k] for k in range(self.cfg.layers)]  # each [1, hidden]
            return self._draw(inputs, hs, bars, gen)
        finally:
            torch.set_num_threads(threads)

    def _draw(self, inputs: torch.Tensor, hs: list, bars: int, gen: torch.Generator
              ) -> list[int]:
        cfg = self.cfg
        # the draws: one numpy generator seeded from the clip's torch generator (per-token
        # sampling in numpy costs a fifth of torch's small-op overhead)
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=gen)))
        inv_temp = 1.0 / max(cfg.note_temperature, 1e-3)
        tokens, tok = [score.BOS], score.BOS
        n_bars, pos, last_pitch, prev = 0, -1, -1, "special"
        masked = np.empty(score.VOCAB, np.float64)
        for _ in range(cfg.max_tokens):
            logits = self.step(inputs[tok].unsqueeze(0), hs).numpy()
            masked.fill(-np.inf)
            for lo, hi in _allowed(prev, pos, last_pitch, n_bars, bars):
                masked[lo:hi] = logits[lo:hi] * inv_temp
            tok = nucleus(masked, cfg.top_p, rng)
            tokens.append(tok)
            kind = score.kind_of(tok)
            if tok == score.EOS:
                break
            if kind == "bar":
                n_bars, pos, last_pitch = n_bars + 1, -1, -1
            elif kind == "pos":
                pos, last_pitch = tok - score.POS0, -1
            elif kind == "pitch":
                last_pitch = tok - score.PITCH0 + score.LOW
            prev = kind
        return tokens


def _allowed(prev: str, pos: int, last_pitch: int, n_bars: int, bars: int
             ) -> tuple[tuple[int, int], ...]:
    """The token ranges ``[lo, hi)`` the grammar allows next."""
    if prev == "special":  # just after BOS
        return ((score.BAR, score.BAR + 1),)
    if prev == "pos":
        return ((score.PITCH0, score.DUR0),)
    if prev == "pitch":
        return ((score.DUR0, score.VOCAB),)
    # after a bar line or a duration: the bar line (or the end, once the clip is full) or a
    # later position; after a duration also a higher pitch in the same chord
    end = score.EOS if n_bars >= bars else score.BAR
    ranges = ((end, end + 1), (score.POS0 + pos + 1, score.PITCH0))
    if prev == "dur":
        ranges += ((score.PITCH0 + last_pitch - score.LOW + 1, score.DUR0),)
    return ranges


def nucleus(logits: np.ndarray, top_p: float, rng: np.random.Generator) -> int:
    """A token drawn from the smallest set of most likely tokens whose probability reaches
    ``top_p`` (Holtzman et al. 2020); ``-inf`` logits are never drawn."""
    p = np.exp(logits - logits.max())
    p /= p.sum()
    order = np.argsort(-p, kind="stable")
    ranked = p[order]
    keep = int(np.searchsorted(np.cumsum(ranked), top_p)) + 1  # tokens to keep
    ranked = ranked[:keep]
    cum = np.cumsum(ranked)
    return int(order[min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")),
                         keep - 1)])


def bars_for(plan: Plan, duration_s: float) -> int:
    """Bars the note model must fill so the notes last the whole clip."""
    beats = duration_s * plan.tempo_bpm / 60.0
    return int(math.ceil(beats / score.BEATS_PER_BAR))


def realise(tokens: list[int], plan: Plan, duration_s: float) -> list[score.Note]:
    """Tokens -> the plan's notes: transposed to its key, at its loudness (downbeats a
    little stronger), played as long as its articulation says (written durations are
    legato: the corpus scores carry no articulation marks), cut at the clip's end."""
    beats = duration_s * plan.tempo_bpm / 60.0
    shift = shift_for(plan.tonic)
    factor = min(max(plan.articulation, 0.4), 1.15)
    out = []
    for n in score.decode(tokens):
        if n.onset >= beats:
            continue
        accent = 8 if n.onset % score.BEATS_PER_BAR == 0 else 0
        vel = int(min(127, max(1, round(plan.velocity + accent))))
        out.append(score.Note(n.onset, min(n.duration * factor, beats - n.onset + 0.5),
                              min(127, max(0, n.pitch + shift)), vel, n.part))
    return score.one_voice_per_pitch(out)
