"""The Attack panel: browse videos, attack one interactively, find the study's samples, sweep eps.

Left: the context's test videos (its dataset and fold) and the project's samples. Right: the
keyframes, one as original | adversarial | perturbation | Grad-CAM, top-5 before and after, and
the eps sweep. Every model call is a job on the shared runner with the context's classifier
cache; a newer view request replaces a queued one. A project opens with its samples and its
last recorded sweep.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from harlab.attacks.config import AttackConfig
from harlab.attacks.samples import sample_rows
from harlab.attacks.selection import (
    SweepConfig,
    check_classes_known,
    default_dataset_root,
    last_sweep,
)
from harlab.errors import HarlabError
from harlab.jobs import Job, Progress
from harlab.train.runs import best_checkpoint
from ui.context import AppContext
from ui.panels import attack_jobs
from ui.panels.attack_jobs import AttackView
from ui.widgets.accuracy_report import AccuracyReportView
from ui.widgets.attack_labels import frame_titles, parse_eps_255, verdict_text
from ui.widgets.attack_lists import SamplesTable, VideoBrowser
from ui.widgets.attack_params import AttackParamsForm
from ui.widgets.attack_views import KeyframeGrid, SweepPlot, Top5Bars
from ui.widgets.config_form import ConfigForm
from ui.widgets.frame_strip import FrameStrip
from ui.widgets.job_controls import JobControls

log = logging.getLogger(__name__)

SWEEP_EPS_255 = (0, 1, 2, 3, 4, 6, 8, 12, 16)
VIEW_JOB = "attack view"


class AttackPanel(QWidget):
    """Attack keyframes, inspect perturbations and Grad-CAM, and select the study's samples."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self._view: AttackView | None = None
        self._frame = 0
        self._rerun = QTimer(self, singleShot=True, interval=250)
        self._rerun.timeout.connect(self._on_rerun_timeout)
        self._build()
        ctx.project_changed.connect(self._on_ctx_project_changed)
        ctx.dataset_indexed.connect(self._on_ctx_dataset_indexed)
        self._on_ctx_project_changed(ctx.project)
        if ctx.dataset is not None:
            self._on_ctx_dataset_indexed(ctx.dataset)
        ctx.want_dataset()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.checkpoint_edit = QLineEdit(placeholderText="best.pt of a training run")
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._on_browse_clicked)
        self.attack_form = ConfigForm(AttackConfig, ("attack", "keyframes"), inline=True)
        self.attack_form.changed.connect(self._on_params_changed)
        self.attack_combo = self.attack_form.editors["attack"]
        self.keyframes_spin = self.attack_form.editors["keyframes"]
        self.attack_params = AttackParamsForm(self.attack_combo)
        self.attack_params.changed.connect(self._on_params_changed)
        self.eps_slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=32, value=8)
        self.eps_slider.setTickInterval(4)
        self.eps_slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.eps_slider.valueChanged.connect(self._on_eps_changed)
        self.eps_label = QLabel(minimumWidth=130)
        top = QHBoxLayout()
        for widget, stretch in ((QLabel("Checkpoint"), 0), (self.checkpoint_edit, 3),
                                (browse, 0), (self.attack_form, 0), (QLabel("eps"), 0),
                                (self.eps_slider, 2), (self.eps_label, 0)):
            top.addWidget(widget, stretch)

        self.videos = VideoBrowser()
        self.videos.video_selected.connect(self._on_videos_video_selected)
        self.video_list = self.videos.video_list
        self.samples_form = ConfigForm(AttackConfig, ("classes", "per_class"))
        self.classes_edit = self.samples_form.editors["classes"]
        self.per_class_spin = self.samples_form.editors["per_class"]
        for form in (self.attack_form, self.samples_form):
            form.set_config(AttackConfig())
        self.find_button = QPushButton("Find samples")
        self.find_button.clicked.connect(self._on_find_clicked)
        self.jobs = JobControls(self.ctx.runner)
        self.jobs.busy_changed.connect(self._on_jobs_busy_changed)
        self.cancel_button, self.progress = self.jobs.cancel_button, self.jobs.progress
        self.status = self.jobs.status
        self.samples_table = SamplesTable()
        self.samples_table.sample_selected.connect(self._on_samples_table_sample_selected)
        samples = QWidget()
        sbox = QVBoxLayout(samples)
        sbox.setContentsMargins(0, 0, 0, 0)
        sbox.addWidget(self.samples_form)
        sbox.addWidget(self.find_button)
        sbox.addWidget(self.samples_table, 1)
        self.left_tabs = QTabWidget()
        self.left_tabs.addTab(self.videos, "Videos")
        self.left_tabs.addTab(samples, "Samples")

        self.strip = FrameStrip(thumb_height=72)
        self.strip.frame_clicked.connect(self._on_strip_frame_clicked)
        self.grid = KeyframeGrid()
        self.top5 = Top5Bars()
        self.top5.setMinimumHeight(150)
        self.verdict = QLabel("Pick a video or a sample.", wordWrap=True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # the header sits outside the splitter, so no handle can squeeze it to one cut line
        self.verdict.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        splitter = QSplitter(Qt.Orientation.Vertical)
        for widget in (self.strip, self.grid, self.top5):
            splitter.addWidget(widget)
        splitter.setSizes([130, 540, 190])
        inspect = QWidget()
        inspect_box = QVBoxLayout(inspect)
        inspect_box.setContentsMargins(0, 0, 0, 0)
        inspect_box.addWidget(self.verdict)
        inspect_box.addWidget(splitter, 1)

        self.sweep_plot = SweepPlot()
        self.sweep_videos_spin = QSpinBox(minimum=1, maximum=1000, value=10)
        self.sweep_button = QPushButton("Run eps sweep")
        self.sweep_button.clicked.connect(self._on_sweep_clicked)
        self.sweep_eps_edit = QLineEdit(", ".join(map(str, SWEEP_EPS_255)))
        self.sweep_eps_edit.setToolTip("eps values in 1/255 units, separated by commas (like "
                                       "harlab attack sweep --eps)")
        self.sweep_note = QLabel("on the videos of the classes above")
        sweep = QWidget()
        sw = QVBoxLayout(sweep)
        row = QHBoxLayout()
        row.addWidget(QLabel("eps (x 1/255)"))
        row.addWidget(self.sweep_eps_edit, 1)
        row.addWidget(QLabel("Videos per class"))
        row.addWidget(self.sweep_videos_spin)
        row.addWidget(self.sweep_button)
        row.addWidget(self.sweep_note, 1)
        sw.addLayout(row)
        sw.addWidget(self.sweep_plot, 1)
        self.right_tabs = QTabWidget()
        self.right_tabs.addTab(inspect, "Inspect")
        self.right_tabs.addTab(sweep, "eps sweep")
        self.report_view = AccuracyReportView(self.ctx, self.config, self._checkpoint)
        self.right_tabs.addTab(self.report_view, "Accuracy under attack")

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.left_tabs)
        split.addWidget(self.right_tabs)
        split.setStretchFactor(1, 4)
        split.setSizes([430, 850])
        outer = QVBoxLayout(self)
        outer.addLayout(top)
        outer.addWidget(self.attack_params)
        outer.addWidget(split, 1)
        outer.addWidget(self.jobs)
        self._on_eps_changed(self.eps_slider.value())

    # ------------------------------------------------------------------ config
    @property
    def eps(self) -> float:
        return self.eps_slider.value() / 255.0

    def config(self, **overrides: Any) -> AttackConfig:
        """The AttackConfig the controls describe (raises InputError on bad entries)."""
        values = dict(**self.attack_form.values(), **self.samples_form.values(), eps=self.eps,
                      params=self.attack_params.params(), fold=self.ctx.fold,
                      device=self.ctx.device)
        return AttackConfig(**{**values, **overrides})

    def _checkpoint(self) -> str:
        path = self.checkpoint_edit.text().strip()
        if not path:
            raise HarlabError("no checkpoint chosen; train a model in the Train panel or pick a "
                              "best.pt with Browse.")
        return path

    # ------------------------------------------------------------------ jobs
    def _enqueue(self, job: Job[Any], name: str, on_success, *, user: bool = False) -> None:
        """Run ``job`` on the shared runner; a newer view request replaces a queued one."""
        self.jobs.run(job, name, on_success, quiet=not user,
                      on_progress=self._on_progress if user else None)

    def _request_view(self, kind: str, arg: Any) -> None:
        """Show a video (kind 'live') or a stored sample (kind 'sample')."""
        try:
            checkpoint = self._checkpoint()
            config = self.config()
        except HarlabError as exc:
            self.jobs.show_error(str(exc))
            return
        cache = self.ctx.classifiers
        job = (attack_jobs.live_job(cache, checkpoint, arg, config) if kind == "live" else
               attack_jobs.sample_job(cache, checkpoint, self.ctx.project, arg, config.device))
        self._enqueue(job, VIEW_JOB, self._on_view_ready)

    @Slot(bool)
    def _on_jobs_busy_changed(self, busy: bool) -> None:
        self.find_button.setEnabled(not busy)
        self.sweep_button.setEnabled(not busy)

    def _on_progress(self, step: Progress) -> None:
        if isinstance(step.data, list) and step.data:
            self._refresh_samples()

    # ------------------------------------------------------------------ slots: context
    @Slot(object)
    def _on_ctx_project_changed(self, project) -> None:
        self._refresh_samples()
        self._show_last_sweep()
        if project is None:
            return
        checkpoint = best_checkpoint(project)
        if checkpoint is not None:  # else leave whatever the user typed
            self.checkpoint_edit.setText(str(checkpoint))

    @Slot(object)
    def _on_ctx_dataset_indexed(self, dataset) -> None:
        self.videos.set_dataset(dataset.classes, dataset.test)

    # ------------------------------------------------------------------ slots: controls
    @Slot()
    def _on_browse_clicked(self) -> None:
        start = str(self.ctx.project.checkpoints_dir) if self.ctx.project else ""
        path, _ = QFileDialog.getOpenFileName(self, "Classifier checkpoint", start,
                                              "Checkpoints (*.pt)")
        if path:
            self.checkpoint_edit.setText(path)

    @Slot(int)
    def _on_eps_changed(self, value: int) -> None:
        self.eps_label.setText(f"{value}/255 = {value / 255:.4f}")
        self._on_params_changed()

    @Slot()
    def _on_params_changed(self) -> None:
        if self._view is not None and self._view.source == "live":
            self._rerun.start()

    @Slot()
    def _on_rerun_timeout(self) -> None:
        item = self.videos.current()
        if item is not None:
            self._request_view("live", item)

    @Slot(object)
    def _on_videos_video_selected(self, item) -> None:
        self._request_view("live", item)

    @Slot(int)
    def _on_samples_table_sample_selected(self, sample_id: int) -> None:
        if self.ctx.project is not None:
            self._request_view("sample", sample_id)

    @Slot(int)
    def _on_strip_frame_clicked(self, pos: int) -> None:
        self._frame = pos
        self._show_frame()

    def _on_view_ready(self, view: AttackView) -> None:
        self._view = view
        a = view.attack
        self._frame = min(self._frame, len(a.clean_frames) - 1)
        self.strip.set_frames(a.clean_frames, [f"#{i}  {t:.2f}s" for i, t in
                                               zip(a.keyframe_indices, a.timestamps_s,
                                                   strict=True)])
        self.verdict.setText(verdict_text(view))
        self.top5.set_top5("clean", a.clean_top5(), a.true_label)
        self.top5.set_top5("adv", a.adv_top5(), a.true_label)
        self._show_frame()

    def _show_frame(self) -> None:
        if self._view is None:
            return
        a, k = self._view.attack, self._frame
        self.strip.set_current(k)
        self.grid.show_frame(a.clean_frames[k], a.adv_frames[k], a.delta[k], a.eps,
                             self._view.cam_clean[k], self._view.cam_adv[k],
                             titles=frame_titles(a, k))

    @Slot()
    def _on_find_clicked(self) -> None:
        project = self.ctx.project
        try:
            if project is None:
                raise HarlabError("open or create a project first (File > New project); "
                                  "samples are stored in it.")
            config = self.config()
            checkpoint = self._checkpoint()
            root = self.ctx.dataset_root or str(default_dataset_root(project))
        except HarlabError as exc:
            self.jobs.show_error(str(exc))
            return
        job = attack_jobs.find_job(self.ctx.classifiers, project, config, checkpoint, root,
                                   self.ctx.dataset)
        self.left_tabs.setCurrentIndex(1)
        self._enqueue(job, "find samples", self._on_find_done, user=True)

    def _on_find_done(self, result) -> None:
        self.status.setText(result.summary())
        self._refresh_samples()

    @Slot()
    def _on_sweep_clicked(self) -> None:
        try:
            dataset, project = self.ctx.dataset, self.ctx.project
            if dataset is None:
                raise HarlabError("choose a dataset in the Data panel first")
            if project is None:
                raise HarlabError("open or create a project first; the sweep is recorded in it")
            attack = self.config()
            check_classes_known(attack.classes, dataset.classes)
            config = SweepConfig(attack, tuple(e / 255 for e in parse_eps_255(
                                     self.sweep_eps_edit.text())),
                                 self.sweep_videos_spin.value(), self._checkpoint(),
                                 str(dataset.root))
        except HarlabError as exc:
            self.jobs.show_error(str(exc))
            return
        self.right_tabs.setCurrentIndex(1)
        self._enqueue(attack_jobs.sweep_job(self.ctx.classifiers, project, config, dataset),
                      "eps sweep", self._on_sweep_done, user=True)

    def _on_sweep_done(self, result) -> None:
        self._show_sweep(result)
        self.status.setText(f"sweep: {result.n_correct} of {result.n_videos} videos correct "
                            f"before the attack; success at {result.eps_255[-1]:.3g}/255: "
                            f"{result.success_rate[-1]:.0%}")

    # ------------------------------------------------------------------ stored results
    def _show_sweep(self, result) -> None:
        self.sweep_plot.set_result(result.eps_255, result.success_rate, result.per_class)

    def _show_last_sweep(self) -> None:
        project = self.ctx.project
        result = last_sweep(project) if project is not None else None
        if result is not None:
            self._show_sweep(result)
            self.sweep_note.setText(f"last recorded sweep: {result.attack} on "
                                    f"{result.n_videos} videos; run again to update")
        else:
            self.sweep_plot.set_result([], [], {})

    def _refresh_samples(self) -> None:
        project = self.ctx.project
        self.samples_table.set_samples(sample_rows(project, newest_first=True) if project else [])
        if self.samples_table.rowCount():  # a project holding samples opens on them
            self.left_tabs.setCurrentIndex(1)
