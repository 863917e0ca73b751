"""The Overview tab as the study dashboard: configuration, each stage's state, one Run button.

The Overview is built with the main window, before it is shown; :mod:`harlab.study` imports
torch, so it is imported in the methods that need it, which run once the panels have loaded.
The project is read by a job (:func:`harlab.study.views.study_overview`): meanwhile the tab
says it is loading and its buttons wait. A project whose dataset folder is missing here says
so and offers to regenerate the demo dataset or re-point the project; nothing is regenerated
or re-pointed without the user's click.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from harlab import __version__
from harlab.errors import HarlabError
from harlab.jobs import Job, Progress
from ui.context import AppContext
from ui.file_actions import repoint_project
from ui.widgets.job_controls import JobControls

log = logging.getLogger(__name__)

STAGE_TITLES = {"data": "Data", "classifier": "Classifier", "samples": "Samples",
                "query": "Language model", "score": "Scores"}


class StudyDashboard(QWidget):
    """What the open project's study holds, stage by stage, and a button to run the rest.

    Signals:
        open_tab(str): the title of a tab to show (Responses, Evaluate, Results).
        loaded(): the open project's stages are shown.
    """

    open_tab = Signal(str)
    loaded = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None, *, ready: bool = True):
        super().__init__(parent)
        self._ctx = ctx
        # The main window sets ready once the panels (and torch) have loaded, so that the
        # window appears before the study's imports run.
        self.ready = ready
        self.overview: Any = None  # harlab.study.views.StudyOverview of the open project
        self._note = ""  # shown in the status line once the project is read
        self._loaded_pending = False  # a read has rendered; its job has not ended yet
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 24, 24, 24)
        self.header = QLabel()
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setWordWrap(True)
        layout.addWidget(self.header)
        layout.addWidget(self._make_dataset_notice())
        self.stages = QTableWidget(0, 3)
        self.stages.setHorizontalHeaderLabels(["Stage", "State", "Holds"])
        # Stage and State fit their text, Holds takes the rest of the width: sizing every
        # column to its text once (resizeColumnsToContents) left a grey strip on a wide window.
        header = self.stages.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.stages.verticalHeader().setVisible(False)
        self.stages.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout.addWidget(self.stages)
        self.settings_label = QLabel()
        self.settings_label.setTextFormat(Qt.TextFormat.RichText)
        self.settings_label.setWordWrap(True)
        layout.addWidget(self.settings_label)
        row = QHBoxLayout()
        self.demo_button = QPushButton("Open demo project")
        self.load_button = QPushButton("Load study config…")
        self.load_button.setToolTip("Choose a study YAML (e.g. resources/study_ucf101_gpt4o.yaml) "
                                    "for this project")
        self.save_button = QPushButton("Save study config…")
        self.save_button.setToolTip("Write this project's study as YAML to edit and load again")
        self.run_button = QPushButton("Run what is missing")
        self.run_button.setToolTip("Run every stage of the study that is not done, then write "
                                   "evaluation.csv, table3.csv and summary.md into "
                                   "PROJECT/exports/study")
        row.addWidget(self.demo_button)
        row.addWidget(self.load_button)
        row.addWidget(self.save_button)
        row.addWidget(self.run_button)
        self.estimate_button = QPushButton("Estimate LLM cost")
        self.estimate_button.setToolTip("What the language-model stage would send and cost "
                                        "with the study's settings (like harlab query "
                                        "--estimate); asks nothing")
        self.estimate_button.clicked.connect(self._on_estimate_clicked)
        row.addWidget(self.estimate_button)
        for title in ("Responses", "Evaluate", "Results"):
            button = QPushButton(f"{title} →")
            button.clicked.connect(lambda _=False, t=title: self.open_tab.emit(t))
            row.addWidget(button)
        row.addStretch(1)
        layout.addLayout(row)
        self.jobs = JobControls(ctx.runner)
        self.status = self.jobs.status
        layout.addWidget(self.jobs)
        layout.addStretch(1)
        self.run_button.clicked.connect(self._on_run_clicked)
        self.load_button.clicked.connect(self._on_load_clicked)
        self.save_button.clicked.connect(self._on_save_clicked)
        ctx.project_changed.connect(self._on_ctx_project_changed)
        self.refresh()

    @Slot(object)
    def _on_ctx_project_changed(self, _project: object) -> None:
        self.refresh()

    def _config(self) -> Any:
        from harlab.study.config import StudyConfig
        from harlab.study.export import study_config

        project = self._ctx.project
        return (study_config(project) if project is not None else None) or StudyConfig.demo()

    def _make_dataset_notice(self) -> QFrame:
        self.dataset_notice = QFrame()
        self.dataset_notice.setStyleSheet("QFrame { background: #fff4d6; border: 1px solid "
                                          "#d8a800; border-radius: 4px; }")
        box = QHBoxLayout(self.dataset_notice)
        self.dataset_label = QLabel(wordWrap=True)
        self.regenerate_button = QPushButton("Regenerate demo dataset")
        self.regenerate_button.clicked.connect(self._on_regenerate_clicked)
        self.repoint_button = QPushButton("Re-point…")
        self.repoint_button.clicked.connect(self._on_repoint_clicked)
        box.addWidget(self.dataset_label, 1)
        box.addWidget(self.regenerate_button)
        box.addWidget(self.repoint_button)
        self.dataset_notice.setVisible(False)
        return self.dataset_notice

    def _intro(self) -> str:
        return (f"<h2>HARLab {__version__}</h2><p>Adversarial attacks on human-action "
                "recognition, and what a language model then says: data &rarr; fine-tune "
                "&rarr; attack &rarr; ask an LLM &rarr; score &rarr; rate &rarr; export.</p>")

    def _set_buttons(self, enabled: bool) -> None:
        for button in (self.run_button, self.load_button, self.save_button,
                       self.estimate_button):
            button.setEnabled(enabled)

    def refresh(self) -> None:
        """Show the open project's study; read by a job, with a busy state meanwhile."""
        project = self._ctx.project
        self.demo_button.setVisible(project is None)
        self._set_buttons(False)
        self.overview = None
        if project is None:
            self.header.setText(self._intro() + "<p>No project is open. Open the demo project "
                                "to run the whole study on the bundled demo data, or create a "
                                "project with <i>File &gt; New project</i>.</p>")
            self.stages.setRowCount(0)
            self.settings_label.setText("")
            self.dataset_notice.setVisible(False)
            self.jobs.set_busy(False)
            return
        self.header.setText(self._intro() + f"<p>Loading <code>{html.escape(str(project.root))}"
                            "</code>…</p>")
        self.jobs.set_busy(True)
        if self.ready:
            self.jobs.run(_overview_job(project), "Read the study", self._on_overview_loaded,
                          on_error=self._on_overview_failed,
                          on_finished=self._on_overview_finished)

    def _on_overview_loaded(self, overview: Any) -> None:
        project = self._ctx.project
        if project is None:
            return
        self.overview, config = overview, overview.config
        self.header.setText(self._intro() + f"<p>Project <code>{html.escape(str(project.root))}"
                            f"</code> &middot; study <b>{html.escape(config.name)}</b></p>")
        self.stages.setRowCount(len(STAGE_TITLES))
        for i, (stage, title) in enumerate(STAGE_TITLES.items()):
            for j, text in enumerate((title, overview.states[stage], overview.holds[stage])):
                item = QTableWidgetItem(text)
                item.setToolTip(text)  # a narrow window elides the Holds text
                self.stages.setItem(i, j, item)
        self.stages.setFixedHeight(self.stages.horizontalHeader().height() + 4
                                   + sum(self.stages.rowHeight(i)
                                         for i in range(self.stages.rowCount())))
        chosen = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>"
                         for k, v in config.chosen_settings().items())
        used = "".join(f"<li>{html.escape(u.describe())}</li>" for u in overview.llm)
        used += "".join(f"<li>{html.escape(line)}</li>" for line in overview.skipped_arms)
        self.settings_label.setText(
            (f"<p>The answers came from:</p><ul>{used}</ul>" if used else "")
            + f"<p>Settings HARLab chose where the paper is silent:</p><ul>{chosen}</ul>")
        problem = overview.problem
        self.dataset_notice.setVisible(problem is not None)
        if problem is not None:
            self.dataset_label.setText(problem.message())
            self.regenerate_button.setVisible(problem.is_demo)
        self._loaded_pending = True  # the buttons wake once the read job has ended

    def _on_overview_finished(self) -> None:
        """The read job has ended: only now may a button start another job (an exclusive
        one would be refused while the read is still the runner's job)."""
        if not self._loaded_pending:
            return
        self._loaded_pending = False
        self._set_buttons(True)
        self.status.setText(self._note)  # not the read's last progress line ("waiting for…")
        self._note = ""
        self.loaded.emit()

    def _on_overview_failed(self, message: str) -> None:
        self.header.setText(self._intro() + f"<p>Cannot read the project: "
                            f"{html.escape(message)}</p>")
        self._set_buttons(True)

    def load_config(self, path: str | Path) -> None:
        """Make the study YAML at ``path`` this project's study (errors shown in the status)."""
        from harlab.study.config import StudyConfig
        from harlab.study.export import save_study_config

        try:
            config = StudyConfig.load(path)
        except HarlabError as exc:
            self.jobs.show_error(f"Not loaded: {exc}")
            return
        save_study_config(self._ctx.project, config)
        self.refresh()
        self._note = (f"Study {config.name!r} loaded from {path}; stages whose settings "
                      "changed are marked stale.")

    @Slot()
    def _on_load_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load study config", "",
                                              "Study YAML (*.yaml *.yml)")
        if path:
            self.load_config(path)

    @Slot()
    def _on_save_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save study config", "study.yaml",
                                              "Study YAML (*.yaml *.yml)")
        if path:
            self._config().save(path)
            self.status.setText(f"Saved {path}")

    @Slot()
    def _on_run_clicked(self) -> None:
        project = self._ctx.project
        if project is None:
            return
        if self.overview is not None and self.overview.problem is not None:
            self.jobs.show_error("Not started: the dataset folder is missing here; regenerate "
                                 "it or re-point the project first (above).")
            return
        from harlab.study.runner import run_study

        config = self._config()
        if self.jobs.run(_study_job(project, config, run_study), "Study", self._on_study_done,
                         on_error=self._on_study_failed, exclusive=True):
            self.jobs.show_message("Running the study…")

    def _on_study_done(self, paths: Any) -> None:
        self.refresh()
        self._note = "Done: " + ", ".join(str(p) for p in paths.values())

    def _on_study_failed(self, message: str) -> None:
        self.jobs.show_error(f"Stopped: {message}")
        self.refresh()


    @Slot()
    def _on_estimate_clicked(self) -> None:
        project = self._ctx.project
        if project is not None:
            self.jobs.run(_estimate_job(project, self._config()), "Estimate LLM cost",
                          self._on_estimated, exclusive=True)

    def _on_estimated(self, text: str) -> None:
        self.status.setText(text)

    # ------------------------------------------------------------------ missing dataset
    @Slot()
    def _on_regenerate_clicked(self) -> None:
        if self._ctx.project is None:
            return
        from harlab.data.demo_data import ensure_demo_dataset_job  # cv2: on demand only

        if self.jobs.run(ensure_demo_dataset_job(), "Generate demo dataset",
                         self._on_regenerated, exclusive=True):
            self.jobs.show_message("Generating the demo dataset (a few minutes)…")

    def _on_regenerated(self, root: Any) -> None:
        self.repoint(root)

    @Slot()
    def _on_repoint_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Choose the folder holding UCF-101/ and ucfTrainTestlist/")
        if folder:
            self.repoint(folder)

    def repoint(self, folder: str | Path) -> bool:
        """Re-point the project's dataset at ``folder`` (checked first), then read it again."""
        try:
            note = repoint_project(self._ctx, folder)
        except HarlabError as exc:
            self.jobs.show_error(f"Not re-pointed: {exc}")
            return False
        self.refresh()
        self._note = note
        return True


def _overview_job(project: Any) -> Job[Any]:
    from harlab.study.views import study_overview

    yield Progress(0, 0, "")  # the header says it is loading; the status keeps its message
    return study_overview(project)


def _estimate_job(project: Any, config: Any) -> Job[str]:
    """Per arm: what the study's language-model stage would send and cost (HTML)."""
    from harlab.llm.estimate import estimate_query

    parts = []
    for i, arm in enumerate(("unimodal", "multimodal")):
        yield Progress(i, 2, f"estimating the {arm} arm")
        estimate = estimate_query(project, config.llm(arm), modalities=(arm,),
                                  noise_floor=config.noise_floor)
        parts.append(f"<b>{arm}</b>: " + html.escape(str(estimate)).replace("\n", "<br>"))
    return "<br>".join(parts)


def _study_job(project: Any, config: Any, run_study: Any):
    from harlab.study.export import export_study

    yield from run_study(project, config)
    return export_study(project, project.exports_dir / "study", config)
