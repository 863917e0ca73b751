"""Accuracy under attack in the Attack tab: clean and robust top-1 per attack and eps.

The core does the work (:func:`harlab.attacks.report.run_report`, recorded as an
``attack_report`` run, like ``harlab attack --report``); this view collects the attacks, eps and
videos per class, runs the job on the shared runner and shows the table with each rate's n and
95% Wilson interval, and the method line.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
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

from harlab.attacks.report import AccuracyReport, ReportConfig, run_report
from harlab.errors import HarlabError
from ui.widgets.job_controls import JobControls

HEADERS = ("Attack", "Budget", "n", "Clean top-1", "95% CI", "Robust top-1", "95% CI")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


class AccuracyReportView(QWidget):
    """Controls, table and method note of the accuracy-under-attack report.

    Args:
        ctx: the app context (project, runner, device).
        base_config: returns the panel's current AttackConfig (keyframes, classes, device...).
        checkpoint: returns the classifier path the panel uses.
    """

    def __init__(self, ctx: Any, base_config, checkpoint, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self._base_config, self._checkpoint = base_config, checkpoint
        self.attacks_edit = QLineEdit("fgsm, pgd")
        self.attacks_edit.setToolTip("comma-separated attacks, as harlab attack --report --attack")
        self.eps_edit = QLineEdit("2/255, 4/255, 8/255")
        self.eps_edit.setToolTip("comma-separated budgets (an L2 radius for the L2 attacks)")
        self.videos_spin = QSpinBox(minimum=0, maximum=100000, value=10)
        self.videos_spin.setSpecialValueText("all")
        self.videos_spin.setToolTip("test videos per class (all: every video of the split)")
        self.surrogate_edit = QLineEdit(placeholderText="none: white-box on the target")
        self.surrogate_edit.setToolTip("transfer threat model: craft on this classifier "
                                       "checkpoint, classify with the target")
        self.run_button = QPushButton("Run report")
        self.run_button.clicked.connect(self._on_run_clicked)
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.verticalHeader().setVisible(False)
        self.note = QLabel(wordWrap=True)
        self.jobs = JobControls(ctx.runner)
        box = QVBoxLayout(self)
        for widgets in ((QLabel("Attacks"), self.attacks_edit, QLabel("eps"), self.eps_edit),
                        (QLabel("Videos per class"), self.videos_spin, QLabel("Surrogate"),
                         self.surrogate_edit, self.run_button)):
            row = QHBoxLayout()
            for widget in widgets:
                row.addWidget(widget)
            box.addLayout(row)
        box.addWidget(self.table, 1)
        box.addWidget(self.note)
        box.addWidget(self.jobs)

    def config(self) -> ReportConfig:
        """The ReportConfig the controls describe (raises HarlabError on bad entries)."""
        from harlab.attacks.selection import default_dataset_root

        attacks = tuple(a.strip() for a in self.attacks_edit.text().split(",") if a.strip())
        eps = tuple(e.strip() for e in self.eps_edit.text().split(",") if e.strip())
        base = replace(self._base_config(), surrogate=self.surrogate_edit.text().strip() or None)
        # the Attack tab's parameters are its own attack's: that attack runs with them here too
        params = {base.attack: dict(base.params)} if base.params and base.attack in attacks else {}
        return ReportConfig(base, attacks, eps, str(self._checkpoint()),
                            str(default_dataset_root(self.ctx.project)),
                            videos_per_class=self.videos_spin.value() or None, params=params)

    def set_report(self, report: AccuracyReport) -> None:
        self.table.setRowCount(len(report.rows))
        for i, r in enumerate(report.rows):
            cells = (r["attack"] + (" (transfer)" if r.get("surrogate") else ""), r["budget"],
                     str(r["n"]), _pct(r["clean_top1"]),
                     f"{_pct(r['clean_ci_low'])} - {_pct(r['clean_ci_high'])}",
                     _pct(r["robust_top1"]),
                     f"{_pct(r['robust_ci_low'])} - {_pct(r['robust_ci_high'])}")
            for j, text in enumerate(cells):
                self.table.setItem(i, j, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.note.setText(f"{report.n_videos} {report.split} videos, {report.clean_correct} "
                          f"correct before the attack. CI: {report.ci_method}. "
                          f"{report.definition}.")

    @Slot()
    def _on_run_clicked(self) -> None:
        if self.ctx.project is None:
            self.jobs.show_error("open a project first (File > Open project)")
            return
        try:
            config = self.config()
        except HarlabError as exc:
            self.jobs.show_error(str(exc))
            return
        self.jobs.run(run_report(self.ctx.project, config), "Accuracy under attack",
                      self.set_report, exclusive=True)
