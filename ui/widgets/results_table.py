"""Read-only tables of records (Table 3, the paired tests, the drift summary)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

PAPER_COLOR = QColor("#eef3fb")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3g}" if value != 0 and abs(value) < 1e-3 else f"{value:.4f}"
    return str(value)


class RecordsTableView(QTableWidget):
    """A table of dict records; numbers right-aligned, ``paper_*`` columns shaded, notes as
    tooltips of their row."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self.columns: tuple[str, ...] = ()

    def set_records(self, columns: Sequence[str], records: Sequence[dict[str, Any]]) -> None:
        self.columns = tuple(columns)
        self.clear()
        self.setColumnCount(len(columns))
        self.setHorizontalHeaderLabels(list(columns))
        self.setRowCount(len(records))
        for r, rec in enumerate(records):
            note = str(rec.get("note") or "")
            for c, col in enumerate(columns):
                value = rec.get(col)
                item = QTableWidgetItem(_text(value))
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                if col.startswith("paper_"):
                    item.setBackground(PAPER_COLOR)
                    item.setToolTip("the paper's Table 3")
                elif note:
                    item.setToolTip(note)
                self.setItem(r, c, item)

    def cell_text(self, row: int, column: str) -> str:
        """The shown text of ``column`` in ``row`` (for tests and copy)."""
        item = self.item(row, self.columns.index(column))
        return "" if item is None else item.text()
