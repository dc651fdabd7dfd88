"""The Models dialog: list, fetch (with progress and cancel), set default, remove, use.

Everything goes through ``a2m_core.model_store``, the code behind ``a2m models``; a fetch runs
on its own thread so the window stays live, and Cancel keeps the partial download for the
next try (a fetch resumes where it stopped).
"""
from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from a2m_core import A2MError
from a2m_core.model_store import (
    FetchCancelled,
    SourceUnreachable,
    fetch_model,
    human_size,
    list_models,
    remove_model,
)
from a2m_core.registry import STARTER_NAME, models_home, set_default_model

log = logging.getLogger(__name__)


def dialog_message(err: A2MError) -> str:
    """A fetch error in the dialog's words: it has a From… field, not a --from flag."""
    if isinstance(err, SourceUnreachable):
        return (f"no network ({err.source} cannot be reached: {err.reason}). Put the files "
                "in a folder or on a mirror and give it in From…")
    return str(err).replace("--from FOLDER", "From… a folder").replace("use --from",
                                                                       "give a source in From…") \
        .replace("--from ", "From… ")


class FetchWorker(QObject):
    # Sizes travel as Python objects: a Qt int is 32-bit and ViT-H-14 weights are 3.9 GB.
    progress = Signal(str, object, object)  # file, bytes done, bytes total or None
    ended = Signal(str, str, str)  # model, "finished" | "failed" | "cancelled", message

    def __init__(self) -> None:
        super().__init__()
        self.cancel = threading.Event()

    @Slot(str, str)
    def fetch(self, name: str, source: str) -> None:
        try:
            result = fetch_model(name, source=source or None, cancel=self.cancel,
                                 progress=lambda f, d, t: self.progress.emit(f, d, t))
        except FetchCancelled as err:
            self.ended.emit(name, "cancelled", str(err))
        except A2MError as err:
            self.ended.emit(name, "failed", dialog_message(err))
        except Exception as err:  # noqa: BLE001 - keep the app alive, log the bug
            log.exception("fetching %s failed", name)
            self.ended.emit(name, "failed", f"{type(err).__name__}: {err}")
        else:
            self.ended.emit(name, "finished", f"installed: {result.bundle}")


