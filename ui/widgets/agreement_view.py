"""Agreement between annotators, their position bias, and the disagreements to adjudicate.

*Compute* runs the agreement job (Cohen's and Fleiss' kappa, Krippendorff's alpha per item,
each with a percentile bootstrap CI over rated pairs) on the job runner, so the GUI never
waits. The disagreement list goes widest-apart first; for the selected row, *Go to item*
shows it in the Evaluate panel and *Record* stores a third person's resolved value, which
``evaluation.csv`` then uses and marks ``adjudicated``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from harlab import rating
from harlab.errors import HarlabError
from harlab.rating.adjudication import adjudicate
from harlab.rating.agreement import AgreementConfig, Disagreement, Stat
from harlab.rating.bias import CI_METHOD, position_bias
from harlab.stages import agreement
from ui.context import AppContext
from ui.widgets.job_controls import JobControls

STATS = (("cohen", "Cohen κ"), ("fleiss", "Fleiss κ"), ("alpha", "Krippendorff α"))


def stat_text(stat: Stat) -> str | tuple[str, str]:
    """The value with its CI; an undefined value is a dash with the reason as its tooltip."""
    if stat.value is None:
        return "–", stat.reason
    if stat.ci_low is None:
        return f"{stat.value:.3f}"
    return f"{stat.value:.3f} [{stat.ci_low:.2f}, {stat.ci_high:.2f}]"


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _fill(table: QTableWidget, rows: list[list[Any]]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            text, tip = value if isinstance(value, tuple) else (value, "")
            cell = QTableWidgetItem(str(text))
            cell.setToolTip(tip)
            table.setItem(r, c, cell)
    table.resizeColumnsToContents()


class AgreementView(QWidget):
    """Signals:
        jump_requested(int, str): the selected disagreement's (sample, modality).
    """

    jump_requested = Signal(int, str)

    def __init__(self, ctx: AppContext, rubric: rating.Rubric, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx, self.rubric = ctx, rubric
        self.disagreements: list[Disagreement] = []
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Bootstrap resamples"))
        self.boot_spin = QSpinBox(minimum=0, maximum=100_000, value=1000, singleStep=100)
        row.addWidget(self.boot_spin)
        self.compute_button = QPushButton("&Compute agreement")
        self.compute_button.clicked.connect(self._on_compute_clicked)
        row.addWidget(self.compute_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.jobs = JobControls(ctx.runner)
        layout.addWidget(self.jobs)
        self.items_table = _table(["item", "units", "raters", *(t for _, t in STATS)])
        layout.addWidget(self.items_table, 2)
        self.bias_label = QLabel(f"Position bias (share of A in the pairwise item; "
                                 f"{CI_METHOD})")
        self.bias_label.setWordWrap(True)
        layout.addWidget(self.bias_label)
        self.bias_table = _table(["annotator", "A / choices", "share A", "95% CI", "p"])
        self.bias_table.setMaximumHeight(110)
        layout.addWidget(self.bias_table)
        layout.addWidget(QLabel("Disagreements, widest apart first (select one, then Go to "
                                "item or adjudicate):"))
        self.dis_table = _table(["sample", "modality", "item", "disagreement", "values"])
        self.dis_table.itemSelectionChanged.connect(self._on_dis_table_selection_changed)
        layout.addWidget(self.dis_table, 2)
        layout.addLayout(self._adjudication_row())
        self.message = QLabel()
        self.message.setWordWrap(True)
        layout.addWidget(self.message)

    def _adjudication_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.jump_button = QPushButton("&Go to item")
        self.jump_button.clicked.connect(self._on_jump_clicked)
        row.addWidget(self.jump_button)
        row.addWidget(QLabel("Resolved value"))
        self.value_combo = QComboBox()
        row.addWidget(self.value_combo)
        self.adjudicator_edit = QLineEdit()
        self.adjudicator_edit.setPlaceholderText("adjudicator (a third person)")
        row.addWidget(self.adjudicator_edit)
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText("why (optional)")
        row.addWidget(self.reason_edit, 1)
        self.record_button = QPushButton("&Record adjudication")
        self.record_button.clicked.connect(self._on_record_clicked)
        row.addWidget(self.record_button)
        return row

    @Slot()
    def _on_compute_clicked(self) -> None:
        try:
            config = AgreementConfig(n_boot=self.boot_spin.value())
            job = agreement(self.ctx.project, config)
        except HarlabError as exc:
            self.jobs.show_error(str(exc))
            return
        self.jobs.run(job, "agreement", self._on_job_succeeded)

    def _on_job_succeeded(self, result: Any) -> None:
        _fill(self.items_table, [[r.item, r.n_units, r.n_annotators,
                                  *(stat_text(r.stat(s)) for s, _ in STATS)]
                                 for r in (*result.items, result.overall)])
        bias = position_bias(self.ctx.project, self.rubric)
        _fill(self.bias_table, [[b.annotator, f"{b.n_a} / {b.n}",
                                 "–" if b.share_a is None else f"{b.share_a:.2f}",
                                 "–" if b.ci_low is None else f"[{b.ci_low:.2f}, "
                                                              f"{b.ci_high:.2f}]",
                                 "–" if b.p_value is None else f"{b.p_value:.3g}"]
                                for b in bias])
        self.disagreements = list(result.disagreements)
        _fill(self.dis_table, [[d.sample_id, d.modality, d.item, f"{d.score:.2f}",
                                ", ".join(f"{a}={v}" for a, v in d.values.items())]
                               for d in self.disagreements])
        self.jobs.show_message(f"annotators: {', '.join(result.annotators) or 'none'} · "
                               f"95% percentile bootstrap CIs over rated pairs "
                               f"({self.boot_spin.value()} resamples) · "
                               f"{len(self.disagreements)} disagreement(s) listed")
        if self.disagreements:
            self.dis_table.selectRow(0)

    def selected(self) -> Disagreement | None:
        rows = self.dis_table.selectionModel().selectedRows()
        return self.disagreements[rows[0].row()] if rows else None

    @Slot()
    def _on_dis_table_selection_changed(self) -> None:
        d = self.selected()
        self.value_combo.clear()
        if d is not None:
            self.value_combo.addItems(list(self.rubric.item_for(d.item).values))
            current = list(d.values.values())
            if current:
                self.value_combo.setCurrentText(current[0])

    @Slot()
    def _on_jump_clicked(self) -> None:
        d = self.selected()
        if d is not None:
            self.jump_requested.emit(d.sample_id, d.modality)

    @Slot()
    def _on_record_clicked(self) -> None:
        d = self.selected()
        if d is None:
            self.message.setText("Select a disagreement first.")
            return
        try:
            done = adjudicate(self.ctx.project, self.rubric, sample_id=d.sample_id,
                              modality=d.modality, original_id=d.original_id,
                              attacked_id=d.attacked_id, item=d.item,
                              value=self.value_combo.currentText(),
                              adjudicator=self.adjudicator_edit.text(),
                              reason=self.reason_edit.text())
        except HarlabError as exc:
            self.message.setText(f"<span style='color:#a01010'>{exc}</span>")
            return
        self.message.setText(f"Adjudicated sample #{done.sample_id} {done.modality} "
                             f"{done.item} = {done.value} by {done.adjudicator}; "
                             "evaluation.csv uses it and marks the row adjudicated.")
