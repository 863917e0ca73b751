"""The robustness curve through the language model: plots, a run row and CSV export.

:class:`CurvePlot` draws a :class:`harlab.study.curves.CurveResult`: on the left the rates
against eps (the classifier's flip rate, the LLM's decision flip rate and adversarial-label
rate) with their 95% Wilson intervals as error bars, on the right the mean semantic drift
against the noise floor with its bootstrap interval; one line style per attack. Each point's
n is in the tooltip table below. :class:`CurveView` adds the controls: the points' inputs
(:class:`ui.widgets.curve_inputs.CurveInputs`: attacks, eps, surrogate, each attack's
parameters), LLM samples per class, Estimate (asks nothing), Run and Export CSV; jobs go
through the shared runner, the core does the work (:func:`harlab.study.curves.run_curve`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from harlab.errors import HarlabError
from harlab.jobs import Job, Progress
from harlab.study import curves
from harlab.tabular import write_records
from ui.widgets.curve_inputs import CurveInputs
from ui.widgets.job_controls import JobControls
from ui.widgets.plot_style import EmptyNote

#: (row key prefix, rate key, legend title, colour)
RATES = (("flip", "flip_rate", "classifier flip rate", "#1565c0"),
         ("decision", "decision_flip_rate", "LLM decision flip", "#ef6c00"),
         ("adv_label", "adv_label_rate", "LLM names adversarial label", "#6a1b9a"))
STYLES = (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine,
          Qt.PenStyle.DashDotLine)


def _x(row: dict[str, Any]) -> float:
    """eps in 1/255 units for L-inf points, the L2 radius otherwise."""
    return row["eps"] * 255.0 if row["norm"] == "linf" else row["eps"]


def _series(rows: Sequence[dict[str, Any]], key: str, low: str, high: str
            ) -> tuple[list[float], list[float], list[float], list[float]]:
    """x, y and the error bars' lower / upper lengths of the rows where ``key`` is set."""
    xs, ys, lows, highs = [], [], [], []
    for r in rows:
        if r.get(key) is None:
            continue
        xs.append(_x(r))
        ys.append(r[key])
        lows.append(r[key] - r[low] if r.get(low) is not None else 0.0)
        highs.append(r[high] - r[key] if r.get(high) is not None else 0.0)
    return xs, ys, lows, highs


