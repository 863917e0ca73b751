"""The Attack panel: browse videos, attack one interactively, find the study's samples, sweep eps.

Left: the test videos of the dataset (filtered by class) and the project's samples. Right: the
keyframe strip, the selected keyframe as original | adversarial | perturbation | Grad-CAM, the
top-5 classes before and after, and the eps sweep. Every model call runs on the job runner;
changing eps or the attack re-runs the shown video in the background.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from harlab.attacks import ATTACK_TITLES
from harlab.errors import HarlabError
from harlab.jobs import Job, Progress
from ui.context import AppContext
from ui.widgets.attack_views import KeyframeGrid, SweepPlot, Top5Bars
from ui.widgets.frame_strip import FrameStrip

log = logging.getLogger(__name__)

SWEEP_EPS_255 = (0, 1, 2, 3, 4, 6, 8, 12, 16)
SAMPLE_COLUMNS = ("ID", "Video", "True", "Before", "After", "eps", "PNG flips")


@dataclass
class AttackView:
    """What the right-hand side shows: an attacked video and its Grad-CAMs."""

    attack: Any                    # harlab.attacks.selection.VideoAttack
    cam_clean: np.ndarray          # (K, S, S)
    cam_adv: np.ndarray
    source: str                    # "live" or "sample #N"


def _classifier(cache: dict, checkpoint: str, device: str):
    """The classifier for ``checkpoint``, loaded once and kept in ``cache`` (job thread)."""
    from harlab.train.checkpoint import load_classifier

    key = (str(Path(checkpoint).expanduser().resolve()), device)
    if cache.get("key") != key:
        cache["loaded"] = load_classifier(checkpoint, device=device)
        cache["key"] = key
    return cache["loaded"]


def _with_cams(loaded, attack, source: str) -> AttackView:
    from harlab.attacks.heatmaps import grad_cam_frames

    return AttackView(attack, grad_cam_frames(loaded.model, attack.clean_frames),
                      grad_cam_frames(loaded.model, attack.adv_frames), source)


def _index_job(root: str, fold: int) -> Job[Any]:
    from harlab.data.ucf101 import UCF101

    yield Progress(0, 0, f"indexing {root}")
    return UCF101(root, fold=fold)


def _live_job(cache: dict, checkpoint: str, item, config) -> Job[AttackView]:
    from harlab.attacks.selection import attack_video

    yield Progress(0, 2, "loading the classifier")
    loaded = _classifier(cache, checkpoint, config.device)
    yield Progress(1, 2, f"{config.describe()} on {item.relpath}")
    return _with_cams(loaded, attack_video(loaded, item, config), "live")


def _sample_job(cache: dict, checkpoint: str, project, sample_id: int,
                device: str) -> Job[AttackView]:
    from harlab.attacks.selection import load_sample

    yield Progress(0, 2, "loading the classifier")
    loaded = _classifier(cache, checkpoint, device)
    yield Progress(1, 2, f"sample #{sample_id}")
    return _with_cams(loaded, load_sample(project, sample_id, loaded), f"sample #{sample_id}")


def _sweep_job(cache: dict, checkpoint: str, items, eps_list, config) -> Job[Any]:
    from harlab.attacks.selection import eps_sweep

    yield Progress(0, 0, "loading the classifier")
    loaded = _classifier(cache, checkpoint, config.device)
    return (yield from eps_sweep(loaded, items, eps_list, config))


class AttackPanel(QWidget):
    """Attack keyframes, inspect perturbations and Grad-CAM, and select the study's samples."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self._cache: dict = {}
        self._dataset = None
        self._view: AttackView | None = None
        self._frame = 0
        self._pending: tuple | None = None
        self._rerun = QTimer(self, singleShot=True, interval=250)
        self._rerun.timeout.connect(self._on_rerun_timeout)
        self._build()
        ctx.project_changed.connect(self._on_ctx_project_changed)
        ctx.dataset_changed.connect(self._on_ctx_dataset_changed)
        ctx.runner.finished.connect(self._on_runner_finished)
        self._on_ctx_project_changed(ctx.project)
        if ctx.dataset_root:
            self._on_ctx_dataset_changed(ctx.dataset_root)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.checkpoint_edit = QLineEdit(placeholderText="best.pt of a training run")
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._on_browse_clicked)
        self.attack_combo = QComboBox()
        for key, title in ATTACK_TITLES.items():
            self.attack_combo.addItem(title, key)
        self.attack_combo.currentIndexChanged.connect(self._on_params_changed)
        self.eps_slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=32, value=8)
        self.eps_slider.setTickInterval(4)
        self.eps_slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.eps_slider.valueChanged.connect(self._on_eps_changed)
        self.eps_label = QLabel()
        self.eps_label.setMinimumWidth(130)
        self.keyframes_spin = QSpinBox(minimum=1, maximum=32, value=5)
        self.keyframes_spin.valueChanged.connect(self._on_params_changed)

        top = QHBoxLayout()
        top.addWidget(QLabel("Checkpoint"))
        top.addWidget(self.checkpoint_edit, 3)
        top.addWidget(browse)
        top.addWidget(QLabel("Attack"))
        top.addWidget(self.attack_combo)
        top.addWidget(QLabel("eps"))
        top.addWidget(self.eps_slider, 2)
        top.addWidget(self.eps_label)
        top.addWidget(QLabel("Keyframes"))
        top.addWidget(self.keyframes_spin)

        # Left: videos and samples.
        self.class_combo = QComboBox()
        self.class_combo.currentIndexChanged.connect(self._fill_videos)
        self.video_list = QListWidget()
        self.video_list.currentItemChanged.connect(self._on_video_selected)
        videos = QWidget()
        vbox = QVBoxLayout(videos)
        vbox.setContentsMargins(0, 0, 0, 0)
        vbox.addWidget(self.class_combo)
        vbox.addWidget(self.video_list)

        self.classes_edit = QLineEdit("BabyCrawling,Biking")
        self.per_class_spin = QSpinBox(minimum=1, maximum=10000, value=25)
        self.find_button = QPushButton("Find samples")
        self.find_button.clicked.connect(self._on_find_clicked)
        self.cancel_button = QPushButton("Cancel", enabled=False)
        self.cancel_button.clicked.connect(self.ctx.runner.cancel)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.samples_table = QTableWidget(0, len(SAMPLE_COLUMNS))
        self.samples_table.setHorizontalHeaderLabels(SAMPLE_COLUMNS)
        self.samples_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.samples_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.samples_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.samples_table.verticalHeader().hide()
        self.samples_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.samples_table.itemSelectionChanged.connect(self._on_sample_selected)
        samples = QWidget()
        form = QFormLayout()
        form.addRow("Classes", self.classes_edit)
        form.addRow("Per class", self.per_class_spin)
        buttons = QHBoxLayout()
        buttons.addWidget(self.find_button)
        buttons.addWidget(self.cancel_button)
        sbox = QVBoxLayout(samples)
        sbox.setContentsMargins(0, 0, 0, 0)
        sbox.addLayout(form)
        sbox.addLayout(buttons)
        sbox.addWidget(self.progress)
        sbox.addWidget(self.samples_table, 1)
        self.left_tabs = QTabWidget()
        self.left_tabs.addTab(videos, "Videos")
        self.left_tabs.addTab(samples, "Samples")

        # Right: strip, grid, bars; sweep in its own tab.
        self.strip = FrameStrip(thumb_height=72)
        self.strip.frame_clicked.connect(self._on_strip_frame_clicked)
        self.grid = KeyframeGrid()
        self.top5 = Top5Bars()
        self.top5.setMinimumHeight(150)
        self.verdict = QLabel("Pick a video or a sample.")
        self.verdict.setWordWrap(True)
        inspect = QSplitter(Qt.Orientation.Vertical)
        head = QWidget()
        hbox = QVBoxLayout(head)
        hbox.setContentsMargins(0, 0, 0, 0)
        hbox.addWidget(self.verdict)
        hbox.addWidget(self.strip)
        inspect.addWidget(head)
        inspect.addWidget(self.grid)
        inspect.addWidget(self.top5)
        inspect.setStretchFactor(1, 3)
        inspect.setStretchFactor(2, 1)
        inspect.setSizes([150, 560, 200])

        self.sweep_plot = SweepPlot()
        self.sweep_videos_spin = QSpinBox(minimum=1, maximum=1000, value=10)
        self.sweep_button = QPushButton("Run eps sweep")
        self.sweep_button.clicked.connect(self._on_sweep_clicked)
        self.sweep_note = QLabel(f"eps = {', '.join(map(str, SWEEP_EPS_255))} (x 1/255) on the "
                                 "videos of the classes above")
        sweep = QWidget()
        sw = QVBoxLayout(sweep)
        row = QHBoxLayout()
        row.addWidget(QLabel("Videos per class"))
        row.addWidget(self.sweep_videos_spin)
        row.addWidget(self.sweep_button)
        row.addWidget(self.sweep_note, 1)
        sw.addLayout(row)
        sw.addWidget(self.sweep_plot, 1)
        self.right_tabs = QTabWidget()
        self.right_tabs.addTab(inspect, "Inspect")
        self.right_tabs.addTab(sweep, "eps sweep")

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.left_tabs)
        split.addWidget(self.right_tabs)
        split.setStretchFactor(1, 4)
        split.setSizes([280, 1000])
        outer = QVBoxLayout(self)
        outer.addLayout(top)
        outer.addWidget(split, 1)
        self.status = QLabel()
        outer.addWidget(self.status)
        self._on_eps_changed(self.eps_slider.value())

    # ------------------------------------------------------------------ config
    @property
    def eps(self) -> float:
        return self.eps_slider.value() / 255.0

    def config(self, **overrides: Any):
        """The AttackConfig the controls describe (raises InputError on bad entries)."""
        from harlab.attacks.selection import AttackConfig

        values = dict(attack=self.attack_combo.currentData(), eps=self.eps,
                      keyframes=self.keyframes_spin.value(),
                      classes=tuple(c.strip() for c in self.classes_edit.text().split(",")
                                    if c.strip()),
                      per_class=self.per_class_spin.value(),
                      device=str(self.ctx.setting("compute/device", "auto") or "auto"))
        values.update(overrides)
        return AttackConfig(**values)

    def _checkpoint(self) -> str:
        path = self.checkpoint_edit.text().strip()
        if not path:
            raise HarlabError("no checkpoint chosen; train a model in the Train panel or pick a "
                              "best.pt with Browse.")
        return path

    # ------------------------------------------------------------------ jobs
    def _start(self, job: Job[Any], name: str, on_success, *, busy_ok: bool = False,
               show_progress: bool = False) -> bool:
        if self.ctx.runner.busy:
            job.close()
            if busy_ok:
                return False
            self.status.setText(f"busy with {self.ctx.runner.name!r}; wait or cancel it first")
            return False
        on_progress = self._on_progress if show_progress else self._on_status
        self.ctx.runner.start(job, name, on_success=on_success, on_progress=on_progress,
                              on_error=self._on_job_error)
        self.cancel_button.setEnabled(True)
        return True

    def _request_view(self, kind: str, arg: Any) -> None:
        """Show a video (kind 'live') or a stored sample (kind 'sample'); latest request wins."""
        self._pending = (kind, arg)
        if not self.ctx.runner.busy:
            self._run_pending()

    def _run_pending(self) -> None:
        if self._pending is None:
            return
        kind, arg = self._pending
        try:
            checkpoint = self._checkpoint()
            config = self.config()
        except HarlabError as exc:
            self._pending = None
            self.status.setText(str(exc))
            return
        if kind == "live":
            job = _live_job(self._cache, checkpoint, arg, config)
        else:
            job = _sample_job(self._cache, checkpoint, self.ctx.project, arg, config.device)
        if self._start(job, f"attack view ({kind})", self._on_view_ready, busy_ok=True):
            self._pending = None

    @Slot()
    def _on_runner_finished(self) -> None:
        self.cancel_button.setEnabled(False)
        self.find_button.setEnabled(True)
        self.sweep_button.setEnabled(True)
        if self._pending is not None:
            QTimer.singleShot(0, self._run_pending)

    def _on_status(self, step: Progress) -> None:
        self.status.setText(step.message)

    def _on_progress(self, step: Progress) -> None:
        self.status.setText(step.message)
        if step.total:
            self.progress.setRange(0, step.total)
            self.progress.setValue(step.done)
        if isinstance(step.data, list) and step.data:
            self._refresh_samples()

    def _on_job_error(self, message: str, _tb: str) -> None:
        self.status.setText(f"failed: {message}")
        if self.isVisible():
            QMessageBox.warning(self, "Attack", message)

    # ------------------------------------------------------------------ slots
    @Slot(object)
    def _on_ctx_project_changed(self, project) -> None:
        self._refresh_samples()
        if project is None:
            return
        from harlab.attacks.selection import default_checkpoint

        try:
            self.checkpoint_edit.setText(str(default_checkpoint(project)))
        except HarlabError:
            pass  # no training run yet: leave whatever the user typed

    @Slot(str)
    def _on_ctx_dataset_changed(self, root: str) -> None:
        if root:
            # queued, not refused, when another job runs: the browser needs this index
            self.ctx.runner.enqueue(_index_job(root, 1), "index dataset",
                                    on_success=self._on_dataset_indexed,
                                    on_error=self._on_job_error)

    def _on_dataset_indexed(self, dataset) -> None:
        self._dataset = dataset
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.addItem("All classes", None)
        for name in dataset.classes:
            self.class_combo.addItem(name, name)
        self.class_combo.blockSignals(False)
        self._fill_videos()

    @Slot()
    def _fill_videos(self) -> None:
        self.video_list.clear()
        if self._dataset is None:
            return
        wanted = self.class_combo.currentData()
        for item in self._dataset.test:
            if wanted is None or item.class_name == wanted:
                entry = QListWidgetItem(item.relpath)
                entry.setData(Qt.ItemDataRole.UserRole, item)
                self.video_list.addItem(entry)

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
        entry = self.video_list.currentItem()
        if entry is not None:
            self._request_view("live", entry.data(Qt.ItemDataRole.UserRole))

    def _on_video_selected(self, current: QListWidgetItem | None, _previous=None) -> None:
        if current is not None:
            self._request_view("live", current.data(Qt.ItemDataRole.UserRole))

    @Slot()
    def _on_sample_selected(self) -> None:
        rows = self.samples_table.selectionModel().selectedRows()
        if rows and self.ctx.project is not None:
            sample_id = int(self.samples_table.item(rows[0].row(), 0).text())
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
        verdict = ("correct before, wrong after: a sample" if a.flipped else
                   "wrong before the attack" if a.clean_pred != a.true_index else
                   "the attack did not flip this video")
        self.verdict.setText(f"<b>{a.video}</b> ({view.source}) true <b>{a.true_label}</b>: "
                             f"{a.classes[a.clean_pred]} -> {a.classes[a.adv_pred]} at "
                             f"{a.attack} eps {a.eps * 255:.3g}/255 - {verdict}")
        self.top5.set_top5("clean", a.clean_top5(), a.true_label)
        self.top5.set_top5("adv", a.adv_top5(), a.true_label)
        self._show_frame()

    def _show_frame(self) -> None:
        if self._view is None:
            return
        a, k = self._view.attack, self._frame
        delta = a.delta[k]
        clean_top, adv_top = a.clean_top5(k)[0], a.adv_top5(k)[0]
        self.grid.show_frame(a.clean_frames[k], a.adv_frames[k], delta, a.eps,
                             self._view.cam_clean[k], self._view.cam_adv[k], titles={
                                 "clean": f"Original: {clean_top[0]} {clean_top[1]:.0%}",
                                 "adv": f"Adversarial: {adv_top[0]} {adv_top[1]:.0%}",
                                 "pert": f"|perturbation| max {np.abs(delta).max() * 255:.0f}"
                                         "/255",
                                 "cam_clean": f"Grad-CAM: {clean_top[0]}",
                                 "cam_adv": f"Grad-CAM: {adv_top[0]}"})

    @Slot()
    def _on_find_clicked(self) -> None:
        from harlab.attacks.selection import default_dataset_root, find_samples

        project = self.ctx.project
        try:
            if project is None:
                raise HarlabError("open or create a project first (File > New project); "
                                  "samples are stored in it.")
            config = self.config()
            root = self.ctx.dataset_root or str(default_dataset_root(project))
            job = find_samples(project, self._checkpoint(), root, config)
        except HarlabError as exc:
            self.status.setText(str(exc))
            return
        self.left_tabs.setCurrentIndex(1)
        self.progress.reset()
        if self._start(job, "find samples", self._on_find_done, show_progress=True):
            self.find_button.setEnabled(False)

    def _on_find_done(self, result) -> None:
        self.status.setText(result.summary())
        self._refresh_samples()

    @Slot()
    def _on_sweep_clicked(self) -> None:
        from harlab.attacks.selection import check_classes_known, sweep_items

        try:
            if self._dataset is None:
                raise HarlabError("choose a dataset in the Data panel first")
            config = self.config()
            check_classes_known(config.classes, self._dataset.classes)
            items = sweep_items(self._dataset.test, config.classes,
                                self.sweep_videos_spin.value(), config.seed)
            job = _sweep_job(self._cache, self._checkpoint(), items,
                             [e / 255 for e in SWEEP_EPS_255], config)
        except HarlabError as exc:
            self.status.setText(str(exc))
            return
        self.right_tabs.setCurrentIndex(1)
        self.progress.reset()
        if self._start(job, "eps sweep", self._on_sweep_done, show_progress=True):
            self.sweep_button.setEnabled(False)

    def _on_sweep_done(self, result) -> None:
        self.sweep_plot.set_result(result.eps_255, result.success_rate, result.per_class)
        self.status.setText(f"sweep: {result.n_correct} of {result.n_videos} videos correct "
                            f"before the attack; success at {SWEEP_EPS_255[-1]}/255: "
                            f"{result.success_rate[-1]:.0%}")

    # ------------------------------------------------------------------ samples table
    def _refresh_samples(self) -> None:
        project = self.ctx.project
        rows = [] if project is None else project.query(
            "SELECT id, video, true_label, clean_pred, clean_conf, adv_pred, adv_conf, eps, "
            "survives_png FROM samples ORDER BY id DESC")
        table = self.samples_table
        table.blockSignals(True)
        table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            cells = [str(row["id"]), Path(row["video"]).name, row["true_label"],
                     f"{row['clean_pred']} {row['clean_conf']:.0%}",
                     f"{row['adv_pred']} {row['adv_conf']:.0%}", f"{row['eps'] * 255:.3g}/255",
                     "yes" if row["survives_png"] else "no"]
            for c, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                cell.setToolTip(row["video"])
                table.setItem(r, c, cell)
        table.blockSignals(False)
