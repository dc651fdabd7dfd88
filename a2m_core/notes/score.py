"""Notes, the event vocabulary the note model speaks, true controls, and MIDI files.

A note is ``(onset, duration)`` in beats (quarter notes), a MIDI pitch, a velocity and a
part. The token vocabulary is REMI-like and compact (Huang & Yang 2020): a ``BAR`` at each
bar line, ``POS_k`` for the onset's position in the bar in quarter-beat steps, then one
``PITCH_p DUR_d`` pair per note starting there (lowest pitch first). Bars are four beats;
tempo lives outside the tokens (in the plan), so the same tokens play at any tempo.

True controls (``measure``) are computed from the notes themselves, so a corpus window's
caption and the model's training targets say what the window holds.
"""
from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

STEPS_PER_BEAT = 4  # onset and duration grid: sixteenth notes
BEATS_PER_BAR = 4
POSITIONS = STEPS_PER_BEAT * BEATS_PER_BAR
MAX_DUR = 16  # longest note in grid steps (4 beats); longer notes are cut to it
LOW, HIGH = 24, 96  # MIDI pitch range of the vocabulary (C1..C7)

PAD, BOS, EOS, BAR = 0, 1, 2, 3
POS0 = 4
PITCH0 = POS0 + POSITIONS
DUR0 = PITCH0 + (HIGH - LOW + 1)
VOCAB = DUR0 + MAX_DUR  # DUR_1..DUR_MAX

NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# Krumhansl-Kessler key profiles (Krumhansl 1990), major and minor, tonic first.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@dataclass(frozen=True)
class Note:
    onset: float  # beats from the window's start
    duration: float  # beats
    pitch: int  # MIDI
    velocity: int = 80
    part: int = 0


# --------------------------------------------------------------------------- tokens

def encode(notes: Sequence[Note], beats: float | None = None) -> list[int]:
    """Notes -> tokens ``[BOS, BAR, POS, PITCH, DUR, ..., EOS]`` on the grid (pitches
    outside the vocabulary are moved by octaves into it)."""
    grid: dict[int, list[tuple[int, int]]] = {}
    for n in notes:
        step = int(round(n.onset * STEPS_PER_BEAT))
        if step < 0 or (beats is not None and n.onset >= beats):
            continue
        dur = int(np.clip(round(n.duration * STEPS_PER_BEAT), 1, MAX_DUR))
        p = n.pitch
        while p < LOW:
            p += 12
        while p > HIGH:
            p -= 12
        grid.setdefault(step, []).append((p, dur))
    tokens = [BOS]
    last = max(grid) if grid else -1
    n_bars = last // POSITIONS + 1 if beats is None else int(np.ceil(beats / BEATS_PER_BAR))
    for b in range(max(n_bars, 0)):
        tokens.append(BAR)
        for pos in range(POSITIONS):
            chord = grid.get(b * POSITIONS + pos)
            if not chord:
                continue
            tokens.append(POS0 + pos)
            for p, d in sorted(set(chord)):
                tokens += [PITCH0 + p - LOW, DUR0 + d - 1]
    tokens.append(EOS)
    return tokens


def decode(tokens: Iterable[int], velocity: int = 80) -> list[Note]:
    """Tokens -> notes (ill-formed stretches, e.g. a pitch with no duration, are skipped)."""
    notes, bar, pos, pitch = [], -1, None, None
    for t in tokens:
        t = int(t)
        if t == EOS:
            break
        if t == BAR:
            bar, pos, pitch = bar + 1, None, None
        elif POS0 <= t < PITCH0:
            pos, pitch = t - POS0, None
        elif PITCH0 <= t < DUR0:
            pitch = t - PITCH0 + LOW
        elif DUR0 <= t < VOCAB and pitch is not None and pos is not None and bar >= 0:
            steps = bar * POSITIONS + pos
            notes.append(Note(steps / STEPS_PER_BEAT, (t - DUR0 + 1) / STEPS_PER_BEAT, pitch,
                              velocity))
            pitch = None
    return notes


def kind_of(token: int) -> str:
    """"bar", "pos", "pitch", "dur" or "special": what a token is (the sampler's grammar)."""
    if token == BAR:
        return "bar"
    if POS0 <= token < PITCH0:
        return "pos"
    if PITCH0 <= token < DUR0:
        return "pitch"
    if DUR0 <= token < VOCAB:
        return "dur"
    return "special"


