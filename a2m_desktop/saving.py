"""The main window's saving: the clip (as every surface writes it, ``a2m_core.produce``),
its MIDI, its mel as a picture, and the History as one soundscape."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from a2m_core import A2MError
from a2m_core.fileio import atomic_write_bytes
from a2m_core.produce import Outputs, write

from .widgets import mel_png_bytes

AUDIO_FILTERS = "WAV (*.wav);;FLAC (*.flac);;OGG Vorbis (*.ogg);;MP3 (*.mp3)"


class Saving:
    """Mixed into ``MainWindow`` (its settings, current clip, history and error banner)."""

    def _save_path(self, title: str, suggested: str, filters: str) -> str | None:
        folder = str(self.settings.value("last_save_dir", "") or Path.home())
        path, _ = QFileDialog.getSaveFileName(self, title, str(Path(folder) / suggested),
                                              filters)
        return path or None

    def _suggested_name(self, suffix: str) -> str:
        """``starry-night-seed7-harp.wav``: the painting, the seed and the instrument, and a
        number where that name is taken in the folder, so each variation gets its own."""
        assert self.current is not None
        clip = self.current.clip
        seed = "" if clip.seed is None else f"-seed{clip.seed}"
        inst = f"-{clip.plan.instrument}" if clip.plan is not None else ""
        stem = f"{self.current.painting.stem or 'clip'}{seed}{inst}"
        folder = Path(str(self.settings.value("last_save_dir", "") or Path.home()))
        name, n = f"{stem}{suffix}", 2
        while (folder / name).exists():
            name, n = f"{stem}-{n}{suffix}", n + 1
        return name

    def save_audio(self, path: str | None = None) -> Path | None:
        if self.current is None:
            return None
        clip = self.current.clip
        return self._save_current("Save clip", ".wav", AUDIO_FILTERS,
                                  lambda p: write(clip, Outputs(audio=p))["audio"], path)

    def save_midi(self, path: str | None = None) -> Path | None:
        """The current clip's notes as a MIDI file (notes bundles)."""
        if self.current is None or self.current.clip.plan is None:
            return None
        clip = self.current.clip
        return self._save_current("Save MIDI", ".mid", "MIDI (*.mid)",
                                  lambda p: write(clip, Outputs(midi=p))["midi"], path)

    def _save_current(self, title: str, suffix: str, filters: str, write, path: str | None
                      ) -> Path | None:
        """Ask where (unless ``path``), write with ``write(path)``, say so or show why not."""
        path = path or self._save_path(title, self._suggested_name(suffix), filters)
        if not path:
            return None
        try:
            saved = write(path)
        except (A2MError, OSError) as err:
            self.show_error(f"Could not save {path}: {err}")
            return None
        self.settings.setValue("last_save_dir", str(saved.parent))
        self.statusBar().showMessage(f"Saved {saved}", 5000)
        return saved

    def export_soundscape(self, path: str | None = None, seconds: float = 20.0
                          ) -> Path | None:
        """The history as one long piece: each clip looped to ``seconds``, crossfaded."""
        from a2m_core.clip import write_audio
        from a2m_core.soundscape import join_scenes

        if not self.history:
            return None
        path = path or self._save_path("Export soundscape", "soundscape.wav",
                                       AUDIO_FILTERS)
        if not path:
            return None
        from a2m_app.live import resample

        # clips of other models may differ in rate (and channels: join_scenes spreads mono)
        sr = max(g.clip.sample_rate for g in self.history)
        audio = join_scenes([resample(g.clip.audio, g.clip.sample_rate, sr)
                             for g in self.history], [seconds] * len(self.history), sr)
        try:
            saved = write_audio(path, audio, sr)
        except (A2MError, OSError) as err:
            self.show_error(f"Could not save {path}: {err}")
            return None
        self.statusBar().showMessage(f"Saved {saved} ({len(audio) / sr:.0f} s)", 5000)
        return saved

    def save_mel(self, path: str | None = None) -> Path | None:
        if self.current is None:
            return None
        path = path or self._save_path("Save mel-spectrogram", self._suggested_name(".png"),
                                       "PNG (*.png)")
        if not path:
            return None
        target = Path(path)
        try:
            atomic_write_bytes(target, mel_png_bytes(self.mel_view, self.current.clip.mel))
        except OSError as err:
            self.show_error(f"Could not save {path}: {err}")
            return None
        self.statusBar().showMessage(f"Saved {target}", 5000)
        return target
