"""The Attack panel's left side: a dataset's test videos by class, and the stored samples."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHeaderView,
    QListWidget,
    QListWidgetItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

SAMPLE_COLUMNS = ("ID", "True", "Before", "After", "eps", "PNG")


class VideoBrowser(QWidget):
    """A class filter over a dataset's test videos.

    Signals:
        video_selected(object): the chosen :class:`harlab.data.ucf101.VideoItem`.
    """

    video_selected = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._items: list[Any] = []
        self.class_combo = QComboBox()
        self.class_combo.currentIndexChanged.connect(self._fill)
        self.video_list = QListWidget()
        self.video_list.currentItemChanged.connect(self._on_video_list_current)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.class_combo)
        layout.addWidget(self.video_list)

    def set_dataset(self, classes: Sequence[str], items: Sequence[Any]) -> None:
        self._items = list(items)
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.addItem("All classes", None)
        for name in classes:
            self.class_combo.addItem(name, name)
        self.class_combo.blockSignals(False)
        self._fill()

    @Slot()
    def _fill(self) -> None:
        self.video_list.clear()
        wanted = self.class_combo.currentData()
        for item in self._items:
            if wanted is None or item.class_name == wanted:
                entry = QListWidgetItem(item.relpath)
                entry.setData(Qt.ItemDataRole.UserRole, item)
                self.video_list.addItem(entry)

    def current(self) -> Any | None:
        entry = self.video_list.currentItem()
        return None if entry is None else entry.data(Qt.ItemDataRole.UserRole)

    def _on_video_list_current(self, current: QListWidgetItem | None, _previous=None) -> None:
        if current is not None:
            self.video_selected.emit(current.data(Qt.ItemDataRole.UserRole))


class SamplesTable(QTableWidget):
    """The project's samples, newest first.

    Signals:
        sample_selected(int): the chosen sample's id.
    """

    sample_selected = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(0, len(SAMPLE_COLUMNS), parent)
        self.setHorizontalHeaderLabels(SAMPLE_COLUMNS)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.horizontalHeader().setStretchLastSection(True)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setWordWrap(False)
        for c, tip in enumerate(("sample id", "true class", "the video's prediction before the "
                                 "attack", "the video's prediction after the attack",
                                 "eps x 1/255", "do the stored PNG frames still flip it?")):
            self.horizontalHeaderItem(c).setToolTip(tip)
        self.itemSelectionChanged.connect(self._on_selection_changed)

    def set_samples(self, samples: Sequence[Any]) -> None:
        """Show :class:`harlab.attacks.samples.Sample` records."""
        self.blockSignals(True)
        self.setRowCount(len(samples))
        for r, s in enumerate(samples):
            cells = [str(s.id), s.true_label, f"{s.clean_pred} {s.clean_conf:.0%}",
                     f"{s.adv_pred} {s.adv_conf:.0%}", f"{s.eps_255:.3g}",
                     "flips" if s.survives_png else "no"]
            tip = (f"{s.video}\ntrue {s.true_label}; video predicted {s.clean_pred} "
                   f"({s.clean_conf:.0%}) before the attack, {s.adv_pred} ({s.adv_conf:.0%}) "
                   f"after, at eps {s.eps_255:.3g}/255; the stored PNGs "
                   f"{'still flip' if s.survives_png else 'no longer flip'} the classifier")
            for c, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                cell.setToolTip(tip)
                self.setItem(r, c, cell)
        self.resizeColumnsToContents()
        self.blockSignals(False)

    @Slot()
    def _on_selection_changed(self) -> None:
        rows = self.selectionModel().selectedRows()
        if rows:
            self.sample_selected.emit(int(self.item(rows[0].row(), 0).text()))