def one_voice_per_pitch(notes: Sequence[Note]) -> list[Note]:
    """A note ends where the next note of the same pitch begins, as on a real instrument
    (and as MIDI can say: one key cannot be pressed twice at once)."""
    notes = sorted(notes, key=lambda n: (n.onset, n.pitch))
    next_on: dict[int, float] = {}
    out = []
    for n in reversed(notes):
        nxt = next_on.get(n.pitch)
        dur = n.duration if nxt is None or nxt <= n.onset else min(n.duration, nxt - n.onset)
        out.append(Note(n.onset, dur, n.pitch, n.velocity, n.part))
        next_on[n.pitch] = n.onset
    return out[::-1]


# --------------------------------------------------------------------------- analysis

def pitch_class_histogram(notes: Sequence[Note]) -> np.ndarray:
    hist = np.zeros(12)
    for n in notes:
        hist[n.pitch % 12] += n.duration
    return hist


def detect_key(notes: Sequence[Note]) -> tuple[int, str, float]:
    """``(tonic pitch class, "major"|"minor", clarity)``: the best Krumhansl-Kessler
    correlation of the duration-weighted pitch-class histogram."""
    hist = pitch_class_histogram(notes)
    if hist.sum() == 0 or np.ptp(hist) == 0:
        return 0, "major", 0.0
    best = (-2.0, 0, "major")
    for mode, prof in (("major", KK_MAJOR), ("minor", KK_MINOR)):
        for k in range(12):
            r = float(np.corrcoef(hist, np.roll(prof, k))[0, 1])
            if r > best[0]:
                best = (r, k, mode)
    return best[1], best[2], best[0]


def transpose(notes: Sequence[Note], semitones: int) -> list[Note]:
    return [Note(n.onset, n.duration, n.pitch + semitones, n.velocity, n.part) for n in notes]


@dataclass(frozen=True)
class Measured:
    """What a window of notes holds (the true controls, tempo aside)."""

    tonic: int  # pitch class
    mode: str  # "major" or "minor"
    key_clarity: float
    notes_per_beat: float  # onsets (chords count once) per beat
    register: float  # mean MIDI pitch
    articulation: float  # mean duration / inter-onset interval (>= 1 legato, < 0.7 detached)
    polyphony: float  # mean notes sounding at a time while any sounds


def measure(notes: Sequence[Note], beats: float) -> Measured:
    tonic, mode, clarity = detect_key(notes)
    if not notes:
        return Measured(tonic, mode, clarity, 0.0, 60.0, 1.0, 0.0)
    onsets = sorted({round(n.onset * STEPS_PER_BEAT) for n in notes})
    ioi = np.diff(onsets) / STEPS_PER_BEAT if len(onsets) > 1 else np.array([1.0])
    mean_ioi = float(np.median(ioi)) if len(ioi) else 1.0
    # articulation per voice-less texture: a note's length against the gap to the next onset
    durs = np.array([n.duration for n in notes])
    artic = float(np.clip(np.median(durs) / max(mean_ioi, 1e-3), 0.1, 4.0))
    sounding = sum(n.duration for n in notes)
    covered = _union_length([(n.onset, n.onset + n.duration) for n in notes])
    return Measured(tonic, mode, clarity, len(onsets) / max(beats, 1e-3),
                    float(np.mean([n.pitch for n in notes])), artic,
                    float(sounding / max(covered, 1e-6)))


def _union_length(spans: list[tuple[float, float]]) -> float:
    total, end = 0.0, -np.inf
    for a, b in sorted(spans):
        if a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


def longest_shared_run(a: Sequence[tuple[int, int]], index: dict[int, set]) -> int:
    """Longest run of consecutive events of ``a`` that also occurs, consecutively, in any
    indexed sequence (``run_index``)."""
    best = 0
    for i in range(len(a)):
        # a longer run from i contains one of length best + 1: only that needs checking
        n = best + 1
        while i + n <= len(a) and tuple(a[i:i + n]) in index.get(n, ()):
            best, n = n, n + 1
    return best


