"""What every panel shares: the project, the dataset index, the classifier, the settings.

:class:`AppContext` owns the shared state and says when it changes; panels hold none of it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QSettings, Signal

from harlab.errors import HarlabError
from harlab.fields import from_strings, settings_keys, to_strings
from harlab.llm.config import LLMConfig
from harlab.settings import AppSettings
from harlab.store import Project
from ui.job_runner import JobRunner

log = logging.getLogger(__name__)

T = TypeVar("T")


def read_config(settings: QSettings, cls: type[T]) -> T:
    """The one reader of typed settings: ``cls`` from its fields' keys (unset keys keep their
    defaults).

    Raises:
        InputError: a stored value is out of range (the message names it).
    """
    return from_strings(cls, {k: settings.value(k) for k in settings_keys(cls)
                              if settings.contains(k)})


def write_config(settings: QSettings, *configs: Any) -> None:
    """Store typed settings (every field, as strings)."""
    for config in configs:
        for key, value in to_strings(config).items():
            settings.setValue(key, value)
    settings.sync()


class ClassifierCache:
    """One loaded classifier at a time, keyed by (resolved checkpoint path, device).

    Used from job threads; the lock keeps two jobs from loading at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[str, str] | None = None
        self._loaded: Any = None

    def get(self, checkpoint: str | Path, device: str) -> Any:
        # torch loads here, in a job thread, never while the window is first shown
        from harlab.train.checkpoint import load_classifier

        key = (str(Path(checkpoint).expanduser().resolve()), device)
        with self._lock:
            if self._key != key:
                self._loaded, self._key = None, None
                self._loaded = load_classifier(checkpoint, device=device)
                self._key = key
            return self._loaded

    def clear(self) -> None:
        with self._lock:
            self._key, self._loaded = None, None


class AppContext(QObject):
    """Shared state for panels.

    Signals:
        project_changed(object): the new :class:`harlab.store.Project`, or None when closed.
        dataset_changed(str): the dataset root chosen (indexing follows).
        dataset_indexed(object): the :class:`harlab.data.ucf101.UCF101` of the current root and
            fold (GUI thread).
        dataset_failed(str): indexing the current root and fold failed, with the message.
        settings_changed(): the typed settings (LLM, paths, device) were saved.
        sample_requested(int, str): show this sample and modality in the Responses panel.
    """

    project_changed = Signal(object)
    dataset_changed = Signal(str)
    dataset_indexed = Signal(object)
    dataset_failed = Signal(str)
    settings_changed = Signal()
    sample_requested = Signal(int, str)

    def __init__(self, settings: QSettings | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.settings = settings if settings is not None else QSettings("HARLab", "HARLab")
        self.runner = JobRunner(self)
        self.project: Project | None = None
        self.dataset_root: str = read_config(self.settings, AppSettings).dataset_root
        self.fold = 1
        self.dataset: Any = None  # UCF101 of (dataset_root, fold) once indexed
        self._index_wanted = False  # set by the first panel that shows the index
        self.classifiers = ClassifierCache()
        self._seen_version: int | None = None  # the store's data_version the panels last read

    # ------------------------------------------------------------------ project
    def set_project(self, project: Project | None) -> None:
        """Switch project; a project remembers its dataset (meta key ``dataset_root``)."""
        old, self.project = self.project, project
        if old is not None and old is not project:
            old.close()
        self._seen_version = project.data_version() if project is not None else None
        self.project_changed.emit(project)
        if project is not None:
            root = project.get_meta("dataset_root")
            if root and root != self.dataset_root:
                self.set_dataset_root(root)

    def refresh_if_changed(self) -> bool:
        """Announce the project again when another process (a CLI stage, say) changed its
        store since the panels last read it; not while a job of ours runs."""
        project = self.project
        if project is None or self.runner.busy:
            return False
        version = project.data_version()
        if version == self._seen_version:
            return False
        self._seen_version = version
        self.project_changed.emit(project)
        return True

    # ------------------------------------------------------------------ dataset
    def set_dataset_root(self, root: str | Path) -> None:
        """Choose the dataset (remembered in settings and the project) and index it."""
        self.dataset_root = str(root)
        self.settings.setValue(AppSettings.keys()["dataset_root"], self.dataset_root)
        if self.project is not None and self.project.get_meta("dataset_root") != self.dataset_root:
            self.project.set_meta("dataset_root", self.dataset_root)
        self.dataset = None
        self.dataset_changed.emit(self.dataset_root)
        self.reindex()

    def set_fold(self, fold: int) -> None:
        """Choose the UCF-101 split (1-3) every panel uses, and index it."""
        if fold != self.fold:
            self.fold = int(fold)
            self.dataset = None
            self.reindex()

    def want_dataset(self) -> None:
        """A panel shows the index: from now on every root or fold change is indexed."""
        self._index_wanted = True
        if self.dataset is None:
            self.reindex()

    def reindex(self) -> None:
        """Index the current root and fold on the runner (queued behind a running job)."""
        if not self.dataset_root or not self._index_wanted:
            return
        # the stages import torch: not before the window is on screen (tests/ui/test_startup)
        from harlab.stages import DatasetConfig, index_data

        try:
            config = DatasetConfig(self.dataset_root, self.fold)
        except HarlabError as exc:
            self.dataset_failed.emit(str(exc))
            return
        self.runner.enqueue(index_data(self.project, config), "index dataset",
                            on_success=self._on_index_succeeded,
                            on_error=self._on_index_failed)

    def _on_index_succeeded(self, dataset: Any) -> None:
        if str(dataset.fold) != str(self.fold):
            return  # a stale answer for a fold the user has left
        self.dataset = dataset
        self.dataset_indexed.emit(dataset)

    def _on_index_failed(self, message: str, _tb: str) -> None:
        self.dataset = None
        self.dataset_failed.emit(message)

    # ------------------------------------------------------------------ settings
    def llm_config(self) -> LLMConfig:
        """The language-model settings (raises InputError for a bad stored value)."""
        return read_config(self.settings, LLMConfig)

    def app_settings(self) -> AppSettings:
        return read_config(self.settings, AppSettings)

    def prefs(self, cls: type[T]) -> T:
        """A panel's typed UI preferences (a dataclass of :func:`harlab.fields.setting`)."""
        try:
            return read_config(self.settings, cls)
        except HarlabError:
            return cls()

    def save_prefs(self, prefs: Any) -> None:
        """Store a panel's UI preferences (no ``settings_changed``: nothing else reads them)."""
        write_config(self.settings, prefs)

    @property
    def device(self) -> str:
        try:
            return self.app_settings().device
        except HarlabError:
            return "auto"

    def save_settings(self, *configs: LLMConfig | AppSettings) -> None:
        """Store typed settings and tell every panel."""
        write_config(self.settings, *configs)
        self.settings_changed.emit()