class ModelsDialog(QDialog):
    requestFetch = Signal(str, str)
    modelsChanged = Signal()  # installed set or default changed
    useModel = Signal(str)  # the user asked the window to load this model now
    # (model, outcome) on the GUI thread once the dialog shows a fetch's outcome.
    fetchEnded = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(860, 400)
        self.fetching: str | None = None
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Models live in {models_home()} (set A2M_HOME to move them)."))
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Model", "State", "Size", "About"])
        header = self.table.horizontalHeader()
        for column in range(3):  # name, state and size are short: as wide as they are
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(True)  # About wraps in its row instead of being cut off
        self.table.verticalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        layout.addWidget(self.table)

        source_row = QHBoxLayout()
        source_row.addWidget(QLabel("From:"))
        self.source = QLineEdit()
        self.source.setPlaceholderText("the publisher (default), or a mirror URL / folder "
                                       "laid out like the repository")
        self.source.setToolTip("Behind a firewall: an internal http(s) mirror or a folder "
                               "holding the files at their repository paths, and "
                               "open_clip_pytorch_model.bin for the paper's encoder")
        source_row.addWidget(self.source, 1)
        layout.addLayout(source_row)

        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)

        buttons = QHBoxLayout()
        self.fetch_btn = QPushButton("Fetch")
        self.fetch_btn.setToolTip("Download, verify and build the selected model (resumes an "
                                  "interrupted download)")
        self.cancel_btn = QPushButton("Cancel fetch")
        self.default_btn = QPushButton("Set default")
        self.default_btn.setToolTip("The model the app, `a2m` and the OSC bridge start with")
        self.use_btn = QPushButton("Use now")
        self.remove_btn = QPushButton("Remove")
        close_btn = QPushButton("Close")
        self.fetch_btn.clicked.connect(self.fetch_selected)
        self.cancel_btn.clicked.connect(self.cancel_fetch)
        self.default_btn.clicked.connect(self.set_default_selected)
        self.use_btn.clicked.connect(self.use_selected)
        self.remove_btn.clicked.connect(self.remove_selected)
        close_btn.clicked.connect(self.close)
        for b in (self.fetch_btn, self.cancel_btn, self.default_btn, self.use_btn,
                  self.remove_btn):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(close_btn)
        layout.addLayout(buttons)

        self.worker = FetchWorker()
        self.thread = QThread(self)
        self.worker.moveToThread(self.thread)
        self.requestFetch.connect(self.worker.fetch)
        self.worker.progress.connect(self._on_progress)
        self.worker.ended.connect(self._on_ended)
        self.thread.start()
        self.refresh()

    # ------------------------------------------------------------------ list
    def refresh(self) -> None:
        selected = self.selected()
        try:
            rows = list_models()
        except A2MError as err:  # a malformed $A2M_REGISTRY
            self.status.setText(str(err))
            rows = []
        self.rows = rows
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            state = ("installed" if r.installed else "not installed") + \
                (" · default" if r.is_default else "")
            size = human_size(r.size_bytes) if r.installed else r.size_hint
            for j, text in enumerate((r.name, state, size, r.description)):
                item = QTableWidgetItem(text)
                item.setToolTip(r.description)
                self.table.setItem(i, j, item)
            if r.name == selected:
                self.table.selectRow(i)
        self._update_buttons()

    def selected(self) -> str | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() \
            else []
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return item.text() if item else None

    def select(self, name: str) -> None:
        for i, r in enumerate(self.rows):
            if r.name == name:
                self.table.selectRow(i)

    def _row(self, name: str | None):
        return next((r for r in self.rows if r.name == name), None)

    def _update_buttons(self) -> None:
        row = self._row(self.selected())
        busy = self.fetching is not None
        self.fetch_btn.setEnabled(row is not None and not busy and row.name != STARTER_NAME)
        self.cancel_btn.setEnabled(busy)
        self.default_btn.setEnabled(row is not None and row.installed and not row.is_default)
        self.use_btn.setEnabled(row is not None and row.installed)
        self.remove_btn.setEnabled(row is not None and row.installed and not busy
                                   and row.name != STARTER_NAME)

    # ------------------------------------------------------------------ actions
    def fetch_selected(self) -> bool:
        name = self.selected()
        if name is None or self.fetching:
            return False
        self.fetching = name
        self.worker.cancel.clear()
        self.progress.setValue(0)
        self.status.setText(f"{name}: connecting…")
        self._update_buttons()
        self.requestFetch.emit(name, self.source.text().strip())
        return True

    def cancel_fetch(self) -> None:
        if self.fetching:
            self.worker.cancel.set()
            self.status.setText(f"{self.fetching}: cancelling…")

    def set_default_selected(self) -> None:
        name = self.selected()
        if name:
            set_default_model(name)
            self.status.setText(f"{name} is now the default of the app, `a2m` and the bridge")
            self.refresh()
            self.modelsChanged.emit()

    def use_selected(self) -> None:
        name = self.selected()
        if name:
            self.useModel.emit(name)

    def remove_selected(self) -> None:
        name = self.selected()
        if not name:
            return
        try:
            freed = remove_model(name)
        except A2MError as err:
            self.status.setText(str(err))
        else:
            self.status.setText(f"{name}: removed ({human_size(freed)} freed)")
        self.refresh()
        self.modelsChanged.emit()

    # ------------------------------------------------------------------ fetch events
    def _on_progress(self, what: str, done: int, total: int | None) -> None:
        if total:
            self.progress.setValue(round(100 * done / total))
            self.status.setText(f"{what.rsplit('/', 1)[-1]}: {human_size(done)} of "
                                f"{human_size(total)}")
        else:
            self.status.setText(f"{what.rsplit('/', 1)[-1]}: {human_size(done)}")

    def _on_ended(self, name: str, outcome: str, message: str) -> None:
        self.fetching = None
        if outcome == "finished":
            self.progress.setValue(100)
            self.status.setText(f"{name}: {message}")
        else:
            self.status.setText(f"{name}: {message}")
        self.refresh()
        self.select(name)
        self.modelsChanged.emit()
        self.fetchEnded.emit(name, outcome)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.worker.cancel.set()  # a running fetch stops at its next block, kept for later
        self.thread.quit()
        self.thread.wait(30_000)
        super().closeEvent(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Esc closes through closeEvent
        if event.key() == Qt.Key.Key_Escape:
            self.close()
            return
        super().keyPressEvent(event)
