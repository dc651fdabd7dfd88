"""Small widgets of the main window: the painting drop zone and the mel-spectrogram view."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PIL import Image
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy

from a2m_core.audio import MelConfig
from a2m_core.images import IMAGE_SUFFIXES

THUMB = 1024


def pil_to_pixmap(img: Image.Image, max_side: int = THUMB) -> QPixmap:
    img = img.convert("RGB")
    img.thumbnail((max_side, max_side))
    data = img.tobytes("raw", "RGB")
    qimg = QImage(data, img.width, img.height, 3 * img.width, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(qimg.copy())  # copy: the bytes object dies with this scope


class DropZone(QLabel):
    """Shows the painting scaled to fit; accepts image files dropped from a file manager."""

    fileDropped = Signal(str)

    def __init__(self) -> None:
        super().__init__("Drop a painting here\n(jpg, png, webp, tiff)\nor use Open painting…")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAcceptDrops(True)
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setStyleSheet("QLabel { border: 2px dashed #888; border-radius: 8px; "
                           "color: #666; background: #fafafa; }")
        self._pixmap: QPixmap | None = None

    def set_painting(self, pixmap: QPixmap) -> None:
        self._pixmap = pixmap
        self._rescale()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._pixmap is not None:
            self.setPixmap(self._pixmap.scaled(self.size() * 0.96,
                                               Qt.AspectRatioMode.KeepAspectRatio,
                                               Qt.TransformationMode.SmoothTransformation))

    @staticmethod
    def _first_image(event: QDragEnterEvent | QDropEvent) -> str | None:
        for url in event.mimeData().urls():
            if url.isLocalFile() and Path(url.toLocalFile()).suffix.lower() in IMAGE_SUFFIXES:
                return url.toLocalFile()
        return None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if self._first_image(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        path = self._first_image(event)
        if path:
            event.acceptProposedAction()
            self.fileDropped.emit(path)


def _slaney_hz(mel: np.ndarray) -> np.ndarray:
    """Slaney mel -> Hz (librosa's default scale, the one our filters use)."""
    f_sp, min_log_mel, logstep = 200.0 / 3, 15.0, np.log(6.4) / 27.0
    return np.where(mel < min_log_mel, f_sp * mel,
                    1000.0 * np.exp(logstep * (mel - min_log_mel)))


def _hz_slaney(hz: float) -> float:
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
    return hz / f_sp if hz < min_log_hz else 15.0 + np.log(hz / min_log_hz) / logstep


def band_centres_hz(cfg: MelConfig) -> np.ndarray:
    """Centre frequency of each mel band ``[n_mels]``, Hz."""
    edges = np.linspace(_hz_slaney(cfg.fmin), _hz_slaney(cfg.fmax), cfg.n_mels + 2)
    return _slaney_hz(edges[1:-1])


class MelView(pg.GraphicsLayoutWidget):
    """The clip's mel: seconds across, Hz up (mel-spaced), a dB colour scale, a playhead.

    Before the first clip it shows what will appear there, on the axes it will use.
    """

    TICKS_HZ = (100, 250, 500, 1000, 2000, 4000, 8000)

    def __init__(self, mel_config: MelConfig | None = None,
                 placeholder: str = "Generate a clip to see its mel here:\n"
                                    "time across, pitch up, loudness as colour") -> None:
        super().__init__()
        self.cfg = mel_config or MelConfig()
        self.setMinimumHeight(180)
        self.plot = self.addPlot()
        self.plot.setLabel("bottom", "time", units="s")
        self.plot.setLabel("left", "frequency (Hz, mel-spaced)")
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.image = pg.ImageItem(axisOrder="col-major")
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.plot.addItem(self.image)
        self.playhead = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen("#ff4040", width=2))
        self.playhead.setVisible(False)
        self.plot.addItem(self.playhead)
        # The colour bar reads in dB of mel magnitude: the normalised [-1, 1] the models
        # work in is a fixed affine map of natural-log magnitude (audio.normalize).
        db = 20.0 / np.log(10.0)
        self.db_range = (self.cfg.log_min * db, self.cfg.log_max * db)
        self.colorbar = pg.ColorBarItem(values=self.db_range, colorMap="viridis",
                                        label="level (dB)", interactive=False,
                                        colorMapMenu=False)
        self.addItem(self.colorbar)
        self.placeholder = pg.TextItem(placeholder, color="#888", anchor=(0.5, 0.5))
        self.plot.addItem(self.placeholder)
        self.frames = 0
        self._set_axes(self.cfg.n_mels, self.cfg.n_frames)
        self.placeholder.setPos(self.seconds / 2, self.cfg.n_mels / 2)

    def _set_axes(self, n_mels: int, frames: int) -> None:
        cfg = MelConfig.from_dict({**self.cfg.to_dict(), "n_mels": n_mels})
        self.seconds = frames * cfg.hop_length / cfg.sample_rate
        centres = band_centres_hz(cfg)
        ticks = [(float(np.interp(hz, centres, np.arange(n_mels))) + 0.5,
                  f"{hz // 1000}k" if hz >= 1000 else str(hz))
                 for hz in self.TICKS_HZ if centres[0] <= hz <= centres[-1] * 1.001]
        self.plot.getAxis("left").setTicks([ticks])
        self.plot.setRange(xRange=(0, self.seconds), yRange=(0, n_mels), padding=0)

    def set_mel(self, mel: np.ndarray) -> None:
        """``mel`` [n_mels, T] in [-1, 1]."""
        self.frames = mel.shape[1]
        self.placeholder.setVisible(False)
        self.image.setImage(np.asarray(mel, np.float32).T, levels=(-1.0, 1.0))
        self._set_axes(mel.shape[0], mel.shape[1])
        self.image.setRect(0, 0, self.seconds, mel.shape[0])

    def clear(self) -> None:
        self.image.clear()
        self.frames = 0
        self.playhead.setVisible(False)
        self.placeholder.setVisible(True)

    def set_playhead(self, fraction: float | None) -> None:
        if fraction is None or not self.frames:
            self.playhead.setVisible(False)
            return
        self.playhead.setVisible(True)
        self.playhead.setValue(fraction * self.seconds)


def mel_png_bytes(view: MelView, mel: np.ndarray) -> bytes:
    """``mel`` as "Save mel PNG" writes it: drawn by the window's own mel view, with its
    axes (seconds, Hz) and dB colour bar, and no playhead (Qt alone: no plotting package
    travels in the gallery build)."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    view.set_mel(mel)
    shown = view.playhead.isVisible()
    view.playhead.setVisible(False)
    try:
        pixmap = view.grab()
    finally:
        view.playhead.setVisible(shown)
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    pixmap.save(buf, "PNG")
    buf.close()
    return bytes(data.data())
