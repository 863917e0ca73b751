"""The main window: one tab per stage of the study, a status bar with the running job."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QWidget,
)

from harlab import __version__
from harlab.errors import HarlabError
from harlab.jobs import Progress
from harlab.paths import demo_project_dir
from harlab.store import Project, is_project
from ui import logs
from ui.context import AppContext
from ui.file_actions import ProjectFileActions
from ui.job_runner import freeze_heap
from ui.panels.study_dashboard import StudyDashboard
from ui.settings_dialog import SettingsDialog

log = logging.getLogger(__name__)

MAX_RECENT = 8


class MainWindow(QMainWindow):
    """Tabs per stage, File menu with projects, Settings, and a status bar for jobs."""

    def __init__(self, ctx: AppContext | None = None):
        super().__init__()
        self.ctx = ctx if ctx is not None else AppContext(parent=self)
        self.setWindowTitle("HARLab")
        self.resize(1280, 820)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.setCentralWidget(self.tabs)
        self.overview = StudyDashboard(self.ctx, ready=False)
        self.overview.demo_button.clicked.connect(self._on_demo_clicked)
        self.overview.open_tab.connect(self._on_overview_open_tab)
        self.ctx.sample_requested.connect(self._on_ctx_sample_requested)
        self.tabs.addTab(self.overview, "Overview")
        self.panels: dict[str, QWidget] = {}
        self._build_status_bar()
        self._build_menus()
        runner = self.ctx.runner
        runner.progress_interval_s = 0.03  # status bar and bars: ~30 updates a second at most
        runner.started.connect(self._on_runner_started)
        runner.progress.connect(self._on_runner_progress)
        runner.failed.connect(self._on_runner_failed)
        runner.cancelled.connect(self._on_runner_cancelled)
        runner.finished.connect(self._on_runner_finished)
        self.ctx.project_changed.connect(self._on_ctx_project_changed)
        # Panels and the device label import torch and friends: build them once the event loop
        # runs, so the window is on screen before any heavy import.
        QTimer.singleShot(50, self._load_panels)
        QTimer.singleShot(100, self._update_device_label)

    # ------------------------------------------------------------------ building
    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.device_label = QLabel("device: …")
        self.job_label = QLabel("")
        self.job_progress = QProgressBar()
        self.job_progress.setMaximumWidth(220)
        self.job_progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        bar.addWidget(self.job_label, 1)
        bar.addPermanentWidget(self.job_progress)
        bar.addPermanentWidget(self.cancel_button)
        bar.addPermanentWidget(self.device_label)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        act = QAction("&New project…", self)
        act.setShortcut(QKeySequence.StandardKey.New)
        act.triggered.connect(self._on_new_project)
        file_menu.addAction(act)
        act = QAction("&Open project…", self)
        act.setShortcut(QKeySequence.StandardKey.Open)
        act.triggered.connect(self._on_open_project)
        file_menu.addAction(act)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self._rebuild_recent_menu()
        act = QAction("Open &demo project", self)
        act.triggered.connect(self._on_demo_clicked)
        file_menu.addAction(act)
        file_menu.addSeparator()
        self.file_actions = ProjectFileActions(self.ctx, self)
        self.file_actions.add_to(file_menu)
        file_menu.addSeparator()
        act = QAction("&Settings…", self)
        act.setShortcut(QKeySequence.StandardKey.Preferences)
        act.triggered.connect(self._on_settings)
        file_menu.addAction(act)
        file_menu.addSeparator()
        act = QAction("&Quit", self)
        act.setShortcut(QKeySequence.StandardKey.Quit)
        act.triggered.connect(self.close)
        file_menu.addAction(act)
        help_menu = self.menuBar().addMenu("&Help")
        act = QAction("&About HARLab", self)
        act.triggered.connect(self._on_about)
        help_menu.addAction(act)

    @Slot()
    def _load_panels(self) -> None:
        # The one deferred import: the panels bring torch, so they load once the window is on
        # screen (tests/ui/test_startup.py).
        from ui.panels.tabs import PANELS

        for title, cls in PANELS:
            try:
                panel = cls(self.ctx, self)
            except Exception as exc:  # noqa: BLE001 - one broken panel must not kill the app
                log.exception("panel %s failed to load", title)
                panel = QLabel(f"The {title} panel failed to load: {exc}\n"
                               "See the log file for the traceback.")
                panel.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.panels[title] = panel
            self.tabs.addTab(panel, title)
        self.overview.ready = True
        self.overview.refresh()
        freeze_heap()  # the start-up heap (Qt, torch, panels) never needs a collector's walk

    @Slot(int, str)
    def _on_ctx_sample_requested(self, _sample_id: int, _modality: str) -> None:
        self._on_overview_open_tab("Responses")

    @Slot(str)
    def _on_overview_open_tab(self, title: str) -> None:
        panel = self.panels.get(title)
        if panel is not None:
            self.tabs.setCurrentWidget(panel)

    @Slot()
    def _update_device_label(self) -> None:
        device = self.ctx.device
        try:
            from harlab.device import describe_device  # torch: after the window is shown

            text = describe_device(device)
        except HarlabError as exc:
            text = f"{device}: unavailable"
            self.device_label.setToolTip(str(exc))
        except ImportError:
            text = "torch not installed"
        self.device_label.setText(f"device: {text}")

    # ------------------------------------------------------------------ projects
    def open_project(self, path: str | Path, *, create: bool = False) -> bool:
        """Open (or create) a project; errors are shown, never raised."""
        try:
            project = Project.create(path) if create else Project.open(path)
        except HarlabError as exc:
            show_error(self, "Cannot open project", str(exc))
            return False
        logs.attach_project_log(project.log_path)
        self.ctx.set_project(project)
        self._remember_recent(str(project.root))
        return True

    def _remember_recent(self, path: str) -> None:
        recent = [p for p in self._recent() if p != path]
        recent.insert(0, path)
        self.ctx.settings.setValue("recent_projects", recent[:MAX_RECENT])
        self._rebuild_recent_menu()

    def _recent(self) -> list[str]:
        value = self.ctx.settings.value("recent_projects", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self._recent()
        for path in recent:
            act = QAction(path, self)
            act.setData(path)
            act.setEnabled(is_project(path))
            act.triggered.connect(self._on_recent_triggered)
            self.recent_menu.addAction(act)
        self.recent_menu.setEnabled(bool(recent))

    @Slot()
    def _on_recent_triggered(self) -> None:
        act = self.sender()
        if isinstance(act, QAction):
            self.open_project(act.data())

    @Slot()
    def _on_new_project(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose an empty folder for the project")
        if path:
            self.open_project(path, create=not is_project(path))

    @Slot()
    def _on_open_project(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a HARLab project folder")
        if path:
            self.open_project(path)

    @Slot()
    def _on_demo_clicked(self) -> None:
        path = demo_project_dir()
        if self.open_project(path, create=not is_project(path)):
            self._point_project_at_demo_data()

    def _point_project_at_demo_data(self) -> None:
        """The demo project uses the generated demo dataset (made on first use if missing)."""
        project = self.ctx.project
        if project is None or project.get_meta("dataset_root"):
            return
        from harlab.data.demo_data import ensure_demo_dataset_job  # cv2: on demand only

        try:
            self.ctx.runner.enqueue(ensure_demo_dataset_job(), "Generate demo dataset",
                                    on_success=self._on_demo_dataset_ready)
        except HarlabError as exc:
            show_error(self, "Cannot generate the demo dataset", str(exc))

    def _on_demo_dataset_ready(self, root: object) -> None:
        self.ctx.set_dataset_root(str(root))

    @Slot(object)
    def _on_ctx_project_changed(self, project: Project | None) -> None:
        self.setWindowTitle(f"HARLab — {project.root}" if project is not None else "HARLab")

    # ------------------------------------------------------------------ dialogs
    @Slot()
    def _on_settings(self) -> None:
        if SettingsDialog(self.ctx, self).exec():  # Ok saved through ctx.save_settings
            self._update_device_label()

    @Slot()
    def _on_about(self) -> None:
        QMessageBox.about(self, "About HARLab",
                          f"<b>HARLab {__version__}</b><br>A workbench for adversarial attacks "
                          "on human-action recognition and their effect on language-model "
                          f"responses.<br>Log file: <code>{logs.log_path()}</code>")

    # ------------------------------------------------------------------ jobs
    @Slot(str)
    def _on_runner_started(self, name: str) -> None:
        self.job_label.setText(f"{name}…")
        self.job_progress.setRange(0, 0)
        self.job_progress.setVisible(True)
        self.cancel_button.setEnabled(True)

    @Slot(object)
    def _on_runner_progress(self, step: Progress) -> None:
        if step.total:
            self.job_progress.setRange(0, step.total)
            self.job_progress.setValue(min(step.done, step.total))
        name = self.ctx.runner.name
        self.job_label.setText(f"{name}: {step.message}" if step.message else name)

    @Slot(str, str)
    def _on_runner_failed(self, message: str, _tb: str) -> None:
        name = self.ctx.runner.name
        if self.ctx.runner.error_handled:  # the panel that started it shows the error inline
            log.error("%s failed: %s", name, message)
            self.statusBar().showMessage(f"{name} failed: {message}", 10000)
        else:
            show_error(self, f"{name} failed", message)

    @Slot()
    def _on_runner_cancelled(self) -> None:
        self.statusBar().showMessage(f"{self.ctx.runner.name} cancelled", 5000)

    @Slot()
    def _on_runner_finished(self) -> None:
        self.job_progress.setVisible(False)
        self.cancel_button.setEnabled(False)
        self.job_label.setText("")

    @Slot()
    def _on_cancel_clicked(self) -> None:
        self.cancel_button.setEnabled(False)
        self.job_label.setText(f"{self.ctx.runner.name}: cancelling…")
        self.ctx.runner.cancel()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        # Back to the window: show what a CLI stage (another process) wrote meanwhile.
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self.ctx.refresh_if_changed()
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.ctx.runner.shutdown()
        for panel in self.panels.values():
            shutdown = getattr(panel, "shutdown", None)
            if callable(shutdown):
                shutdown()
        self.ctx.set_project(None)
        if "harlab.llm.local_server" in sys.modules:  # only if a server may have been started
            sys.modules["harlab.llm.local_server"].stop_all()
        event.accept()


def show_error(parent: QWidget | None, title: str, message: str) -> None:
    """A modal error dialog (not shown in offscreen tests, where it is only logged)."""
    log.error("%s: %s", title, message)
    box = QMessageBox(QMessageBox.Icon.Critical, title, message, QMessageBox.StandardButton.Ok,
                      parent)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.open()
