"""The Overview tab as the study dashboard: configuration, each stage's state, one Run button.

The Overview is built with the main window, before it is shown; :mod:`harlab.study` imports
torch, so it is imported in the methods that need it, which run once the panels have loaded.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from harlab import __version__
from harlab.errors import HarlabError
from ui.context import AppContext
from ui.widgets.job_controls import JobControls

log = logging.getLogger(__name__)

STAGE_TITLES = {"data": "Data", "classifier": "Classifier", "samples": "Samples",
                "query": "Language model", "score": "Scores"}


class StudyDashboard(QWidget):
    """What the open project's study holds, stage by stage, and a button to run the rest.

    Signals:
        open_tab(str): the title of a tab to show (Responses, Evaluate, Results).
    """

    open_tab = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None, *, ready: bool = True):
        super().__init__(parent)
        self._ctx = ctx
        # The main window sets ready once the panels (and torch) have loaded, so that the
        # window appears before the study's imports run.
        self.ready = ready
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 24, 24, 24)
        self.header = QLabel()
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setWordWrap(True)
        layout.addWidget(self.header)
        self.stages = QTableWidget(0, 3)
        self.stages.setHorizontalHeaderLabels(["Stage", "State", "Holds"])
        self.stages.horizontalHeader().setStretchLastSection(True)
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

    def refresh(self) -> None:
        project = self._ctx.project
        self.demo_button.setVisible(project is None)
        for button in (self.run_button, self.load_button, self.save_button):
            button.setEnabled(project is not None)
        intro = (f"<h2>HARLab {__version__}</h2><p>Adversarial attacks on human-action "
                 "recognition, and what a language model then says: data &rarr; fine-tune "
                 "&rarr; attack &rarr; ask an LLM &rarr; score &rarr; rate &rarr; export.</p>")
        if project is None:
            self.header.setText(intro + "<p>No project is open. Open the demo project to run "
                                "the whole study on the bundled demo data, or create a project "
                                "with <i>File &gt; New project</i>.</p>")
            self.stages.setRowCount(0)
            self.settings_label.setText("")
            return
        if not self.ready:
            self.header.setText(intro + "<p>Loading the project…</p>")
            return
        from harlab.study.runner import stage_state, study_counts

        config = self._config()
        states, counts = stage_state(project, config), study_counts(project)
        self.header.setText(intro + f"<p>Project <code>{html.escape(str(project.root))}</code>"
                            f" &middot; study <b>{html.escape(config.name)}</b></p>")
        holds = {
            "data": config.dataset if config.dataset != "demo" else "generated demo dataset",
            "classifier": Path(counts["classifier"]).name or "none yet",
            "samples": ", ".join(f"{c} {n}/{config.per_class}"
                                 for c, n in counts["samples"].items()) or "none yet",
            "query": ", ".join(f"{k} {n}" for k, n in counts["answers"].items()) or "none yet",
            "score": f"{counts['scores']} scores; {counts['ratings']} ratings by "
                     f"{counts['annotators']} annotator(s)",
        }
        self.stages.setRowCount(len(STAGE_TITLES))
        for i, (stage, title) in enumerate(STAGE_TITLES.items()):
            for j, text in enumerate((title, states[stage], holds[stage])):
                self.stages.setItem(i, j, QTableWidgetItem(text))
        self.stages.resizeColumnsToContents()
        self.stages.setFixedHeight(self.stages.horizontalHeader().height() + 4
                                   + sum(self.stages.rowHeight(i)
                                         for i in range(self.stages.rowCount())))
        chosen = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>"
                         for k, v in config.chosen_settings().items())
        self.settings_label.setText("<p>Settings HARLab chose where the paper is silent:</p>"
                                    f"<ul>{chosen}</ul>")

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
        self.status.setText(f"Study {config.name!r} loaded from {path}; stages whose settings "
                            "changed are marked stale.")
        self.refresh()

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
        from harlab.study.runner import run_study

        config = self._config()
        if self.jobs.run(_study_job(project, config, run_study), "Study", self._on_study_done,
                         on_error=self._on_study_failed, exclusive=True):
            self.jobs.show_message("Running the study…")

    def _on_study_done(self, paths: Any) -> None:
        self.status.setText("Done: " + ", ".join(str(p) for p in paths.values()))
        self.refresh()

    def _on_study_failed(self, message: str) -> None:
        self.jobs.show_error(f"Stopped: {message}")
        self.refresh()


def _study_job(project: Any, config: Any, run_study: Any):
    from harlab.study.export import export_study

    yield from run_study(project, config)
    return export_study(project, project.exports_dir / "study", config)
