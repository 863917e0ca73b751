"""The Train panel: the recipe form, Start / Cancel / Resume, live curves, epochs, evaluation.

The form is built from :class:`harlab.train.config.TrainConfig`'s fields; the job is
:func:`harlab.train.fit.train` on the context's runner. Plots redraw on a timer, not on every
step, so a long run with many thousands of steps stays cheap to display.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from harlab.errors import HarlabError
from harlab.jobs import Progress
from harlab.train.config import TrainConfig
from harlab.train.fit import EpochDone, TrainStarted, TrainStep
from harlab.train.models import MODEL_REGISTRY, WEIGHT_CHOICES
from ui.context import AppContext
from ui.widgets.confusion_matrix import ConfusionMatrixView
from ui.widgets.train_curves import TrainCurvesView

log = logging.getLogger(__name__)

PRESETS = {"Paper recipe": TrainConfig.paper, "Demo (fast CPU)": TrainConfig.demo}
LABELS = {
    "arch": "Architecture", "weights": "Start weights", "image_size": "Image size (px)",
    "frames_per_video": "Frames per video", "epochs": "Epochs", "batch_size": "Batch size",
    "lr": "Learning rate", "max_lr": "Cyclic max LR", "weight_decay": "Weight decay",
    "accumulate": "Accumulate batches", "lr_cycle_steps": "LR half-cycle (steps, 0=auto)",
    "flip": "Random horizontal flip", "jitter": "Colour jitter", "hue": "Hue jitter",
    "zoom": "Zoom / shift (not in paper)", "rotation_deg":
    "Rotation (±deg)", "val_fraction": "Validation groups share", "fold": "Fold",
    "seed": "Seed", "device": "Device", "amp": "Mixed precision (CUDA)",
    "channels_last": "Channels-last (CUDA)",
}
FLOAT_DECIMALS = {"lr": 6, "max_lr": 6, "weight_decay": 4, "jitter": 2, "hue": 2, "zoom": 2,
                  "rotation_deg": 1,
                  "val_fraction": 2}
EPOCH_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "time_s"]


def _format_eta(seconds: float) -> str:
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class TrainPanel(QWidget):
    """Fine-tune, watch the curves, evaluate.

    Signals:
        training_done(object): the TrainResult (or None after a cancel / failure).
        evaluation_done(object): the EvalResult.
    """

    training_done = Signal(object)
    evaluation_done = Signal(object)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self._editors: dict[str, QWidget] = {}
        self._history: list[dict[str, Any]] = []
        self._best_epoch = 0
        self._job = ""  # "train", "evaluate" or ""
        self._outcome: str | None = None  # "done" or "failed" once the job has ended
        self._build()
        ctx.project_changed.connect(self._on_ctx_project_changed)
        ctx.dataset_changed.connect(self._on_ctx_dataset_changed)
        ctx.runner.finished.connect(self._update_buttons)
        ctx.runner.started.connect(self._update_buttons)
        self._on_ctx_dataset_changed(ctx.dataset_root)

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        self.notice = QLabel(wordWrap=True)
        self.notice.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.preset = QComboBox()
        self.preset.addItems(list(PRESETS))
        self.preset.currentTextChanged.connect(self._on_preset_changed)
        form = QFormLayout()
        form.addRow("Preset", self.preset)
        for f in dataclasses.fields(TrainConfig):
            editor = self._make_editor(f.name, f.default)
            self._editors[f.name] = editor
            form.addRow(LABELS.get(f.name, f.name), editor)
        box = QGroupBox("Recipe")
        box.setLayout(form)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(box)
        scroll.setMinimumWidth(360)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)

        self.start_button = QPushButton("Start")
        self.cancel_button = QPushButton("Cancel")
        self.resume_button = QPushButton("Resume")
        self.evaluate_button = QPushButton("Evaluate")
        self.start_button.clicked.connect(self._on_start_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.resume_button.clicked.connect(self._on_resume_clicked)
        self.evaluate_button.clicked.connect(self._on_evaluate_clicked)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.cancel_button, self.resume_button,
                  self.evaluate_button):
            buttons.addWidget(b)
        self.progress = QProgressBar()
        self.status = QLabel("Ready.", wordWrap=True)
        self.eta = QLabel("")
        left = QVBoxLayout()
        left.addWidget(scroll, 1)
        left.addLayout(buttons)
        left.addWidget(self.progress)
        row = QHBoxLayout()
        row.addWidget(self.status, 1)
        row.addWidget(self.eta)
        left.addLayout(row)
        left_widget = QWidget()
        left_widget.setLayout(left)

        pg.setConfigOptions(antialias=True)
        self.curves = TrainCurvesView()

        self.table = QTableWidget(0, len(EPOCH_COLUMNS))
        self.table.setHorizontalHeaderLabels([c.replace("_", " ") for c in EPOCH_COLUMNS])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.confusion = ConfusionMatrixView()
        self.metrics = QLabel("Evaluate the best checkpoint on the fold's test split.",
                              wordWrap=True)
        self.metrics.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.metrics.setMinimumWidth(220)
        self.metrics.setAlignment(Qt.AlignTop)
        eval_layout = QHBoxLayout()
        eval_layout.addWidget(self.confusion, 2)
        eval_layout.addWidget(self.metrics, 1)
        eval_widget = QWidget()
        eval_widget.setLayout(eval_layout)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.table, "Epochs")
        self.tabs.addTab(eval_widget, "Evaluation")

        right = QSplitter(Qt.Vertical)
        right.addWidget(self.curves)
        right.addWidget(self.tabs)
        right.setSizes([300, 300])
        split = QSplitter(Qt.Horizontal)
        split.addWidget(left_widget)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addWidget(split, 1)

    def _make_editor(self, name: str, default: Any) -> QWidget:
        if name == "arch":
            editor = QComboBox()
            editor.addItems(list(MODEL_REGISTRY))
        elif name == "device":
            editor = QComboBox()
            editor.addItems(["auto", "cpu", "cuda"])
        elif name == "weights":
            editor = QComboBox(editable=True)
            editor.addItems(list(WEIGHT_CHOICES))
            editor.setToolTip("auto: ImageNet weights when torchvision has them cached, else "
                              "from scratch; imagenet: download if needed; none: scratch; or a "
                              "weights file")
            browse = QPushButton("…")
            browse.setMaximumWidth(30)
            browse.clicked.connect(self._on_browse_weights_clicked)
            holder = QWidget()
            row = QHBoxLayout(holder)
            row.setContentsMargins(0, 0, 0, 0)
            row.addWidget(editor, 1)
            row.addWidget(browse)
            holder.combo = editor  # type: ignore[attr-defined]
            return holder
        elif isinstance(default, bool):
            editor = QCheckBox()
        elif isinstance(default, int):
            editor = QSpinBox()
            editor.setRange(0, 10**7)
        else:
            editor = QDoubleSpinBox()
            decimals = FLOAT_DECIMALS.get(name, 4)
            editor.setDecimals(decimals)
            editor.setRange(0.0, 1000.0)
            editor.setSingleStep(10 ** -decimals * (10 if decimals > 3 else 5))
        return editor

    # ------------------------------------------------------------------ config <-> form
    def set_config(self, config: TrainConfig) -> None:
        for name, value in config.to_dict().items():
            editor = self._editors[name]
            editor = getattr(editor, "combo", editor)
            if isinstance(editor, QComboBox):
                editor.setCurrentText(str(value))
            elif isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            else:
                editor.setValue(value)

    def config(self) -> TrainConfig:
        """The form as a TrainConfig; raises InputError for out-of-range values."""
        values: dict[str, Any] = {}
        for name, editor in self._editors.items():
            editor = getattr(editor, "combo", editor)
            if isinstance(editor, QComboBox):
                values[name] = editor.currentText().strip()
            elif isinstance(editor, QCheckBox):
                values[name] = editor.isChecked()
            else:
                values[name] = editor.value()
        return TrainConfig(**values)

    # ------------------------------------------------------------------ state
    def _ready_message(self) -> str | None:
        if self.ctx.project is None:
            return "Open or create a project (File menu) to train: runs and checkpoints " \
                   "are kept in the project folder."
        if not self.ctx.dataset_root:
            return "Choose a dataset in the Data panel (or use the demo dataset) to train."
        return None

    def _resume_checkpoint(self) -> Path | None:
        """The newest train run's last.pt that can still continue."""
        project = self.ctx.project
        if project is None:
            return None
        for run in reversed(project.runs("train")):
            result = json.loads(run["result_json"] or "{}")
            rel = result.get("last_checkpoint")
            path = project.abspath(rel) if rel else \
                project.checkpoints_dir / f"train-{run['id']}" / "last.pt"
            if path.is_file():
                return None if result.get("completed") else path
        return None

    def _best_checkpoint(self) -> Path | None:
        project = self.ctx.project
        if project is None:
            return None
        for run in reversed(project.runs("train")):
            rel = json.loads(run["result_json"] or "{}").get("best_checkpoint")
            if rel and project.abspath(rel).is_file():
                return project.abspath(rel)
        return None

    @Slot()
    def _update_buttons(self) -> None:
        busy = self.ctx.runner.busy
        problem = self._ready_message()
        self.notice.setVisible(bool(problem) or bool(self.notice.property("weights")))
        if problem:
            self.notice.setText(problem)
        elif self.notice.property("weights"):
            self.notice.setText(self.notice.property("weights"))
        self.start_button.setEnabled(not busy and problem is None)
        self.resume_button.setEnabled(not busy and problem is None
                                      and self._resume_checkpoint() is not None)
        self.evaluate_button.setEnabled(not busy and problem is None
                                        and self._best_checkpoint() is not None)
        self.cancel_button.setEnabled(busy and bool(self._job))

    def _show_error(self, message: str) -> None:
        self.status.setText(f"<span style='color:#b00020'>{message}</span>")

    # ------------------------------------------------------------------ slots: form
    @Slot(str)
    def _on_preset_changed(self, name: str) -> None:
        self.set_config(PRESETS[name]())

    @Slot()
    def _on_browse_weights_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Weights file", "",
                                              "PyTorch weights (*.pt *.pth);;All files (*)")
        if path:
            self._editors["weights"].combo.setCurrentText(path)

    @Slot(object)
    def _on_ctx_project_changed(self, _project: object) -> None:
        self._update_buttons()

    @Slot(str)
    def _on_ctx_dataset_changed(self, root: str) -> None:
        from harlab.paths import demo_dataset_dir

        is_demo = bool(root) and Path(root).resolve() == demo_dataset_dir().resolve()
        self.preset.setCurrentText("Demo (fast CPU)" if is_demo else "Paper recipe")
        self._on_preset_changed(self.preset.currentText())
        self._update_buttons()

    # ------------------------------------------------------------------ slots: jobs
    @Slot()
    def _on_start_clicked(self) -> None:
        self._start_training(resume=None)

    @Slot()
    def _on_resume_clicked(self) -> None:
        self._start_training(resume=self._resume_checkpoint())

    def _start_training(self, resume: Path | None) -> None:
        from harlab.train.fit import train

        try:
            config = self.config()
        except HarlabError as exc:
            self._show_error(str(exc))
            return
        self._reset_curves()
        self._job, self._outcome = "train", None
        job = train(config, self.ctx.dataset_root, None, project=self.ctx.project,
                    resume=resume)
        self.status.setText("Resuming…" if resume else "Preparing frames…")
        try:
            self.ctx.runner.start(job, "train", on_progress=self._on_train_progress,
                                  on_success=self._on_train_succeeded,
                                  on_error=self._on_job_error, on_finished=self._on_job_finished)
        except HarlabError as exc:
            self._job = ""
            self._show_error(str(exc))
        self._update_buttons()

    @Slot()
    def _on_cancel_clicked(self) -> None:
        self.status.setText("Cancelling after this batch…")
        self.ctx.runner.cancel()

    @Slot()
    def _on_evaluate_clicked(self) -> None:
        from harlab.train.evaluate import evaluate

        checkpoint = self._best_checkpoint()
        if checkpoint is None:
            self._show_error("No best checkpoint in this project yet; train first.")
            return
        fold = self._editors["fold"].value()
        device = self._editors["device"].currentText()
        self._job, self._outcome = "evaluate", None
        self.status.setText(f"Evaluating {checkpoint.parent.name}/{checkpoint.name}…")
        try:
            self.ctx.runner.start(evaluate(checkpoint, self.ctx.dataset_root, fold,
                                           project=self.ctx.project, device=device),
                                  "evaluate", on_progress=self._on_eval_progress,
                                  on_success=self._on_eval_succeeded,
                                  on_error=self._on_job_error, on_finished=self._on_job_finished)
        except HarlabError as exc:
            self._job = ""
            self._show_error(str(exc))
        self._update_buttons()

    def _on_train_progress(self, step: Progress) -> None:
        if step.total:
            self.progress.setMaximum(step.total)
            self.progress.setValue(step.done)
        else:
            self.progress.setMaximum(0)
        self.status.setText(step.message)
        data = step.data
        if isinstance(data, TrainStarted):
            self.notice.setProperty("weights", data.weights)
            self._update_buttons()
            for row in data.history:
                self._add_epoch(row)
        elif isinstance(data, TrainStep):
            self.curves.add_step(data.step, data.loss, data.lr)
            self.eta.setText(f"ETA {_format_eta(data.eta_s)}")
        elif isinstance(data, EpochDone):
            self._best_epoch = data.best_epoch
            self._add_epoch(data.row)

    def _on_train_succeeded(self, result: Any) -> None:
        self._outcome = "done"
        self.status.setText(f"Done: best val acc {result.best_val_acc:.1%} at epoch "
                            f"{result.best_epoch}; {result.best_checkpoint.name} saved.")
        self.eta.setText("")
        self.training_done.emit(result)

    def _on_eval_progress(self, step: Progress) -> None:
        self.progress.setMaximum(step.total or 0)
        self.progress.setValue(step.done)
        self.status.setText(step.message)

    def _on_eval_succeeded(self, result: Any) -> None:
        self._outcome = "done"
        self.confusion.set_matrix(result.confusion, result.classes)
        worst = sorted(result.per_class_acc.items(), key=lambda kv: kv[1])[:5]
        self.metrics.setText(
            f"<b>Video</b> top-1 {result.video_top1:.1%}, top-5 {result.video_top5:.1%}<br>"
            f"<b>Frame</b> top-1 {result.frame_top1:.1%}, top-5 {result.frame_top5:.1%}<br>"
            f"{result.n_videos} videos, {result.n_frames} frames<br><br><b>Lowest classes"
            "</b><br>" + "<br>".join(f"{name}: {acc:.0%}" for name, acc in worst))
        self.tabs.setCurrentIndex(1)
        self.status.setText(f"Evaluated: {result.summary()}")
        self.evaluation_done.emit(result)

    def _on_job_error(self, message: str, _tb: str) -> None:
        self._outcome = "failed"
        self._show_error(message)
        if self._job == "train":
            self.training_done.emit(None)

    def _on_job_finished(self) -> None:
        if self._job and self._outcome is None:  # neither succeeded nor failed: cancelled
            self.status.setText("Cancelled; press Resume to continue from the last step."
                                if self._job == "train" else "Evaluation cancelled.")
            self.eta.setText("")
            if self._job == "train":
                self.training_done.emit(None)
        self._job = ""
        self._update_buttons()

    # ------------------------------------------------------------------ curves
    def _reset_curves(self) -> None:
        self._history = []
        self._best_epoch = 0
        self.curves.clear()
        self.table.setRowCount(0)

    def _add_epoch(self, row: dict[str, Any]) -> None:
        self._history.append(row)
        if row.get("best"):
            self._best_epoch = row["epoch"]
        r = self.table.rowCount()
        self.table.insertRow(r)
        for c, key in enumerate(EPOCH_COLUMNS):
            value = row.get(key, "")
            text = (f"{value:.1%}" if key.endswith("acc") else f"{value:.2e}" if key == "lr"
                    else f"{value:.4f}" if key.endswith("loss") else f"{value:.1f}"
                    if key == "time_s" else str(value))
            self.table.setItem(r, c, QTableWidgetItem(text))
        self._mark_best_row()
        self.curves.set_epochs(self._history, self._best_epoch)

    def _mark_best_row(self) -> None:
        for r, h in enumerate(self._history):
            best = h["epoch"] == self._best_epoch
            for c in range(self.table.columnCount()):
                item = self.table.item(r, c)
                font = QFont(item.font())
                font.setBold(best)
                item.setFont(font)
            self.table.item(r, 0).setText(f"{h['epoch']} ★" if best else str(h["epoch"]))

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self._history)
