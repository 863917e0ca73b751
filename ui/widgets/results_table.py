"""Read-only tables of records (Table 3, the paired tests, the drift summary).

A table shows its *key* columns and hides the rest until asked (``columns_menu``), so the
main figures fit the default window without scrolling.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

PAPER_COLOR = QColor("#eef3fb")
HEADER_LABELS = {"ci95": "95% CI", "n_distinct_prompts": "distinct prompts",
                 "paper_mean": "paper mean", "paper_var": "paper var", "paper_std": "paper std"}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3g}" if value != 0 and abs(value) < 1e-3 else f"{value:.4f}"
    return str(value)


def header_label(column: str) -> str:
    return HEADER_LABELS.get(column, column.replace("_", " "))


class RecordsTableView(QTableWidget):
    """A table of dict records; numbers right-aligned, ``paper_*`` columns shaded, notes as
    tooltips of their row.

    Signals:
        columns_changed(): the shown columns changed.
    """

    columns_changed = Signal()

    def __init__(self, key_columns: Sequence[str] = (), parent: QWidget | None = None):
        super().__init__(parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self.columns: tuple[str, ...] = ()
        self.records: list[dict[str, Any]] = []
        self.key_columns = tuple(key_columns)  # empty: every column is shown
        self._shown: set[str] | None = None  # None: the key columns

    def set_records(self, columns: Sequence[str], records: Sequence[dict[str, Any]]) -> None:
        """Show ``records``; key columns come first, in their own order."""
        keys = [c for c in self.key_columns if c in columns]
        self.columns = tuple(keys + [c for c in columns if c not in keys])
        self.records = [dict(r) for r in records]
        self.clear()
        self.setColumnCount(len(self.columns))
        self.setHorizontalHeaderLabels([header_label(c) for c in self.columns])
        self.setRowCount(len(records))
        for r, rec in enumerate(records):
            note = str(rec.get("note") or "")
            for c, col in enumerate(self.columns):
                self.setItem(r, c, self._item(col, rec.get(col), note))
        header = self.horizontalHeader()
        for c, col in enumerate(self.columns):  # a long note is elided, never scrolled to
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.Stretch if col == "note"
                                        else QHeaderView.ResizeMode.ResizeToContents)
        self._apply_shown()

    @staticmethod
    def _item(column: str, value: Any, note: str) -> QTableWidgetItem:
        item = QTableWidgetItem(_text(value))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if column.startswith("paper_"):
            item.setBackground(PAPER_COLOR)
            item.setToolTip("the paper's Table 3")
        elif column == "note":
            item.setToolTip(note)
        elif note:
            item.setToolTip(note)
        return item

    # ------------------------------------------------------------------ columns on demand
    def shown_columns(self) -> list[str]:
        return [c for i, c in enumerate(self.columns) if not self.isColumnHidden(i)]

    def show_columns(self, columns: Sequence[str] | None) -> None:
        """Show exactly ``columns`` (None: the key columns, or all when there are none)."""
        self._shown = None if columns is None else set(columns)
        self._apply_shown()
        self.columns_changed.emit()

    def _apply_shown(self) -> None:
        wanted = self._shown if self._shown is not None else set(self.key_columns or
                                                                 self.columns)
        for i, col in enumerate(self.columns):
            self.setColumnHidden(i, col not in wanted)

    def columns_menu(self, parent: QWidget | None = None) -> QMenu:
        """Checkable columns, plus 'key columns' and 'all columns'."""
        menu = QMenu("Columns", parent)
        for label, cols in (("Key columns only", None), ("All columns", self.columns)):
            act = menu.addAction(label)
            act.triggered.connect(lambda _=False, c=cols: self.show_columns(c))
        menu.addSeparator()
        shown = set(self.shown_columns())
        for col in self.columns:
            act = QAction(header_label(col), menu, checkable=True, checked=col in shown)
            act.setData(col)
            act.toggled.connect(self._on_column_action_toggled)
            menu.addAction(act)
        return menu

    @Slot(bool)
    def _on_column_action_toggled(self, checked: bool) -> None:
        act = self.sender()
        shown = set(self.shown_columns())
        (shown.add if checked else shown.discard)(act.data())
        self.show_columns([c for c in self.columns if c in shown])

    def cell_text(self, row: int, column: str) -> str:
        """The shown text of ``column`` in ``row`` (for tests and copy)."""
        item = self.item(row, self.columns.index(column))
        return "" if item is None else item.text()
