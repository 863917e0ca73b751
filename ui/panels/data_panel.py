"""The Data panel: choose a UCF-101 folder (or the demo), see its splits, validate it, look at
a video's keyframes and frames, and build the frame cache. All decoding runs as jobs.

With a project open, the keyframe strip and the frame cache start from the project's study
(its keyframes and method; its training recipe's frames per video and image size), so what is
shown here is what the study uses; without one they start from the paper's recipe."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from harlab.data import demo_data
from harlab.data.framecache import CacheConfig
from harlab.errors import HarlabError
from harlab.stages import DatasetConfig, build_cache, validate_data
from harlab.study.export import study_config
from harlab.train.config import TrainConfig
from ui.context import AppContext
from ui.prefs import DataPrefs
from ui.widgets.job_controls import JobControls
from ui.widgets.video_viewer import VideoViewer, video_job

log = logging.getLogger(__name__)



class DataPanel(QWidget):
    """Dataset chooser, class table, validation report, keyframe strip and frame scrubber.

    Signals:
        dataset_loaded(object): the new :class:`harlab.data.ucf101.UCF101` (GUI thread).
        video_loaded(object): the :class:`harlab.data.video.Keyframes` of the selected video.
        report_ready(object): a :class:`harlab.data.ucf101.ValidationReport`.
        cache_built(object): a :class:`harlab.data.framecache.FrameCache`.
    """

    dataset_loaded = Signal(object)
    video_loaded = Signal(object)
    report_ready = Signal(object)
    cache_built = Signal(object)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.dataset = None
        self._build_ui()
        ctx.dataset_changed.connect(self._on_ctx_dataset_changed)
        ctx.dataset_indexed.connect(self._on_index_done)
        ctx.dataset_failed.connect(self._on_index_failed)
        ctx.project_changed.connect(self._on_ctx_project_changed)
        self._on_ctx_project_changed(ctx.project)
        if ctx.dataset_root:
            self.path_edit.setText(ctx.dataset_root)
            if ctx.dataset is not None:
                self._on_index_done(ctx.dataset)
        ctx.want_dataset()

    # -- layout -----------------------------------------------------------------------------
    def _build_ui(self) -> None:
        top = QHBoxLayout()
        top.addWidget(QLabel("Dataset:"))
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("folder holding UCF-101/ and ucfTrainTestlist/")
        self.path_edit.returnPressed.connect(self._on_path_edit_return)
        top.addWidget(self.path_edit, 1)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._on_browse_clicked)
        top.addWidget(self.browse_button)
        self.demo_button = QPushButton("Use demo dataset")
        self.demo_button.setToolTip("Generate (once) and open the procedural demo dataset")
        self.demo_button.clicked.connect(self._on_demo_clicked)
        top.addWidget(self.demo_button)
        top.addWidget(QLabel("Fold:"))
        self.fold_combo = QComboBox()
        self.fold_combo.addItems(["1", "2", "3"])
        self.fold_combo.setCurrentText(str(self.ctx.fold))
        self.fold_combo.currentIndexChanged.connect(self._on_fold_changed)
        top.addWidget(self.fold_combo)

        # left: classes and report
        self.class_table = QTableWidget(0, 4)
        self.class_table.setHorizontalHeaderLabels(["Label", "Class", "Train", "Test"])
        self.class_table.verticalHeader().setVisible(False)
        self.class_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.class_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.class_table.horizontalHeader().setSectionResizeMode(
            1, QHeaderView.ResizeMode.Stretch)
        self.class_table.itemSelectionChanged.connect(self._on_class_table_selection)
        self.summary_label = QLabel("No dataset loaded.")
        self.summary_label.setWordWrap(True)
        self.report_view = QPlainTextEdit()
        self.report_view.setReadOnly(True)
        self.report_view.setPlaceholderText("Validation report")
        self.validate_button = QPushButton("Validate videos")
        self.validate_button.setToolTip("Open every listed video and report the ones that "
                                        "cannot be decoded")
        self.validate_button.clicked.connect(self._on_validate_clicked)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.summary_label)
        lv.addWidget(self.class_table, 3)
        rep_head = QHBoxLayout()
        rep_head.addWidget(QLabel("Validation report"))
        rep_head.addStretch(1)
        rep_head.addWidget(self.validate_button)
        lv.addLayout(rep_head)
        lv.addWidget(self.report_view, 2)

        # middle: videos
        self.video_list = QListWidget()
        self.video_list.currentItemChanged.connect(self._on_video_list_current)
        mid = QWidget()
        mv = QVBoxLayout(mid)
        mv.setContentsMargins(0, 0, 0, 0)
        mv.addWidget(QLabel("Videos (select a class to filter)"))
        mv.addWidget(self.video_list)

        # right: keyframes + scrubber
        self.viewer = VideoViewer(self.ctx.prefs(DataPrefs).keyframes_k)
        self.viewer.keyframe_settings_changed.connect(self._on_keyframe_settings_changed)
        for name in ("method_combo", "k_spin", "strip", "keyframe_note", "frame_view", "slider",
                     "frame_label"):
            setattr(self, name, getattr(self.viewer, name))
        right = self.viewer

        split = QSplitter()
        split.addWidget(left)
        split.addWidget(mid)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setStretchFactor(2, 4)

        bottom = QHBoxLayout()
        self.keyframe_source = QLabel("")
        self.keyframe_source.setToolTip("the keyframe strip and the cache start from the open "
                                        "project's study settings")
        bottom.addWidget(self.keyframe_source)
        bottom.addWidget(QLabel("Frame cache:"))
        self.frames_spin = QSpinBox()
        self.frames_spin.setRange(1, 1000)
        self.frames_spin.setValue(TrainConfig().frames_per_video)
        self.frames_spin.setSuffix(" frames/video")
        self.size_spin = QSpinBox()
        self.size_spin.setRange(8, 1024)
        self.size_spin.setValue(TrainConfig().image_size)
        self.size_spin.setSuffix(" px")
        self.cache_button = QPushButton("Build frame cache")
        self.cache_button.clicked.connect(self._on_cache_clicked)
        self.jobs = JobControls(self.ctx.runner)
        self.jobs.busy_changed.connect(self._on_jobs_busy_changed)
        self.cancel_button, self.progress = self.jobs.cancel_button, self.jobs.progress
        self.status_label = self.jobs.status
        for w in (self.frames_spin, self.size_spin, self.cache_button):
            bottom.addWidget(w)
        bottom.addWidget(self.jobs, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        layout.addLayout(bottom)
        self._on_jobs_busy_changed(False)

    # -- job plumbing -----------------------------------------------------------------------
    def _start(self, job, name: str, on_success, *, queue: bool = False) -> bool:
        """Run ``job``; a user action is refused while another job runs, while automatic
        loads (``queue=True``: a video's frames) wait for it, latest request wins."""
        return self.jobs.run(job, name, on_success, exclusive=not queue)

    @Slot(bool)
    def _on_jobs_busy_changed(self, busy: bool) -> None:
        has_data = self.dataset is not None
        self.validate_button.setEnabled(has_data and not busy)
        self.cache_button.setEnabled(has_data and not busy)
        self.demo_button.setEnabled(not busy)

    # -- dataset ----------------------------------------------------------------------------
    @Slot()
    def _on_path_edit_return(self) -> None:
        text = self.path_edit.text().strip()
        if text:
            self.ctx.set_dataset_root(text)

    @Slot()
    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose the folder holding UCF-101/",
                                                  self.path_edit.text())
        if folder:
            self.ctx.set_dataset_root(folder)

    @Slot()
    def _on_demo_clicked(self) -> None:
        self._start(demo_data.ensure_demo_dataset_job(), "prepare demo dataset",
                    self._on_demo_ready)

    def _on_demo_ready(self, root: Path) -> None:
        self.ctx.set_dataset_root(root)

    @Slot(str)
    def _on_ctx_dataset_changed(self, root: str) -> None:
        self.path_edit.setText(root)
        self.dataset = None
        self.jobs.show_message(f"indexing {root}…")  # the context indexes it on the runner
        self._on_jobs_busy_changed(self.jobs.busy)

    @Slot(object)
    def _on_ctx_project_changed(self, project) -> None:
        """Start the keyframe strip and the cache from the project's study settings."""
        try:
            study = study_config(project) if project is not None else None
            recipe = study.train_config() if study is not None else TrainConfig()
        except HarlabError as exc:
            log.warning("the project's study settings cannot be read: %s", exc)
            return
        self.frames_spin.setValue(recipe.frames_per_video)
        self.size_spin.setValue(recipe.image_size)
        if study is not None:
            for widget, set_value in ((self.k_spin, lambda: self.k_spin.setValue(study.keyframes)),
                                      (self.method_combo, lambda: self.method_combo
                                       .setCurrentText(study.keyframe_method))):
                widget.blockSignals(True)  # not a preference the user set
                set_value()
                widget.blockSignals(False)
            self.keyframe_source.setText(f"Study settings: {study.keyframes} keyframes "
                                         f"({study.keyframe_method}), cache as its recipe ·")
        else:
            self.keyframe_source.setText("")

    @Slot(int)
    def _on_fold_changed(self, _index: int) -> None:
        self.ctx.set_fold(int(self.fold_combo.currentText()))

    def _on_index_failed(self, message: str) -> None:
        self.dataset = None
        self.jobs.show_error(message)
        self._on_jobs_busy_changed(self.jobs.busy)

    def _on_index_done(self, dataset) -> None:
        self.dataset = dataset
        self.fold_combo.blockSignals(True)
        self.fold_combo.setCurrentText(str(dataset.fold))
        self.fold_combo.blockSignals(False)
        self.class_table.setRowCount(0)
        for label, (name, n_train, n_test) in enumerate(dataset.counts()):
            row = self.class_table.rowCount()
            self.class_table.insertRow(row)
            for col, value in enumerate((label, name, n_train, n_test)):
                item = QTableWidgetItem(str(value))
                if col != 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight |
                                          Qt.AlignmentFlag.AlignVCenter)
                self.class_table.setItem(row, col, item)
        self.class_table.resizeColumnsToContents()
        self.class_table.horizontalHeader().setSectionResizeMode(
            1, QHeaderView.ResizeMode.Stretch)
        self.summary_label.setText(
            f"<b>{dataset.root}</b><br>fold {dataset.fold}: {len(dataset.classes)} classes, "
            f"{len(dataset.train)} train and {len(dataset.test)} test clips")
        report = dataset.validate(check_videos=False)
        self.report_view.setPlainText(report.to_text().replace(
            "0 videos checked", "files and lists compared (press Validate videos to decode)"))
        self._fill_videos()
        self.jobs.show_message(f"loaded {dataset.root}")
        self._on_jobs_busy_changed(self.jobs.busy)
        self.dataset_loaded.emit(dataset)

    def _fill_videos(self, label: int | None = None) -> None:
        self.video_list.blockSignals(True)
        self.video_list.clear()
        for split in ("train", "test"):
            for item in self.dataset.items(split):
                if label is not None and item.label != label:
                    continue
                row = QListWidgetItem(f"[{split}] {item.path.name}")
                row.setToolTip(f"{item.relpath}\nlabel {item.label} ({item.class_name}), "
                               f"group {item.group}, clip {item.clip}")
                row.setData(Qt.ItemDataRole.UserRole, str(item.path))
                self.video_list.addItem(row)
        self.video_list.blockSignals(False)

    @Slot()
    def _on_class_table_selection(self) -> None:
        rows = {i.row() for i in self.class_table.selectedIndexes()}
        if self.dataset is not None:
            self._fill_videos(rows.pop() if len(rows) == 1 else None)

    @Slot()
    def _on_validate_clicked(self) -> None:
        if self.dataset is not None:
            self._start(validate_data(self.ctx.project, self._dataset_config()),
                        "validate videos", self._on_report_done)

    def _on_report_done(self, report) -> None:
        self.report_view.setPlainText(report.to_text())
        self.status_label.setText("validation finished: " + ("no problems" if report.ok
                                                            else "problems found"))
        self.report_ready.emit(report)

    @Slot()
    def _on_cache_clicked(self) -> None:
        if self.dataset is None:
            return
        try:
            config = CacheConfig(self.frames_spin.value(), self.size_spin.value())
        except HarlabError as exc:
            self.jobs.show_error(str(exc))
            return
        self._start(build_cache(self.ctx.project, self._dataset_config(), config),
                    "build frame cache", self._on_cache_done)

    def _dataset_config(self):
        return DatasetConfig(str(self.dataset.root), self.dataset.fold,
                             str(self.dataset.annotation_dir))

    def _on_cache_done(self, cache) -> None:
        msg = (f"frame cache {cache.folder}: {cache.decoded} decoded, {cache.reused} reused, "
               f"{len(cache.failed)} failed")
        if cache.failed:
            self.jobs.show_error(msg + " — " + "; ".join(f"{r}: {why}" for r, why in cache.failed))
        else:
            self.status_label.setText(msg)
        self.cache_built.emit(cache)

    # -- one video ----------------------------------------------------------------------------
    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_video_list_current(self, current: QListWidgetItem | None, _prev) -> None:
        if current is not None:
            self._load_video(Path(current.data(Qt.ItemDataRole.UserRole)))

    @Slot()
    def _on_keyframe_settings_changed(self) -> None:
        self.ctx.save_prefs(DataPrefs(keyframes_k=self.k_spin.value()))
        current = self.video_list.currentItem()
        if current is not None:
            self._load_video(Path(current.data(Qt.ItemDataRole.UserRole)))

    def _load_video(self, path: Path) -> None:
        self._start(video_job(path, self.k_spin.value(), self.method_combo.currentText()),
                    "decode video", self._on_video_done, queue=True)

    def _on_video_done(self, result) -> None:
        info = self.viewer.show_video(result)
        self.status_label.setText(f"{info.frame_count} frames, {info.fps:g} fps, "
                                  f"{info.width}x{info.height}, {info.duration_s:.2f} s")
        self.video_loaded.emit(result[0])
