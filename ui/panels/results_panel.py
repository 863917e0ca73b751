"""Results: score the answers, then Table 3, the paired tests and the plots.

Form -> config -> job -> view: the Score button builds a :class:`harlab.scoring.ScoreConfig`
and runs :func:`harlab.stages.score` on the job runner; the views are filled from
the results job (run off the GUI thread) whenever a project opens or a
scoring run ends, so stored results show without scoring again.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from harlab.errors import HarlabError, InputError
from harlab.jobs import Job
from harlab.scoring import METRICS, ScoreConfig, similarity, tables
from harlab.scoring.human import results_with_ratings_job
from harlab.stages import score
from harlab.study.views import arm_items, llm_used
from harlab.tabular import TABLE_FORMATS
from harlab.vocab import SCORER_DEVICE_CHOICES
from ui.context import AppContext
from ui.file_actions import evaluation_job
from ui.widgets.curve_plot import CurveView
from ui.widgets.export_menu import build_export_menu
from ui.widgets.job_controls import JobControls
from ui.widgets.results_plots import DistributionPlot, DriftPlot, ScoreScatter, export_plot
from ui.widgets.results_tables import TABLES, ResultsTables

log = logging.getLogger(__name__)

FILTERS = {".csv": "CSV (*.csv)", ".md": "Markdown (*.md)", ".tex": "LaTeX (*.tex)",
           ".png": "PNG (*.png)", ".svg": "SVG (*.svg)"}


def results_view_job(project: Any, semantic_model: str) -> Job[dict[str, Any]]:
    """The stored results, the answer pairs per modality and the LLM that gave them."""
    results = yield from results_with_ratings_job(project, semantic_model=semantic_model)
    return {**results, "arms": arm_items(project), "llm_used": llm_used(project)}


class ResultsPanel(QWidget):
    """Score answer pairs and show Table 3 with its distributions."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.models = similarity.EmbeddingModels()  # the model stays loaded between runs
        self.results: dict[str, Any] | None = None
        self._score_note = ""
        layout = QVBoxLayout(self)

        layout.addLayout(self._make_controls())

        self.jobs = JobControls(ctx.runner, cancel_text="Stop")
        self.stop_button, self.progress = self.jobs.cancel_button, self.jobs.progress
        self.message_label = self.jobs.status
        layout.addWidget(self.jobs)

        splitter = QSplitter()
        self.tables = ResultsTables()
        self.table_tabs = self.tables.tabs
        self.table_view, self.paired_view, self.drift_view, self.human_view = self.tables.views
        self.n_label, self.used_label = self.tables.n_label, self.tables.used_label
        splitter.addWidget(self.tables)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        metric_row = QHBoxLayout()
        metric_row.addWidget(QLabel("Metric"))
        self.metric_combo = QComboBox()
        self.metric_combo.addItems(METRICS)
        self.metric_combo.setCurrentText("semantic_cosine")
        self.metric_combo.currentTextChanged.connect(self._on_metric_combo_changed)
        metric_row.addWidget(self.metric_combo, 1)
        right_layout.addLayout(metric_row)
        self.plot_tabs = QTabWidget()
        self.distribution_plot = DistributionPlot()
        self.scatter_plot = ScoreScatter()
        self.scatter_plot.pair_clicked.connect(self._on_scatter_pair_clicked)
        self.drift_plot = DriftPlot()
        self.plot_tabs.addTab(self.distribution_plot, "Distributions")
        self.plot_tabs.addTab(self.scatter_plot, "Syntactic vs semantic")
        self.plot_tabs.addTab(self.drift_plot, "Drift vs noise floor")
        self.curve_view = CurveView(ctx)
        self.plot_tabs.addTab(self.curve_view, "Robustness curve")
        right_layout.addWidget(self.plot_tabs, 1)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([700, 520])  # Table 3's key columns fit without scrolling
        layout.addWidget(splitter, 1)

        ctx.project_changed.connect(self._on_ctx_project_changed)
        ctx.runner.started.connect(self._on_runner_started)
        ctx.runner.finished.connect(self._on_runner_finished)
        self.reload()

    def _make_controls(self) -> QHBoxLayout:
        """Model, device, Score / Stop / Refresh and the export buttons."""
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Semantic model"))
        self.model_combo = QComboBox()
        self.model_combo.setEditable(True)
        self.model_combo.addItem(similarity.DEFAULT_MODEL)
        self.model_combo.setToolTip("A sentence-transformers model name or folder, loaded "
                                    "offline. Another model adds scores beside the old ones.")
        controls.addWidget(self.model_combo, 1)
        controls.addWidget(QLabel("Device"))
        self.device_combo = QComboBox()
        self.device_combo.addItems(SCORER_DEVICE_CHOICES)
        controls.addWidget(self.device_combo)
        self.score_button = QPushButton("Score")
        self.score_button.setToolTip("Score every pair of ok answers not scored yet")
        self.score_button.clicked.connect(self._on_score_clicked)
        controls.addWidget(self.score_button)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self._on_refresh_clicked)
        controls.addWidget(self.refresh_button)
        self.export_button = QToolButton(text="Export ▾")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.export_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.export_menu = build_export_menu(self, self._on_export_chosen)
        self.export_button.setMenu(self.export_menu)
        self.export_table_button = self.export_button
        controls.addWidget(self.export_button)
        return controls

    # ------------------------------------------------------------------ config and jobs
    def score_config(self) -> ScoreConfig:
        """The scoring config the form describes."""
        return ScoreConfig(semantic_model=self.model_combo.currentText(),
                           device=self.device_combo.currentText())

    def reload(self) -> None:
        """Read the stored results again (off the GUI thread)."""
        project = self.ctx.project
        self._update_buttons()
        if project is None:
            self._show(None)
            self.message_label.setText("Open or create a project first (File menu).")
            return
        try:
            model = similarity.resolve_model_name(self.model_combo.currentText())
        except InputError as exc:
            self.jobs.show_error(str(exc))
            return
        self.jobs.run(results_view_job(project, model), "Load results",
                      self._on_results_loaded, quiet=True)
        self.jobs.show_message("reading stored scores…")

    @Slot()
    def _on_score_clicked(self) -> None:
        project = self.ctx.project
        if project is None:
            self.message_label.setText("Open or create a project first (File menu).")
            return
        try:
            config = self.score_config()
        except HarlabError as exc:
            self.jobs.show_error(str(exc))
            return
        if self.jobs.run(score(project, config, models=self.models), "Score answers",
                         self._on_score_succeeded, exclusive=True):
            self.jobs.show_message(f"scoring with {config.semantic_model}…")

    def _on_score_succeeded(self, result: Any) -> None:
        self._score_note = (f"scored: {result.added} scores added, {result.existing} already "
                            f"stored ({result.seconds:.1f} s)")
        self.message_label.setText(self._score_note)
        self.reload()

    def _on_results_loaded(self, results: dict[str, Any]) -> None:
        self._show(results)
        n = len(results["scores"])
        text = (f"{n} answer pair(s)" if n else
                "No answer pairs yet: ask the model (Responses panel), then press Score.")
        self.message_label.setText(" · ".join(t for t in (self._score_note, text) if t))
        self._score_note = ""

    # ------------------------------------------------------------------ views
    def _show(self, results: dict[str, Any] | None) -> None:
        self.results = results
        if results is None:
            self.tables.clear()
            self.scatter_plot.set_points([])
            self.distribution_plot.set_values(self.metric_combo.currentText(), {}, {})
            self.drift_plot.set_rows("", [])
            return
        self.tables.show_results(results)
        self.scatter_plot.set_points([
            (s.sample_id, s.modality, s.values["syntactic_cosine"], s.values["semantic_cosine"])
            for s in results["scores"]
            if s.values.get("syntactic_cosine") is not None
            and s.values.get("semantic_cosine") is not None])
        self._show_metric(self.metric_combo.currentText())

    def _show_metric(self, metric: str) -> None:
        if self.results is None:
            return
        values: dict[str, list[float]] = {}
        for s in self.results["scores"]:
            if s.values.get(metric) is not None:
                values.setdefault(s.modality, []).append(s.values[metric])
        cis = {r.modality: (r.ci_low, r.ci_high) for r in self.results["table"].rows
               if r.metric == metric}
        self.distribution_plot.set_values(metric, values, cis)
        drift_metric = metric if metric in self.results["drift"] else "semantic_cosine"
        self.drift_plot.set_rows(drift_metric, self.results["drift"][drift_metric])

    # ------------------------------------------------------------------ exports
    def export_table(self, path: str | Path) -> Path:
        """Write every table as one report (CSV: Table 3 only), by the suffix."""
        path = Path(path)
        fmt = TABLE_FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise InputError(f"table file {path.name!r} must end in "
                             f"{', '.join(TABLE_FORMATS)}")
        if self.results is None:
            raise InputError("no results to export yet: open a project with scores")
        path.write_text(tables.format_results(self.results["table"], fmt), encoding="utf-8")
        return path

    def export_records(self, index: int, path: str | Path) -> Path:
        """Write table ``index`` of :data:`TABLES` (every column) as CSV, Markdown or LaTeX."""
        return self.tables.export(index, path)

    def export_figure(self, path: str | Path) -> Path:
        """Write the plot on the current tab as PNG or SVG, chosen by the suffix."""
        return export_plot(self.plot_tabs.currentWidget(), path)

    def _default_dir(self) -> Path:
        return self.ctx.project.exports_dir if self.ctx.project is not None else Path()

    def _on_export_chosen(self, kind: str, index: int, suffix: str) -> None:
        stem = (TABLES[index][1] if kind == "table" else "results" if kind == "report" else
                "evaluation" if kind == "evaluation" else
                self.plot_tabs.tabText(self.plot_tabs.currentIndex()).lower().replace(" ", "_"))
        path, _ = QFileDialog.getSaveFileName(self, "Export", str(self._default_dir()
                                                                  / f"{stem}{suffix}"),
                                              FILTERS[suffix])
        if not path:
            return
        if kind == "evaluation" and self.ctx.project is not None:
            self.jobs.run(evaluation_job(self.ctx.project, Path(path)), "Export evaluation.csv",
                          lambda p: self.message_label.setText(f"wrote {p}"))
            return
        write = {"table": lambda p: self.export_records(index, p), "report": self.export_table,
                 "figure": self.export_figure}[kind]
        try:
            written = write(path)
        except (HarlabError, OSError) as exc:
            self.jobs.show_error(str(exc))
            return
        self.message_label.setText(f"wrote {written}")

    # ------------------------------------------------------------------ slots
    @Slot(int, str)
    def _on_scatter_pair_clicked(self, sample_id: int, modality: str) -> None:
        self.ctx.sample_requested.emit(sample_id, modality)

    @Slot(str)
    def _on_metric_combo_changed(self, metric: str) -> None:
        self._show_metric(metric)

    @Slot()
    def _on_refresh_clicked(self) -> None:
        self.reload()

    @Slot(object)
    def _on_ctx_project_changed(self, _project: object) -> None:
        self.reload()

    @Slot(str)
    def _on_runner_started(self, _name: str) -> None:
        self._update_buttons()

    @Slot()
    def _on_runner_finished(self) -> None:
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self.ctx.runner.busy
        has_project = self.ctx.project is not None
        self.score_button.setEnabled(has_project and not busy)
        self.refresh_button.setEnabled(has_project)
        self.export_table_button.setEnabled(self.results is not None)
