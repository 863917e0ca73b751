"""Plan the study before rating: items and annotators for a target CI half-width.

The numbers come from :mod:`harlab.rating.planner` (Krippendorff's alpha by simulation, the
paired difference in meaning change by the t-based formula); each result says which.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from harlab.errors import HarlabError
from harlab.rating.planner import plan_alpha_job, plan_difference
from ui.context import AppContext
from ui.widgets.job_controls import JobControls

TARGETS = {"Krippendorff's alpha": "alpha", "Paired difference in meaning change": "difference"}


def _spin(value: float, low: float, high: float, step: float) -> QDoubleSpinBox:
    spin = QDoubleSpinBox(minimum=low, maximum=high, value=value, singleStep=step)
    spin.setDecimals(2)
    return spin


class StudyPlannerDialog(QDialog):
    """A small form and the plan, one row per annotator count."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Plan the rating study")
        self.resize(620, 460)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.target_combo = QComboBox()
        self.target_combo.addItems(list(TARGETS))
        form.addRow("Target", self.target_combo)
        self.half_width_spin = _spin(0.10, 0.01, 5.0, 0.01)
        form.addRow("CI half-width wanted", self.half_width_spin)
        self.alpha_spin = _spin(0.70, 0.05, 0.99, 0.05)
        form.addRow("Expected alpha", self.alpha_spin)
        self.sd_item_spin = _spin(1.0, 0.0, 10.0, 0.1)
        form.addRow("SD of item differences (points)", self.sd_item_spin)
        self.sd_rater_spin = _spin(0.8, 0.0, 10.0, 0.1)
        form.addRow("SD of one rater's noise (points)", self.sd_rater_spin)
        layout.addLayout(form)
        self.plan_button = QPushButton("&Plan")
        self.plan_button.setDefault(True)
        self.plan_button.clicked.connect(self._on_plan_clicked)
        layout.addWidget(self.plan_button)
        self.jobs = JobControls(ctx.runner)  # the simulation runs off the GUI thread
        layout.addWidget(self.jobs)
        self.result = QTextBrowser()
        layout.addWidget(self.result, 1)
        layout.addWidget(QLabel("Also: harlab rate plan --help"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def done(self, result: int) -> None:  # noqa: D102 - Qt override
        if self.jobs.busy:
            self.jobs.runner.cancel()
        super().done(result)

    @Slot()
    def _on_plan_clicked(self) -> None:
        try:
            if TARGETS[self.target_combo.currentText()] == "alpha":
                job = plan_alpha_job(self.alpha_spin.value(), self.half_width_spin.value(),
                                     n_sim=100)
                self.jobs.run(job, "plan rating study", self.show_plan)
                return
            rows = plan_difference(self.half_width_spin.value(), self.sd_item_spin.value(),
                                   self.sd_rater_spin.value())
        except HarlabError as exc:
            self.result.setHtml(f"<span style='color:#a01010'>{exc}</span>")
            return
        self.show_plan(rows)

    def show_plan(self, rows: Any) -> None:
        body = "".join(f"<tr><td>{r.annotators}</td><td>{r.items or '&gt; 500'}</td>"
                       f"<td>{r.half_width:.3f}</td></tr>" for r in rows)
        self.result.setHtml(f"<table cellpadding=4><tr><th>annotators</th><th>items</th>"
                            f"<th>half-width</th></tr>{body}</table><p><i>Method: "
                            f"{rows[0].method}</i></p>")
