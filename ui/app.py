"""Starting the GUI: the QApplication, logging, the excepthook and the main window."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def run_gui(project: str | None = None, argv: list[str] | None = None) -> int:
    """Open the main window (optionally on ``project``) and run the event loop."""
    from PySide6.QtWidgets import QApplication

    from ui import logs

    logs.setup_logging()
    logs.install_excepthook()
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("HARLab")
    app.setOrganizationName("HARLab")
    from ui.main_window import MainWindow

    window = MainWindow()
    window.show()
    if project:
        from harlab.store import is_project

        window.open_project(Path(project), create=not is_project(project))
    return app.exec()
