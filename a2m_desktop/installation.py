"""Installation mode: full screen, the painting large, a comment field for visitors, and an
endless soundscape (``a2m_app.live.Soundscape``) that crossfades into each new comment.

Visitors type what they feel and press Enter: the comment and the painting become the next
scene, generated in the background while the current one keeps looping. With a list of scenes
and a period, it cycles unattended. Esc leaves the mode (the sound stops).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QPixmap
from PySide6.QtWidgets import QLabel, QLineEdit, QVBoxLayout, QWidget

from a2m_app.live import Soundscape
from a2m_app.notes_out import AudioClock, NoteTicker
from a2m_core import Art2Music, Clip, GenerationCancelled, GenerationRequest
from a2m_core.produce import produce
from a2m_core.soundscape import Scene

from .widgets import MelView

log = logging.getLogger(__name__)


VISITOR_PLACEHOLDER = "Your music appears here as you write:\nwhat it plays, drawn as it sounds"


class InstallationView(QWidget):
    """One painting, one comment field, and sound that never stops."""

    sceneStarted = Signal(str)  # a scene was generated and is fading in (its comment)
    sceneFailed = Signal(str)  # why a scene could not be made (the sound goes on)
    _melReady = Signal(object)  # from the soundscape's thread to the GUI thread
    clipMade = Signal(object, str)  # a visitor's clip and its painting (for the History)

    def __init__(self, engine: Art2Music, painting: Path,
                 stream_factory: Callable[..., Any] | None = None,
                 scenes: list[Scene] | None = None, period_s: float = 60.0,
                 device: int | None = None, notes_out: list | None = None) -> None:
        """``notes_out``: note sinks (``a2m_app.notes_out.sinks_for``) each visitor's notes
        go out to as they sound."""
        super().__init__()
        self.setWindowTitle("Art2Music — installation")
        self.setStyleSheet("QWidget { background: #111; color: #eee; } "
                           "QLineEdit { font-size: 22px; padding: 10px; background: #222; "
                           "border: 1px solid #444; border-radius: 6px; }")
        self.engine, self.painting = engine, Path(painting)
        self.scenes, self.period_s, self._next_scene = list(scenes or []), period_s, 0
        layout = QVBoxLayout(self)
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumHeight(240)
        layout.addWidget(self.picture, 3)
        self.caption = QLabel("Write what this painting makes you feel, then press Enter")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.caption)
        self.comment = QLineEdit()
        self.comment.setPlaceholderText("What does it make you feel?")
        self.comment.setMaxLength(300)
        self.comment.returnPressed.connect(self.submit)
        layout.addWidget(self.comment)
        self.mel_view = MelView(engine.mel_config, placeholder=VISITOR_PLACEHOLDER)
        layout.addWidget(self.mel_view, 1)
        self._melReady.connect(self.mel_view.set_mel)
        self._show_painting()

        def generate(scene: Scene) -> Clip:
            request = GenerationRequest(scene.image, scene.comment, scene.hints, scene.seed)
            clip = produce(engine, request, cancel=lambda: self.soundscape.stopped).clip
            self._melReady.emit(clip.mel)
            self.clipMade.emit(clip, str(scene.image))
            return clip  # the soundscape plays it, and sends its notes as they sound

        ticker = NoteTicker(AudioClock(), notes_out) if notes_out else None
        self.soundscape = Soundscape(
            generate, engine.sample_rate, stream_factory,
            on_scene=lambda s: self.sceneStarted.emit(s.comment),
            on_error=self._scene_error, ticker=ticker, channels=engine.channels)
        # Bound methods, not lambdas: the signals come from the soundscape's thread, and only
        # a QObject's own slot is sure to run on the GUI thread (PySide6 runs a plain callable
        # on the emitting thread).
        self.sceneStarted.connect(self._on_scene_started)
        self.sceneFailed.connect(self._on_scene_failed)
        self.soundscape.start(device)
        self.cycle = QTimer(self)
        self.cycle.timeout.connect(self.next_listed_scene)
        if self.scenes:
            self.next_listed_scene()
            self.cycle.start(int(period_s * 1000))
        else:  # until a visitor writes, the painting plays its own music
            self.soundscape.next(Scene(str(self.painting), ""))

    def _scene_error(self, scene: Scene, err: Exception) -> None:
        if not isinstance(err, GenerationCancelled):  # cancelled: the window is closing
            self.sceneFailed.emit(str(err))

    def _on_scene_started(self, comment: str) -> None:
        self.caption.setText(f"Now playing: “{comment}”" if comment
                             else "Now playing: the painting's own music")

    def _on_scene_failed(self, why: str) -> None:
        self.caption.setText(f"That one did not work: {why}")

    def _show_painting(self) -> None:
        pix = QPixmap(str(self.painting))
        if not pix.isNull():
            self.picture.setPixmap(pix.scaled(1200, 800, Qt.AspectRatioMode.KeepAspectRatio,
                                              Qt.TransformationMode.SmoothTransformation))

    def submit(self) -> bool:
        """Queue the visitor's comment on the current painting as the next scene."""
        text = self.comment.text().strip()
        if not text:
            return False
        if not self.soundscape.next(Scene(str(self.painting), text)):
            self.caption.setText("Many visitors are writing: try again in a moment")
            return False
        self.comment.clear()
        self.caption.setText("Listening… your music comes in a few seconds")
        return True

    def next_listed_scene(self) -> None:
        if not self.scenes:
            return
        scene = self.scenes[self._next_scene % len(self.scenes)]
        self._next_scene += 1
        self.painting = Path(scene.image)
        self._show_painting()
        self.soundscape.next(scene)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape:
            self.close()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: Any) -> None:  # noqa: N802
        self.cycle.stop()
        self.soundscape.stop()
        super().closeEvent(event)
