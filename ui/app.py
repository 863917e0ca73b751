"""Starting the GUI: the QApplication, logging, the excepthook and the main window."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


#: PySide6 releases that abort the process on these Pythons (a refcount bug, "none_dealloc",
#: after a few thousand Qt calls; pyproject.toml excludes them, this catches older venvs).
BROKEN_QT = {"6.12.0": (3, 12)}


def qt_problem(version: str, python: tuple[int, int]) -> str:
    """Why this PySide6 ``version`` must not run on ``python``, or ""."""
    below = BROKEN_QT.get(version)
    if below is None or python >= below:
        return ""
    return (f"PySide6 {version} aborts the app on Python {python[0]}.{python[1]} after a few "
            "thousand Qt calls (Fatal Python error: none_dealloc), losing the window mid-session. "
            "Install a tested release: pip install 'PySide6-Essentials>=6.6,<6.12' (or run "
            "bash scripts/app.sh, which does)")


def run_gui(project: str | None = None, argv: list[str] | None = None) -> int:
    """Open the main window (optionally on ``project``) and run the event loop."""
    import PySide6
    from PySide6.QtWidgets import QApplication

    from harlab.console import quiet_third_party
    from ui import logs

    problem = qt_problem(PySide6.__version__, sys.version_info[:2])
    if problem:
        print(f"HARLab: {problem}", file=sys.stderr)
        return 1
    quiet_third_party()
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