def melody_events(notes: Sequence[Note]) -> list[tuple[int, int]]:
    """The top line as (pitch interval, duration in grid steps) events: what "the same tune"
    means when comparing a generated window with training windows."""
    top: dict[int, Note] = {}
    for n in notes:
        step = round(n.onset * STEPS_PER_BEAT)
        if step not in top or n.pitch > top[step].pitch:
            top[step] = n
    line = [top[s] for s in sorted(top)]
    return [(b.pitch - a.pitch, round(b.duration * STEPS_PER_BEAT))
            for a, b in zip(line, line[1:])]


def run_index(sequences: Iterable[Sequence[tuple[int, int]]], max_n: int = 64
              ) -> dict[int, set]:
    """Every run of 1..max_n consecutive events of the sequences, by length."""
    index: dict[int, set] = {}
    for seq in sequences:
        for n in range(1, min(max_n, len(seq)) + 1):
            bucket = index.setdefault(n, set())
            for i in range(len(seq) - n + 1):
                bucket.add(tuple(seq[i:i + n]))
    return index


# --------------------------------------------------------------------------- MIDI

def _latin1(text: str) -> str:
    """MIDI text events are Latin-1: arrows become "->", anything else unwritable "?"."""
    return text.replace("→", "->").encode("latin-1", "replace").decode("latin-1")


def to_midi_bytes(notes: Sequence[Note], bpm: float, program: int, ppq: int = 480,
                  key: str | None = None, text: str = "", name: str = "") -> bytes:
    """A standard MIDI file (type 1): a conductor track with the tempo, the time signature,
    the key signature (``key`` as ``"F# minor"``) and ``text`` (the plan, for a person who
    opens it in a DAW), then one track per part, named (``name``, e.g. the instrument) and
    with its program."""
    import mido

    mid = mido.MidiFile(type=1, ticks_per_beat=ppq)
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("track_name", name="Art2Music", time=0))
    meta.append(mido.MetaMessage("set_tempo", tempo=int(round(60_000_000 / bpm)), time=0))
    meta.append(mido.MetaMessage("time_signature", numerator=BEATS_PER_BAR, denominator=4,
                                 time=0))
    if key:
        tonic, _, mode = key.partition(" ")
        meta.append(mido.MetaMessage("key_signature",
                                     key=tonic + ("m" if mode == "minor" else ""), time=0))
    if text:
        meta.append(mido.MetaMessage("text", text=_latin1(text), time=0))
    mid.tracks.append(meta)
    parts = sorted({n.part for n in notes}) or [0]
    for k, part in enumerate(parts):
        chan = k % 16 if k % 16 != 9 else 10
        track = mido.MidiTrack()
        label = f"{name} {k + 1}" if name and len(parts) > 1 else name or f"part {k + 1}"
        track.append(mido.MetaMessage("track_name", name=_latin1(label), time=0))
        track.append(mido.Message("program_change", program=program, channel=chan, time=0))
        events = []
        for n in notes:
            if n.part != part:
                continue
            on = int(round(n.onset * ppq))
            off = max(on + 1, int(round((n.onset + n.duration) * ppq)))
            events.append((on, 1, n.pitch, n.velocity))
            events.append((off, 0, n.pitch, 0))
        now = 0
        for tick, is_on, pitch, vel in sorted(events, key=lambda e: (e[0], e[1])):
            kind = "note_on" if is_on else "note_off"
            track.append(mido.Message(kind, note=pitch, velocity=vel, channel=chan,
                                      time=tick - now))
            now = tick
        mid.tracks.append(track)
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def read_midi(path: str | Path) -> tuple[list[Note], float]:
    """Notes (in beats) and the first tempo (bpm, 120 when none) of a MIDI file."""
    import mido

    mid = mido.MidiFile(str(path))
    ppq, bpm = mid.ticks_per_beat, None
    notes = []
    for k, track in enumerate(mid.tracks):
        now, open_ = 0, {}
        for msg in track:
            now += msg.time
            if msg.type == "set_tempo" and bpm is None:
                bpm = mido.tempo2bpm(msg.tempo)
            if msg.type == "note_on" and msg.velocity > 0:
                open_[(msg.channel, msg.note)] = (now, msg.velocity)
            elif msg.type in ("note_off", "note_on") and (msg.channel, msg.note) in open_:
                start, vel = open_.pop((msg.channel, msg.note))
                notes.append(Note(start / ppq, max(now - start, 1) / ppq, msg.note, vel, k))
    notes.sort(key=lambda n: (n.onset, n.pitch))
    return notes, float(bpm or 120.0)
