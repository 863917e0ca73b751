"""What every panel shares: the open project, the job runner and the user's settings."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal

from harlab.store import Project
from ui.job_runner import JobRunner

log = logging.getLogger(__name__)


class AppContext(QObject):
    """Shared state for panels.

    Signals:
        project_changed(object): the new :class:`harlab.store.Project`, or None when closed.
        dataset_changed(str): the dataset root chosen in the Data panel.
        sample_requested(int, str): show this sample and modality in the Responses panel
            (e.g. a point clicked in the Results panel).
    """

    project_changed = Signal(object)
    dataset_changed = Signal(str)
    sample_requested = Signal(int, str)

    def __init__(self, settings: QSettings | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.settings = settings if settings is not None else QSettings("HARLab", "HARLab")
        self.runner = JobRunner(self)
        self.project: Project | None = None
        self.dataset_root: str = str(self.settings.value("data/dataset_root", "") or "")

    def set_project(self, project: Project | None) -> None:
        """Switch project; a project remembers its dataset (meta key ``dataset_root``)."""
        old, self.project = self.project, project
        if old is not None and old is not project:
            old.close()
        self.project_changed.emit(project)
        if project is not None:
            root = project.get_meta("dataset_root")
            if root and root != self.dataset_root:
                self.dataset_root = root
                self.dataset_changed.emit(root)

    def set_dataset_root(self, root: str | Path) -> None:
        self.dataset_root = str(root)
        self.settings.setValue("data/dataset_root", self.dataset_root)
        if self.project is not None:
            self.project.set_meta("dataset_root", self.dataset_root)
        self.dataset_changed.emit(self.dataset_root)

    def setting(self, key: str, default: object = None) -> object:
        """A stored preference (see ``ui.settings_dialog`` for the keys)."""
        value = self.settings.value(key, default)
        return default if value is None else value