class CurvePlot(QWidget):
    """Rates and semantic drift against eps, with their confidence intervals."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.rates = pg.PlotWidget(background="w")
        self.rates.setLabel("bottom", "eps (x 1/255)")
        self.rates.setLabel("left", "rate (95% Wilson CI)")
        self.rates.showGrid(x=True, y=True, alpha=0.3)
        self.rates.addLegend(offset=(10, 10))
        self.drift = pg.PlotWidget(background="w")
        self.drift.setLabel("bottom", "eps (x 1/255)")
        self.drift.setLabel("left", "drift (bootstrap CI)")  # vs the noise floor: caption
        self.drift.showGrid(x=True, y=True, alpha=0.3)
        self.drift.addLegend(offset=(10, 10))
        for plot in (self.rates, self.drift):  # plain values, no "x 1e-3" rescaling
            plot.getAxis("left").enableAutoSIPrefix(False)
        self.notes = [EmptyNote(self.rates, "no curve yet: press Run curve"),
                      EmptyNote(self.drift, "no drift yet")]
        self.caption = QLabel(wordWrap=True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box = QVBoxLayout(self)  # stacked: the Results tab's plot side is narrow
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.rates, 1)  # equal: each axis title fits at 1280x820
        box.addWidget(self.drift, 1)
        box.addWidget(self.caption)
        self.result: curves.CurveResult | None = None

    def set_result(self, result: curves.CurveResult | None) -> None:
        self.result = result
        for plot, note in zip((self.rates, self.drift), self.notes, strict=True):
            plot.clear()
            plot.getPlotItem().legend.clear()
            plot.addItem(note.label, ignoreBounds=True)  # clear() removed it
        rows = result.rows if result is not None else []
        self.notes[0].set_empty(not rows)
        self.notes[1].set_empty(not any(r.get("drift_mean") is not None for r in rows))
        attacks = list(dict.fromkeys(r["attack"] for r in rows))
        for i, attack in enumerate(attacks):
            mine = sorted((r for r in rows if r["attack"] == attack), key=_x)
            style = STYLES[i % len(STYLES)]
            for prefix, key, title, colour in RATES:
                self._line(self.rates, mine, key, f"{prefix}_ci_low", f"{prefix}_ci_high",
                           f"{title} ({attack})", colour, style)
            self._line(self.drift, mine, "drift_mean", "drift_ci_low", "drift_ci_high",
                       f"drift ({attack})", "#2e7d32", style)
        if rows:
            self.rates.setYRange(0, 1)
            self.drift.addItem(pg.InfiniteLine(0, angle=0, pen=pg.mkPen("#888", width=1)))
        self.caption.setText(_caption(result) if rows else "")

    @staticmethod
    def _line(plot: pg.PlotWidget, rows: list[dict[str, Any]], key: str, low: str, high: str,
              name: str, colour: str, style: Qt.PenStyle) -> None:
        xs, ys, lows, highs = _series(rows, key, low, high)
        if not xs:
            return
        plot.plot(xs, ys, pen=pg.mkPen(colour, width=2, style=style), symbol="o",
                  symbolSize=6, symbolBrush=colour, name=name)
        plot.addItem(pg.ErrorBarItem(x=np.asarray(xs), y=np.asarray(ys),
                                     bottom=np.asarray(lows), top=np.asarray(highs),
                                     beam=0.3, pen=pg.mkPen(colour)))


def _caption(result: curves.CurveResult) -> str:
    parts = [f"{r['attack']} {r['budget']}: flips {r['flipped']}/{r['clean_correct']}, "
             f"LLM n={r['asked']}, drift n={r['drift_n']}" for r in result.rows]
    return (f"{result.model} ({result.modality}). " + "; ".join(parts) + f". Rates: "
            f"{result.rate_ci}. Drift: {result.drift_definition}.")


class CurveView(QWidget):
    """The curve's controls and plot, for the Results tab."""

    def __init__(self, ctx: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.inputs = CurveInputs()
        self.attacks_edit, self.eps_edit = self.inputs.attacks_edit, self.inputs.eps_edit
        self.per_class_spin = QSpinBox(minimum=1, maximum=100, value=5)
        self.per_class_spin.setToolTip("flipped videos per class and point the LLM is asked "
                                       "about (original, attacked, 2 noise-floor draws each)")
        self.estimate_button = QPushButton("Estimate")
        self.estimate_button.clicked.connect(self._on_estimate_clicked)
        self.run_button = QPushButton("Run curve")
        self.run_button.clicked.connect(self._on_run_clicked)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self._on_export_clicked)
        self.plot = CurvePlot()
        self.jobs = JobControls(ctx.runner)
        box = QVBoxLayout(self)
        box.addWidget(self.inputs)
        row = QHBoxLayout()
        for widget in (QLabel("LLM samples per class"), self.per_class_spin,
                       self.estimate_button, self.run_button, self.export_button):
            row.addWidget(widget)
        box.addLayout(row)
        box.addWidget(self.plot, 1)
        box.addWidget(self.jobs)
        ctx.project_changed.connect(self._on_ctx_project_changed)
        self._on_ctx_project_changed(ctx.project)

    # The Results tab's figure export reads a pyqtgraph PlotWidget's plotItem and scene():
    # here they are the rates plot's, the curve's main figure.
    @property
    def plotItem(self) -> pg.PlotItem:  # noqa: N802 (pyqtgraph's name)
        return self.plot.rates.plotItem

    def scene(self) -> Any:
        return self.plot.rates.scene()

    def config(self) -> curves.CurveConfig:
        """The CurveConfig the controls describe, on the project's classifier and dataset."""
        from harlab.attacks.config import AttackConfig
        from harlab.attacks.selection import default_checkpoint, default_dataset_root

        project = self.ctx.project
        if project is None:
            raise HarlabError("open a project first (File > Open project)")
        points = self.inputs.points(default_checkpoint(project), default_dataset_root(project),
                                    AttackConfig(device=self.ctx.device))
        return curves.CurveConfig(points, self.ctx.llm_config(),
                                  llm_per_class=self.per_class_spin.value())

    @Slot()
    def _on_estimate_clicked(self) -> None:
        try:
            config = self.config()
        except HarlabError as exc:
            self.jobs.show_error(str(exc))
            return
        self.jobs.run(_estimate_job(self.ctx.project, config), "Estimate curve",
                      lambda lines: self.jobs.show_message(" | ".join(lines)))

    @Slot()
    def _on_run_clicked(self) -> None:
        try:
            config = self.config()
        except HarlabError as exc:
            self.jobs.show_error(str(exc))
            return
        self.jobs.run(curves.run_curve(self.ctx.project, config), "Robustness curve",
                      self.plot.set_result, exclusive=True)

    @Slot()
    def _on_export_clicked(self) -> None:
        if self.plot.result is None:
            self.jobs.show_error("no curve to export yet: run one first")
            return
        start = str(self.ctx.project.exports_dir / "curve.csv") if self.ctx.project else ""
        path, _ = QFileDialog.getSaveFileName(self, "Export curve", start, "CSV (*.csv)")
        if path:
            write_records(path, curves.CURVE_COLUMNS, self.plot.result.rows)
            self.jobs.show_message(f"wrote {path}")

    @Slot(object)
    def _on_ctx_project_changed(self, project) -> None:
        self.plot.set_result(curves.last_curve(project) if project is not None else None)
        self.inputs.surrogate.set_project(project)


def _estimate_job(project: Any, config: curves.CurveConfig) -> Job[list[str]]:
    yield Progress(0, 0, "estimating the curve's cost")
    return curves.estimate_curve(project, config, len(curves.curve_videos(config)))
