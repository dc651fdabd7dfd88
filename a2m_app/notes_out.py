"""Live notes out: while a notes clip plays, each of its notes goes out as it sounds.

As OSC ``/a2m/note i:pitch i:velocity f:duration_s i:part`` (TouchDesigner lights a lamp on
each note, Max plays its own synth) and, optionally, on a virtual MIDI output port (mido +
python-rtmidi: Ableton, Max or TouchDesigner play the notes on their own instruments).

"As it sounds" is read off the audio clock, not a timer started beside it: the audio
callback marks which sample of which clip it is handing the device (:class:`AudioClock`), and
the note thread (:class:`NoteTicker`) sends each note when the clock reaches it. A clip that
stalls while streaming, loops, or fades into the next scene keeps its notes in step.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

NOTE_ADDRESS = "/a2m/note"  # i:pitch i:velocity f:duration_s i:part
POLL_S = 0.002  # the note thread's longest sleep: a note is sent at most ~2 ms late
IDLE_S = 0.25  # its sleep while no clip is followed (follow() wakes it at once)
STALE_S = 0.25  # a clip whose clock was not marked for this long is no longer playing
FIRST_SIGHT_S = 0.25  # notes this far behind the clock when a clip is first seen still go
WRAP_S = 0.1  # a clock that went back more than this looped


@dataclass(frozen=True)
class TimedNote:
    """A note in seconds from its clip's start."""

    start: float
    pitch: int
    velocity: int
    duration: float
    part: int = 0


def timed_notes(clip: Any) -> list[TimedNote]:
    """A notes clip's notes in seconds, in order (empty for a mel bundle's clip)."""
    if getattr(clip, "notes", None) is None or getattr(clip, "plan", None) is None:
        return []
    sec = 60.0 / clip.plan.tempo_bpm
    length = len(clip.audio) / clip.sample_rate
    out = [TimedNote(n.onset * sec, int(n.pitch), int(n.velocity), n.duration * sec,
                     int(n.part)) for n in clip.notes if n.velocity > 0]
    return sorted((n for n in out if n.start < length), key=lambda n: (n.start, n.pitch))


class AudioClock:
    """Where each playing clip is: ``mark(key, sample, rate)`` from the audio callback at
    every block (the first sample it hands the device), ``position(key)`` from any thread
    (seconds into the clip now, between two marks by the monotonic clock)."""

    def __init__(self) -> None:
        self._marks: dict[Any, tuple[int, int, float, int]] = {}
        self._lock = threading.Lock()

    def mark(self, key: Any, sample: int, rate: int, frames: int) -> None:
        """``frames`` samples from ``sample`` on go to the device now (0: stalled)."""
        with self._lock:
            self._marks[key] = (sample, rate, time.monotonic(), frames)

    def forget(self, key: Any) -> None:
        with self._lock:
            self._marks.pop(key, None)

    def playing(self) -> dict[Any, float]:
        """Each clip marked within the last :data:`STALE_S`, with its position in seconds."""
        now = time.monotonic()
        with self._lock:
            marks = dict(self._marks)
        # between two marks the clip moves on by the clock, never past the block it was given
        return {k: (sample + min((now - at) * rate, frames)) / rate
                for k, (sample, rate, at, frames) in marks.items() if now - at <= STALE_S}


class NoteSink(Protocol):
    def note_on(self, note: TimedNote) -> None: ...
    def note_off(self, note: TimedNote) -> None: ...
    def close(self) -> None: ...


class OscNotes:
    """``/a2m/note`` to ``host:port`` (UDP) as each note starts."""

    def __init__(self, host: str, port: int) -> None:
        from pythonosc.udp_client import SimpleUDPClient

        self.target = (host, port)
        self._client = SimpleUDPClient(host, port)

    def note_on(self, note: TimedNote) -> None:
        self._client.send_message(NOTE_ADDRESS, [note.pitch, note.velocity,
                                                 float(note.duration), note.part])

    def note_off(self, note: TimedNote) -> None:
        pass  # the message carries the duration

    def close(self) -> None:
        self._client._sock.close()


class MidiNotes:
    """Note on and off on a virtual MIDI output port named ``name`` (one channel per part).

    Raises:
        OSError: no MIDI backend here (no ALSA sequencer, CoreMIDI or Windows MIDI), or
        python-rtmidi is not installed; the message says which.
    """

    def __init__(self, name: str = "Art2Music") -> None:
        try:
            import mido

            self.port = mido.Backend("mido.backends.rtmidi").open_output(name, virtual=True)
        except ImportError as err:
            raise OSError("a virtual MIDI port needs python-rtmidi: pip install "
                          "python-rtmidi") from err
        except Exception as err:  # noqa: BLE001 - rtmidi's SystemError and friends
            raise OSError(f"cannot open a virtual MIDI port here: {err}") from err
        self.name = name
        self._mido = mido

    def note_on(self, note: TimedNote) -> None:
        self.port.send(self._mido.Message("note_on", channel=note.part % 16, note=note.pitch,
                                          velocity=max(1, min(127, note.velocity))))

    def note_off(self, note: TimedNote) -> None:
        self.port.send(self._mido.Message("note_off", channel=note.part % 16, note=note.pitch))

    def close(self) -> None:
        self.port.close()


