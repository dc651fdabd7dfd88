"""The main window's History: a row per clip (kept on disk, so it is there after a restart),
recalled with the pins it was made with."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QListWidgetItem

from a2m_core import Clip
from a2m_core.notes.plan import Pins

from .history_store import Stored


@dataclass
class Generation:
    clip: Clip
    painting: Path
    thumbnail: QPixmap
    seconds: float
    pins: Pins | None = None  # what was pinned when it was made (shown again on recall)
    visitor: bool = False


def default_history_dir(settings: QSettings) -> Path:
    """Beside an INI settings file (a portable install, the tests), else the platform's app
    data folder."""
    if settings.format() == QSettings.Format.IniFormat:
        return Path(settings.fileName()).parent / "history"
    from PySide6.QtCore import QStandardPaths

    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation)
    return Path(base or Path.home() / ".art2music") / "history"


class HistoryList:
    """Mixed into ``MainWindow`` (its history list, store, plan panel and mel view)."""

    def _add_to_history(self, clip: Clip, painting: Path, thumb: QPixmap, seconds: float,
                        visitor: bool = False, pins: Pins | None = None,
                        keep: bool = True, select: bool = True) -> None:
        """A row for the clip (and, with ``keep``, its files in the History folder, so it is
        there after a restart)."""
        gen = Generation(clip, painting, thumb.scaled(
            48, 48, Qt.AspectRatioMode.KeepAspectRatio), seconds, pins, visitor)
        self.history.append(gen)
        if keep:
            self.history_store.save(Stored(clip, painting, pins, seconds, visitor))
        seed = "deterministic" if clip.seed is None else f"seed {clip.seed}"
        said = clip.comment or "(no comment: the painting alone)"
        short = said if len(said) <= 30 else said[:29] + "…"
        plan = (f" · {clip.plan.tempo_bpm:.0f} bpm {clip.plan.key} · {clip.plan.instrument}"
                if clip.plan else "")
        who = "visitor · " if visitor else ""
        item = QListWidgetItem(QIcon(gen.thumbnail), f"{short}\n{who}{seed}{plan}")
        lines = [f"“{clip.comment}”" if clip.comment else "No comment: the painting alone",
                 f"{painting.name} · {seed} · {clip.duration_s:.1f} s"]
        if clip.plan is not None:
            lines += [f"Plan: {clip.plan.describe()}", f"Why: {clip.plan.why}"]
        item.setToolTip("\n".join(line for line in lines if line))
        self.history_list.addItem(item)
        if select and not visitor:  # a visitor's clip joins; the window's own stays selected
            self.history_list.setCurrentRow(len(self.history) - 1)
        self._update_buttons()

    def _restore_history(self) -> None:
        """The clips kept before this window opened, oldest first, as they were made."""
        for s in self.history_store.load():
            thumb = QPixmap(str(s.painting)) if s.painting.is_file() else QPixmap()
            self._add_to_history(s.clip, s.painting, thumb, s.seconds, visitor=s.visitor,
                                 pins=s.pins, keep=False, select=False)
        if self.history:
            self.history_list.setCurrentRow(len(self.history) - 1)

    def clear_history(self) -> None:
        """Forget every clip of the History, on screen and on disk."""
        self.stop()
        self.history_store.clear()
        self.history.clear()
        self.current = None
        self.history_list.clear()
        self.plan_panel.show_plan(None)
        self._update_buttons()

    def select_history(self, row: int) -> None:
        if 0 <= row < len(self.history):
            self.stop()
            self.current = self.history[row]
            self.mel_view.set_mel(self.current.clip.mel)
            self.plan_panel.show_plan(self.current.clip.plan)
            self.plan_panel.set_pins(self.current.pins)  # the pins it was made with
            self._update_buttons()
