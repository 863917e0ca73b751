"""The Results panel's tables: Table 3, the paired tests, drift and human ratings, in tabs.

Each tab shows its key columns (Table 3: n, mean, std, 95% CI, paper mean, note) with the rest
on demand (the Columns button), and exports as CSV, Markdown or LaTeX. Under the tables: the
effective n per class, and which language model (and settings) the answers came from.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from harlab.errors import InputError
from harlab.scoring import human, tables
from harlab.tabular import write_records
from ui.widgets.results_table import RecordsTableView

TABLE3_KEY = ("modality", "metric", "n", "mean", "std", "ci95", "paper_mean", "note")
PAIRED_KEY = ("metric", "n", "mean_unimodal", "mean_multimodal", "mean_diff", "p_holm", "note")
DRIFT_KEY = ("modality", "metric", "n", "mean_z", "share_below_minus2", "note")
# (tab title, file stem, key columns)
TABLES = (("Table 3", "table3", TABLE3_KEY),
          ("Unimodal vs multimodal", "paired_tests", PAIRED_KEY),
          ("Drift z-scores", "drift", DRIFT_KEY),
          ("vs human ratings", "human_ratings", ()))


def _ci(low: Any, high: Any) -> str:
    return "" if low is None or high is None else f"[{low:.3f}, {high:.3f}]"


def table3_display(records: Sequence[dict[str, Any]], arms: dict[str, Any]
                   ) -> list[dict[str, Any]]:
    """Table 3 records with a ``ci95`` column and a note on every row with n = 0."""
    out = []
    for rec in records:
        rec = dict(rec, ci95=_ci(rec.get("ci_low"), rec.get("ci_high")))
        if not rec.get("n"):  # say why there is nothing, not just that there is nothing
            arm = arms.get(rec["modality"])
            why = "; ".join(f"{reason} ({n})" for reason, n in (arm.reasons if arm else {}).items())
            if why:
                rec["note"] = f"no ok answer pairs: {why}"
            elif not rec.get("note") or rec["note"] == "no values":
                rec["note"] = "no ok answer pairs: ask the model, then score"
        out.append(rec)
    return out


class ResultsTables(QWidget):
    """Four record tables in tabs, a Columns button, and the notes under them."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.tabs = QTabWidget()
        self.views: list[RecordsTableView] = []
        for title, _stem, key in TABLES:
            view = RecordsTableView(key)
            self.views.append(view)
            self.tabs.addTab(view, title)
        self.columns_button = QToolButton(text="Columns ▾")
        self.columns_button.setToolTip("Show or hide columns of the table on screen; "
                                       "exports always hold every column")
        self.columns_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.columns_button.clicked.connect(self._on_columns_clicked)
        self.tabs.setCornerWidget(self.columns_button, Qt.Corner.TopRightCorner)
        self.n_label = QLabel(wordWrap=True)
        self.used_label = QLabel(wordWrap=True)
        self.used_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs, 1)
        row = QHBoxLayout()
        row.addWidget(self.n_label, 1)
        layout.addLayout(row)
        layout.addWidget(self.used_label)
        self._full: list[tuple[tuple[str, ...], list[dict[str, Any]]]] = [((), [])] * 4

    @property
    def table_view(self) -> RecordsTableView:
        return self.views[0]

    def clear(self) -> None:
        for view in self.views:
            view.set_records((), [])
        self._full = [((), [])] * 4
        self.n_label.setText("")
        self.used_label.setText("")

    def show_results(self, results: dict[str, Any]) -> None:
        table = results["table"]
        t3 = tables.table3_records(table)
        self._full = [(tables.TABLE3_COLUMNS, t3),
                      (tables.PAIRED_COLUMNS, tables.paired_records(table)),
                      (tables.DRIFT_COLUMNS, tables.drift_records(table)),
                      (tuple(human.COLUMNS), list(results.get("human", [])))]
        display = [(("ci95", *tables.TABLE3_COLUMNS), table3_display(t3, results.get("arms",
                                                                                      {})))]
        display += self._full[1:]
        for view, (columns, records) in zip(self.views, display, strict=True):
            view.set_records(columns, records)
        parts = []
        for modality, classes in sorted(table.by_class.items()):
            per = ", ".join(f"{label}: {n} pairs / {d} distinct prompts"
                            for label, (n, d) in sorted(classes.items()))
            parts.append(f"<b>{modality}</b> {per}")
        self.n_label.setText("Effective n · " + " · ".join(parts) if parts else "")
        used = [html.escape(u.describe()) for u in results.get("llm_used") or []]
        used += [html.escape(line) for a in (results.get("arms") or {}).values()
                 if (line := a.skipped_line())]
        self.used_label.setText(
            "<b>Answers from</b><br>" + "<br>".join(used) if used else
            "<b>Answers from</b>: no ok answers yet")

    # ------------------------------------------------------------------ exports
    def export(self, index: int, path: str | Path) -> Path:
        """Write table ``index`` (every column) as CSV, Markdown or LaTeX, by the suffix."""
        columns, records = self._full[index]
        if not columns:
            raise InputError("no results to export yet: open a project with scores")
        return write_records(path, columns, records, title=TABLES[index][0])

    @Slot()
    def _on_columns_clicked(self) -> None:
        view = self.views[self.tabs.currentIndex()]
        menu = view.columns_menu(self)
        menu.exec(self.columns_button.mapToGlobal(self.columns_button.rect().bottomLeft()))
