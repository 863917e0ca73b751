"""The Train panel: recipe form, Start / Cancel / Resume / Evaluate, and the project's runs.

Form -> :class:`TrainConfig` -> :func:`harlab.stages.train` on the context's runner -> view.
The view shows the run chosen in the Runs list: live while it trains, and, for any run the
project already holds, its stored per-step and per-epoch curves and its newest evaluation, read
back with :mod:`harlab.train.runs`. Opening a finished project therefore shows its curves at
once. The form shows the chosen run's recipe (else the study's, else the paper's): never a
preset picked by the dataset's path. A recipe that will take long here asks first.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from harlab import stages
from harlab.errors import HarlabError
from harlab.jobs import Progress
from harlab.study.export import study_config
from harlab.train import runs as train_runs
from harlab.train.config import TrainConfig
from harlab.train.estimate import estimate_training
from harlab.train.evaluate import EvalConfig
from harlab.train.fit import EpochDone, TrainStarted, TrainStep
from ui.context import AppContext
from ui.widgets.job_controls import JobControls
from ui.widgets.train_curves import TrainCurvesView
from ui.widgets.train_form import PRESETS, TrainConfigForm, confirm_long_run
from ui.widgets.train_results import EVAL_HINT, EpochTable, EvaluationView

log = logging.getLogger(__name__)

__all__ = ["PRESETS", "TrainPanel"]


def _format_eta(seconds: float) -> str:
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class TrainPanel(QWidget):
    """Fine-tune, watch the curves, evaluate; browse the project's runs.

    Signals:
        training_done(object): the TrainResult (or None after a cancel / failure).
        evaluation_done(object): the EvalResult.
    """

    training_done = Signal(object)
    evaluation_done = Signal(object)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self._job = ""  # "train", "evaluate" or ""
        self._outcome: str | None = None  # "done" or "failed" once the job has ended
        self._live_run: int | None = None
        self._build()
        ctx.project_changed.connect(self._on_ctx_project_changed)
        ctx.dataset_changed.connect(self._update_buttons)
        ctx.runner.finished.connect(self._update_buttons)
        ctx.runner.started.connect(self._update_buttons)
        self.confirm_long = confirm_long_run  # tests replace the dialog
        self._on_ctx_project_changed(ctx.project)

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        self.notice = QLabel(wordWrap=True)
        self.notice.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.form = TrainConfigForm()
        self.preset = self.form.preset
        self._editors = self.form.editors
        self.start_button = QPushButton("Start")
        self.resume_button = QPushButton("Resume")
        self.evaluate_button = QPushButton("Evaluate")
        self.start_button.clicked.connect(self._on_start_clicked)
        self.resume_button.clicked.connect(self._on_resume_clicked)
        self.evaluate_button.clicked.connect(self._on_evaluate_clicked)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.resume_button, self.evaluate_button):
            buttons.addWidget(b)
        self.jobs = JobControls(self.ctx.runner)
        self.cancel_button, self.progress = self.jobs.cancel_button, self.jobs.progress
        self.status = self.jobs.status
        self.status.setText("Ready.")
        self.eta = QLabel("")
        left = QVBoxLayout()
        left.addWidget(self.form, 1)
        left.addLayout(buttons)
        row = QHBoxLayout()
        row.addWidget(self.jobs, 1)
        row.addWidget(self.eta)
        left.addLayout(row)
        left_widget = QWidget()
        left_widget.setLayout(left)

        pg.setConfigOptions(antialias=True)
        self.runs_combo = QComboBox()
        self.runs_combo.setToolTip("The project's training runs; the view shows the chosen one")
        self.runs_combo.currentIndexChanged.connect(self._on_runs_combo_changed)
        self.curves = TrainCurvesView()
        self.table = EpochTable()
        self.evaluation = EvaluationView()
        self.confusion, self.metrics = self.evaluation.confusion, self.evaluation.metrics
        self.tabs = QTabWidget()
        self.tabs.addTab(self.table, "Epochs")
        self.tabs.addTab(self.evaluation, "Evaluation")
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        runs_row = QHBoxLayout()
        runs_row.addWidget(QLabel("Run"))
        runs_row.addWidget(self.runs_combo, 1)
        top_layout.addLayout(runs_row)
        top_layout.addWidget(self.curves, 1)
        right = QSplitter(Qt.Vertical)
        right.addWidget(top)
        right.addWidget(self.tabs)
        right.setSizes([320, 300])
        split = QSplitter(Qt.Horizontal)
        split.addWidget(left_widget)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addWidget(split, 1)

    # ------------------------------------------------------------------ config <-> form
    def set_config(self, config: TrainConfig) -> None:
        self.form.set_config(config)

    def config(self) -> TrainConfig:
        """The form as a TrainConfig; raises InputError for out-of-range values."""
        return self.form.config()

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self.table.history)

    # ------------------------------------------------------------------ the project's runs
    def refresh_runs(self, select: int | None = None) -> None:
        """Re-read the project's train runs; show ``select`` (default: keep, else newest)."""
        project = self.ctx.project
        runs = train_runs.train_runs(project) if project is not None else []
        keep = select if select is not None else self.runs_combo.currentData()
        self.runs_combo.blockSignals(True)
        self.runs_combo.clear()
        for run in reversed(runs):
            self.runs_combo.addItem(run.label, run.id)
        index = self.runs_combo.findData(keep) if keep is not None else -1
        self.runs_combo.setCurrentIndex(index if index >= 0 else 0 if runs else -1)
        self.runs_combo.blockSignals(False)
        if select is None:
            self._show_run(self.runs_combo.currentData())

    def _show_run(self, run_id: int | None) -> None:
        """The stored history and evaluation of a run (not while that run trains live)."""
        if run_id is not None and run_id == self._live_run:
            return
        self._reset_view()
        project = self.ctx.project
        if project is None or run_id is None:
            self.form.show_recipe(self._default_recipe())
            return
        try:
            run = train_runs.train_run(project, run_id)
        except HarlabError as exc:
            self._show_error(str(exc))
            return
        if not self._job:
            try:
                self.form.show_recipe(TrainConfig.from_dict(run.config), f"Run #{run.id}")
            except HarlabError as exc:
                log.warning("run #%s's recipe cannot be shown: %s", run.id, exc)
        self.table.set_history(run.history, run.best_epoch)
        self.curves.set_steps(run.steps.steps, run.steps.losses, run.steps.lrs)
        self.curves.set_epochs(run.history, run.best_epoch)
        result = train_runs.evaluation_of(project, run.best_checkpoint)
        if result is not None:
            self.evaluation.show_result(result)
        if not self._job:
            self.status.setText(f"Run #{run.id}: {run.status}"
                                + (f" ({run.error})" if run.error else "")
                                + (f"; best val acc {run.best_val_acc:.1%} at epoch "
                                   f"{run.best_epoch}" if run.best_epoch else ""))

    def _selected_checkpoint(self) -> Path | None:
        """The chosen run's best checkpoint, else the project's."""
        project = self.ctx.project
        if project is None:
            return None
        run_id = self.runs_combo.currentData()
        if run_id is not None:
            try:
                best = train_runs.train_run(project, run_id).best_checkpoint
            except HarlabError:
                best = None
            if best is not None and best.is_file():
                return best
        return train_runs.best_checkpoint(project)

    # ------------------------------------------------------------------ state
    def _ready_message(self) -> str | None:
        if self.ctx.project is None:
            return ("Open or create a project (File menu) to train: runs and checkpoints are "
                    "kept in the project folder.")
        if not self.ctx.dataset_root:
            return "Choose a dataset in the Data panel (or use the demo dataset) to train."
        return None

    @Slot()
    def _update_buttons(self) -> None:
        busy = self.ctx.runner.busy
        problem = self._ready_message()
        weights = self.notice.property("weights")
        self.notice.setVisible(bool(problem) or bool(weights))
        self.notice.setText(problem or weights or "")
        project = self.ctx.project
        self.start_button.setEnabled(not busy and problem is None)
        self.resume_button.setEnabled(not busy and problem is None and project is not None
                                      and train_runs.resume_checkpoint(project) is not None)
        self.evaluate_button.setEnabled(not busy and problem is None
                                        and self._selected_checkpoint() is not None)

    def _show_error(self, message: str) -> None:
        self.jobs.show_error(message)

    # ------------------------------------------------------------------ slots: context
    @Slot(object)
    def _on_ctx_project_changed(self, _project: object) -> None:
        self.refresh_runs()
        self._update_buttons()

    def _default_recipe(self) -> TrainConfig:
        """The study's recipe when the project has a study, else the paper's."""
        project = self.ctx.project
        if project is not None:
            try:
                study = study_config(project)
                if study is not None:
                    return study.train_config()
            except HarlabError as exc:
                log.warning("the study's recipe cannot be shown: %s", exc)
        return TrainConfig.paper()

    @Slot(int)
    def _on_runs_combo_changed(self, _index: int) -> None:
        self._show_run(self.runs_combo.currentData())
        self._update_buttons()

    # ------------------------------------------------------------------ slots: jobs
    @Slot()
    def _on_start_clicked(self) -> None:
        self._start_training(resume=None)

    @Slot()
    def _on_resume_clicked(self) -> None:
        project = self.ctx.project
        self._start_training(resume=train_runs.resume_checkpoint(project) if project else None)

    def _start_training(self, resume: Path | None) -> None:
        try:
            config = self.config()
        except HarlabError as exc:
            self._show_error(str(exc))
            return
        if resume is None and not self._confirm(config):
            self.status.setText("Not started.")
            return
        self._reset_view()
        self._job, self._outcome, self._live_run = "train", None, None
        job = stages.train(self.ctx.project, config, self.ctx.dataset_root, resume=resume)
        self.status.setText("Resuming…" if resume else "Preparing frames…")
        self.jobs.run(job, "train", self._on_train_succeeded, on_progress=self._on_train_progress,
                      on_error=self._on_job_error, on_finished=self._on_job_finished)
        self._update_buttons()

    def _confirm(self, config: TrainConfig) -> bool:
        """Say how long ``config`` will take here and ask when that is long."""
        dataset = self.ctx.dataset
        if dataset is None or self.ctx.project is None:
            return True  # not indexed yet: nothing to count; the job says what it finds
        from harlab.device import resolve_device

        try:
            device = resolve_device(config.device)
        except HarlabError:
            return True  # the job reports a bad device
        runs = [r for r in train_runs.train_runs(self.ctx.project)
                if r.config.get("dataset_root") == str(dataset.root)]
        estimate = estimate_training(config, len(dataset.train), device.type, runs)
        self.eta.setText(f"estimate: {estimate.describe()}")
        return self.confirm_long(self, estimate, str(device))

    @Slot()
    def _on_evaluate_clicked(self) -> None:
        checkpoint = self._selected_checkpoint()
        try:
            if checkpoint is None:
                raise HarlabError("No best checkpoint in this project yet; train first.")
            recipe = self.form.fields.values()
            config = EvalConfig(str(checkpoint), self.ctx.dataset_root, recipe["fold"],
                                device=recipe["device"])
        except HarlabError as exc:
            self._show_error(str(exc))
            return
        self._job, self._outcome = "evaluate", None
        self.status.setText(f"Evaluating {checkpoint.parent.name}/{checkpoint.name}…")
        self.jobs.run(stages.evaluate(self.ctx.project, config), "evaluate",
                      self._on_eval_succeeded, on_error=self._on_job_error,
                      on_finished=self._on_job_finished)
        self._update_buttons()

    def _on_train_progress(self, step: Progress) -> None:
        data = step.data
        if isinstance(data, TrainStarted):
            self.notice.setProperty("weights", data.weights)
            self._live_run = data.run_id
            self.refresh_runs(select=data.run_id)
            self._update_buttons()
            self.table.set_history(data.history, 0)
            self.curves.set_epochs(self.table.history, self.table.best_epoch)
        elif isinstance(data, TrainStep):
            self.curves.add_step(data.step, data.loss, data.lr)
            self.eta.setText(f"ETA {_format_eta(data.eta_s)}")
        elif isinstance(data, EpochDone):
            self.table.add_epoch(data.row, data.best_epoch)
            self.curves.set_epochs(self.table.history, self.table.best_epoch)

    def _on_train_succeeded(self, result: Any) -> None:
        self._outcome = "done"
        self.status.setText(f"Done: best val acc {result.best_val_acc:.1%} at epoch "
                            f"{result.best_epoch}; {result.best_checkpoint.name} saved.")
        self.eta.setText("")
        self.training_done.emit(result)

    def _on_eval_succeeded(self, result: Any) -> None:
        self._outcome = "done"
        self.evaluation.show_result(result)
        self.tabs.setCurrentIndex(1)
        self.status.setText(f"Evaluated: {result.summary()}")
        self.evaluation_done.emit(result)

    def _on_job_error(self, _message: str) -> None:
        self._outcome = "failed"
        if self._job == "train":
            self.training_done.emit(None)

    def _on_job_finished(self) -> None:
        if self._job and self._outcome is None:  # neither succeeded nor failed: cancelled
            self.status.setText("Cancelled; press Resume to continue from the last step."
                                if self._job == "train" else "Evaluation cancelled.")
            self.eta.setText("")
            if self._job == "train":
                self.training_done.emit(None)
        if self._job == "train":
            self._live_run = None
            self.refresh_runs(select=self.runs_combo.currentData())
        self._job = ""
        self._update_buttons()

    # ------------------------------------------------------------------ view
    def _reset_view(self) -> None:
        self.curves.clear()
        self.table.clear_rows()
        self.evaluation.clear_result(EVAL_HINT)
