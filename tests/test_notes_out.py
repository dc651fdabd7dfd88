"""Live notes out: a TouchDesigner patch hears /a2m/note as each note sounds, and a DAW
sees a virtual MIDI port."""
from __future__ import annotations

import socket
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from a2m_app.notes_out import (
    AudioClock,
    MidiNotes,
    NoteTicker,
    OscNotes,
    midi_port_names,
    timed_notes,
)
from a2m_app.null_device import NullStream
from a2m_app.playback import Player
from a2m_core.notes.score import Note

RATE = 22050


def _clip(seconds: float = 3.0, bpm: float = 120.0) -> SimpleNamespace:
    """A notes clip: eight notes, half a beat apart from its first sample, on two parts."""
    notes = [Note(0.5 * i, 0.4, 60 + i, 70 + i, i % 2) for i in range(8)]
    return SimpleNamespace(audio=np.zeros(int(seconds * RATE), np.float32), sample_rate=RATE,
                           plan=SimpleNamespace(tempo_bpm=bpm), notes=notes)


class _Listener:
    """A host on loopback that notes when each /a2m/note arrives."""

    def __init__(self) -> None:
        from pythonosc.osc_message import OscMessage

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.got: list[tuple[float, list]] = []
        self._parse, self._stop = OscMessage, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            msg = self._parse(data)
            if msg.address == "/a2m/note":
                self.got.append((time.monotonic(), list(msg.params)))

    def close(self) -> None:
        self._stop.set()
        self.thread.join(2)
        self.sock.close()


def test_notes_arrive_within_20_ms_of_their_sound_on_the_audio_clock():
    clip = _clip()
    listener = _Listener()
    streams: list[NullStream] = []

    def device(**kw):
        streams.append(NullStream(**kw))
        return streams[-1]

    player = Player(stream_factory=device)
    player.ticker = NoteTicker(AudioClock(), [OscNotes("127.0.0.1", listener.port)])
    try:
        player.play(clip.audio, RATE)
        player.follow_notes(timed_notes(clip), clip.audio.size / RATE)
        player.wait(timeout=10)
        time.sleep(0.1)
    finally:
        player.stop()
        player.ticker.close()
        listener.close()
    notes = timed_notes(clip)
    # each note once, in order, also the one at 0 s when the clip ends and its clock stops
    assert [args[0] for _, args in listener.got] == [n.pitch for n in notes]
    stream = streams[-1]
    errors = []
    for (arrived, args), note in zip(listener.got, notes):
        assert args[1] == note.velocity and args[3] == note.part
        assert args[2] == pytest.approx(note.duration, abs=1e-6)
        errors.append(arrived - stream.heard_at(round(note.start * stream.samplerate)))
    assert max(abs(e) for e in errors) <= 0.020, errors


def test_a_looping_clip_sends_its_notes_again_and_a_stopped_one_none():
    clip = _clip(seconds=1.2)
    sent: list = []

    class Collect:
        def note_on(self, note):
            sent.append(note)

        def note_off(self, note):
            pass

        def close(self):
            pass

    player = Player(stream_factory=lambda **kw: NullStream(**kw))
    player.loop = True
    player.ticker = NoteTicker(AudioClock(), [Collect()])
    try:
        player.play(clip.audio, RATE)
        player.follow_notes(timed_notes(clip), clip.audio.size / RATE)
        time.sleep(2.5)  # two passes and a bit
        player.stop()
        count = len(sent)
        time.sleep(0.4)
        assert len(sent) == count  # stopped: silence, no notes
    finally:
        player.ticker.close()
    per_pass = len(timed_notes(clip))  # the notes that start within 1.2 s
    assert per_pass >= 3 and count >= 2 * per_pass


def test_a_virtual_midi_port_shows_where_rtmidi_has_a_backend():
    try:
        port = MidiNotes("Art2Music test")
    except OSError as err:
        pytest.skip(f"no MIDI backend on this machine: {err}")
    try:
        assert any("Art2Music test" in name for name in midi_port_names())
    finally:
        port.close()
