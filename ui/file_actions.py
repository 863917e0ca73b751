"""The File menu's project actions that the CLI also has: evaluation.csv, the study bundle,
verify a bundle, project info and re-point the dataset.

Each writes or reads through a core function run as a job on the shared runner; the results
come back in a dialog. ``harlab.study`` imports torch, so it is imported inside the jobs.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from harlab.errors import HarlabError
from harlab.jobs import Job, Progress
from harlab.store import missing_paths, repoint_dataset
from ui.context import AppContext

log = logging.getLogger(__name__)


def evaluation_job(project: Any, path: Path) -> Job[Path]:
    """Write the study's ``evaluation.csv`` (the contract's columns) to ``path``."""
    from harlab.study.export import evaluation_rows, study_config, to_csv, write_text

    yield Progress(0, 1, "reading the store")
    config = study_config(project)
    columns, rows = evaluation_rows(project, config.similarity_model if config else
                                    "all-MiniLM-L6-v2")
    write_text(path, to_csv(columns, rows))
    return path


def bundle_job(project: Any, path: Path) -> Job[Path]:
    from harlab.study.bundle import export_bundle

    yield Progress(0, 1, "packing the store, frames and exports")
    return export_bundle(project, path)


def verify_job(path: Path) -> Job[Any]:
    from harlab.study.bundle import verify_bundle

    yield Progress(0, 1, f"recomputing every number of {path.name}")
    return verify_bundle(path)


def info_job(project: Any) -> Job[str]:
    """A project summary like ``harlab project info``, as HTML."""
    from harlab.study.views import arm_items, rated_items, row_counts, scored_items

    yield Progress(0, 1, "reading the project")
    counts = row_counts(project)
    arms = arm_items(project)
    rated, annotators = rated_items(project)
    lines = [f"<b>{html.escape(str(project.root))}</b> (schema {project.schema_version})",
             "dataset: " + html.escape(project.get_meta("dataset_root") or "(none)"),
             *[html.escape(m) for m in missing_paths(project)],
             "<br>".join(html.escape(a.describe()) for a in arms.values()),
             f"{scored_items(project)} item(s) scored; {rated} item(s) rated by {annotators} "
             "annotator(s)",
             "rows: " + ", ".join(f"{t} {n}" for t, n in counts.items()),
             "<br>".join(f"run {r['id']} {r['kind']} {r['status']} {html.escape(r['name'])}"
                         for r in project.runs()[-12:])]
    return "<br><br>".join(lines)


class ProjectFileActions(QObject):
    """Adds the actions to a File menu; every action needs an open project but Verify."""

    def __init__(self, ctx: AppContext, window: QWidget):
        super().__init__(window)
        self.ctx, self.window = ctx, window
        self.actions: dict[str, QAction] = {}

    def add_to(self, menu: QMenu) -> None:
        for key, text, slot in (
                ("evaluation", "Export &evaluation.csv…", self._on_export_evaluation),
                ("bundle", "Export study &bundle…", self._on_export_bundle),
                ("verify", "&Verify a bundle…", self._on_verify),
                ("info", "Project &info…", self._on_info),
                ("repoint", "Re-&point dataset…", self._on_repoint)):
            act = QAction(text, self.window)
            act.triggered.connect(slot)
            menu.addAction(act)
            self.actions[key] = act
        self.ctx.project_changed.connect(self._on_ctx_project_changed)
        self._on_ctx_project_changed(self.ctx.project)

    @Slot(object)
    def _on_ctx_project_changed(self, project: object) -> None:
        for key, act in self.actions.items():
            act.setEnabled(key == "verify" or project is not None)

    # ------------------------------------------------------------------ running
    def _run(self, job: Job[Any], name: str, on_success: Any) -> None:
        self.ctx.runner.enqueue(job, name, on_success=on_success)

    def _exports_dir(self) -> str:
        project = self.ctx.project
        return str(project.exports_dir) if project is not None else ""

    def _say(self, title: str, text: str, icon=QMessageBox.Icon.Information) -> None:
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self.window)
        box.open()

    # ------------------------------------------------------------------ actions
    @Slot()
    def _on_export_evaluation(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Export evaluation.csv",
                                              str(Path(self._exports_dir()) / "evaluation.csv"),
                                              "CSV (*.csv)")
        if path and self.ctx.project is not None:
            self.export_evaluation(path)

    def export_evaluation(self, path: str | Path) -> None:
        self._run(evaluation_job(self.ctx.project, Path(path)), "Export evaluation.csv",
                  lambda p: self._say("Exported", f"Wrote {p}"))

    @Slot()
    def _on_export_bundle(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Export study bundle",
                                              str(Path(self._exports_dir()) / "bundle.zip"),
                                              "Zip (*.zip)")
        if path and self.ctx.project is not None:
            self._run(bundle_job(self.ctx.project, Path(path)), "Export study bundle",
                      lambda p: self._say("Bundle written",
                                          f"Wrote {p}. Anyone can check it with File > "
                                          "Verify a bundle or `harlab verify`."))

    @Slot()
    def _on_verify(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Verify a study bundle",
                                              self._exports_dir(), "Zip (*.zip)")
        if path:
            self._run(verify_job(Path(path)), "Verify bundle", self._on_verified)

    def _on_verified(self, report: Any) -> None:
        head = ("verify: every number recomputed and equal" if report.ok else
                f"verify: {len(report.differences)} difference(s)")
        self._say("Verify", head + "\n\n" + "\n".join(report.lines[-30:]),
                  QMessageBox.Icon.Information if report.ok else QMessageBox.Icon.Warning)

    @Slot()
    def _on_info(self) -> None:
        if self.ctx.project is not None:
            self._run(info_job(self.ctx.project), "Project info",
                      lambda text: self._say("Project info", text))

    @Slot()
    def _on_repoint(self) -> None:
        project = self.ctx.project
        if project is None:
            return
        folder = QFileDialog.getExistingDirectory(
            self.window, "Choose the folder holding UCF-101/ and ucfTrainTestlist/",
            project.get_meta("dataset_root") or "")
        if folder:
            self.repoint(folder)

    def repoint(self, folder: str | Path) -> bool:
        """Point the project at ``folder`` after checking it holds the project's videos."""
        try:
            text = repoint_project(self.ctx, folder)
        except HarlabError as exc:
            self._say("Not re-pointed", str(exc), QMessageBox.Icon.Warning)
            return False
        self._say("Re-pointed", text)
        return True


def repoint_project(ctx: AppContext, folder: str | Path) -> str:
    """Re-point the open project's dataset at ``folder`` (checked) and say what was found.

    Raises:
        HarlabError: ``folder`` is not a dataset, or not this project's.
    """
    done = repoint_dataset(ctx.project, folder)
    ctx.set_dataset_root(done.new)
    text = f"Dataset re-pointed: {done.old or '(none)'} → {done.new}"
    if done.videos_missing:
        text += (f"; {done.videos_found} sample videos found there, "
                 f"{len(done.videos_missing)} missing (e.g. {done.videos_missing[0]})")
    return text