def parse_target(target: str) -> tuple[str, int]:
    """"host:port" -> (host, port).

    Raises:
        ValueError: not host:port, in one line a person can act on.
    """
    host, _, port = target.strip().rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"'{target}' is not host:port (e.g. 127.0.0.1:9001)")
    return host, int(port)


def sinks_for(target: str = "", midi_port: str | None = None) -> list[NoteSink]:
    """OSC to ``target`` ("host:port"; "" none) and a virtual MIDI port named
    ``midi_port`` (None: none).

    Raises:
        ValueError: a bad target. OSError: no MIDI backend here.
    """
    sinks: list[NoteSink] = []
    if target.strip():
        sinks.append(OscNotes(*parse_target(target)))
    if midi_port:
        sinks.append(MidiNotes(midi_port))
    return sinks


def midi_port_names() -> list[str]:
    """The MIDI outputs other programs see (empty where there is no backend)."""
    try:
        import mido

        return list(mido.Backend("mido.backends.rtmidi").get_output_names())
    except Exception:  # noqa: BLE001 - no backend, no ports
        return []


class NoteTicker:
    """Sends the notes of the clips the clock says are playing, as they sound.

    ``follow(key, notes, length_s)`` says which notes a clip (its clock key) holds; the
    thread sends each one once per pass of the clip (a looping clip sends them again).
    ``sent`` keeps ``(clock position, note)`` of each note-on, for measurements.
    """

    def __init__(self, clock: AudioClock, sinks: Sequence[NoteSink]) -> None:
        self.clock, self.sinks = clock, list(sinks)
        self._clips: dict[Any, tuple[list[TimedNote], float, bool]] = {}
        self._last: dict[Any, float] = {}
        self._offs: list[tuple[Any, float, TimedNote]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()  # a clip to follow, or the end
        self.sent: list[tuple[float, TimedNote]] = []
        self._thread = threading.Thread(target=self._run, name="a2m-notes", daemon=True)
        self._thread.start()

    def follow(self, key: Any, notes: Sequence[TimedNote], length_s: float,
               loops: bool = False) -> None:
        """``loops``: the clip starts again at its end (its notes go out again); else its
        clock stops at its end."""
        with self._lock:
            self._clips[key] = (list(notes), max(length_s, 1e-3), loops)
            self._last.pop(key, None)
        self._wake.set()

    def drop(self, key: Any) -> None:
        """Forget a clip (it stopped): its sounding MIDI notes end now."""
        with self._lock:
            self._clips.pop(key, None)
            self._last.pop(key, None)
            ending = [n for k, _, n in self._offs if k == key]
            self._offs = [o for o in self._offs if o[0] != key]
        for note in ending:
            self._each(lambda s, n=note: s.note_off(n))

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(2.0)
        for key in list(self._clips):
            self.drop(key)
        for sink in self.sinks:
            try:
                sink.close()
            except Exception:  # noqa: BLE001 - closing must not raise on the way out
                log.debug("closing a note sink failed", exc_info=True)

    def _each(self, call: Any) -> None:
        for sink in self.sinks:
            try:
                call(sink)
            except Exception as err:  # noqa: BLE001 - a lost datagram must not stop the notes
                log.warning("a note could not be sent: %s", err)

    def _run(self) -> None:
        while not self._stop.is_set():
            playing = self.clock.playing()
            with self._lock:
                due_on, due_off = self._due(playing)
            for pos, note in due_on:
                self._each(lambda s, n=note: s.note_on(n))
                self.sent.append((pos, note))
            for note in due_off:
                self._each(lambda s, n=note: s.note_off(n))
            # nothing to follow: no need to look 500 times a second (follow() wakes it)
            self._wake.wait(POLL_S if self._clips or self._offs else IDLE_S)
            self._wake.clear()

    def _due(self, playing: dict[Any, float]) -> tuple[list, list[TimedNote]]:
        """The note-ons whose start the clock passed since the last look (a looping clip
        passes its end and starts again), and the note-offs whose time has come."""
        on: list[tuple[float, TimedNote]] = []
        mono = time.monotonic()
        for key, (notes, length, loops) in self._clips.items():
            now = playing.get(key)
            if now is None:
                continue
            now = now % length if loops else min(now, length)
            # first sight: only what is just due (a clip joined late does not burst)
            last = self._last.get(key, max(now - FIRST_SIGHT_S, -1e-9))
            self._last[key] = now
            if last - WRAP_S <= now < last:
                continue  # not a loop: the same instant seen twice
            spans = [(last, now)] if now >= last else [(last, length), (-1e-9, now)]
            for lo, hi in spans:
                for note in notes:
                    if lo < note.start <= hi:
                        on.append((now, note))
                        self._offs.append((key, mono + note.duration, note))
        off = [n for _, end, n in self._offs if end <= mono]
        self._offs = [o for o in self._offs if o[1] > mono]
        return on, off
