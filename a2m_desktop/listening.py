"""The main window's listening: the output device, playing a clip (or the one streaming
in), the playhead, and live notes out (OSC ``/a2m/note`` and a virtual MIDI port) while a
notes clip sounds."""
from __future__ import annotations

import numpy as np

from a2m_app.notes_out import AudioClock, NoteTicker, sinks_for, timed_notes
from a2m_core.clip import channels_of


class Listening:
    """Mixed into ``MainWindow`` (its player, timer, mel view and settings)."""

    def _choose_output(self, index: int) -> None:
        self.player.device = self.output_combo.itemData(index)
        self.settings.setValue("output_device", self.output_combo.currentText())

    def _on_chunk(self, start: int, audio: np.ndarray, total: int) -> None:
        """Streamed samples: the first chunk starts playback, the rest follow it in."""
        if start == 0:
            self.stop()
            try:
                self.player.play_stream(total, self.sample_rate_hint, channels_of(audio))
            except Exception as err:  # noqa: BLE001 - device errors vary
                self.show_error(f"Playback failed: {err}")
                return
            self._live = True
            self.timer.start()
        if self._live:
            self.player.feed(start, audio)

    @property
    def sample_rate_hint(self) -> int:
        engine = self.worker.engine
        return engine.sample_rate if engine is not None else 22050

    def play(self) -> None:
        self._live = False
        if self.current is None or not self.audio_ok:
            return
        clip = self.current.clip
        audio = clip.audio
        if self.loop_box.isChecked():  # the seamless version: no click where it wraps
            from a2m_core.soundscape import make_loop

            audio = make_loop(audio, clip.sample_rate)
        try:
            self.player.play(audio, clip.sample_rate)
        except Exception as err:  # noqa: BLE001 - device errors vary (PortAudioError, ...)
            self.show_error(f"Playback failed: {err}")
            return
        self._follow_notes(clip, len(audio))
        self.timer.start()

    def stop(self) -> None:
        self._live = False
        self.player.stop()
        self.timer.stop()
        self.mel_view.set_playhead(None)

    def _tick(self) -> None:
        self.mel_view.set_playhead(self.player.position)
        if self.player.reached_end:
            self.stop()  # the audio callback only flags the end; stopping happens here

    # ------------------------------------------------------------------ notes out
    def set_notes_out(self, target: str = "", midi: bool = False) -> str | None:
        """Send each playing clip's notes to ``target`` ("host:port": OSC ``/a2m/note``)
        and/or a virtual MIDI port named "Art2Music"; "" and False: nowhere. Returns why it
        cannot (a bad address, no MIDI backend) or None."""
        if self.player.ticker is not None:
            self.player.ticker.close()
            self.player.ticker = None
        sinks, problem = [], None
        target = target.strip()
        try:
            sinks += sinks_for(target)
        except ValueError as err:
            problem = f"Notes out: {err}"
        if midi:
            try:
                sinks += sinks_for(midi_port="Art2Music")
            except OSError as err:
                problem = f"No virtual MIDI port: {err}"
        if sinks:
            self.player.ticker = NoteTicker(AudioClock(), sinks)
        self.settings.setValue("notes_out", target)
        self.settings.setValue("notes_midi", bool(midi))
        return problem

    def _follow_notes(self, clip, frames: int) -> None:
        """The clip now playing: its notes go out as they sound (notes bundles)."""
        if self.player.ticker is not None and clip.plan is not None:
            self.player.follow_notes(timed_notes(clip), frames / clip.sample_rate)
