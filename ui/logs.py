"""Logging to a user log file and to the open project's log, plus the GUI excepthook."""

from __future__ import annotations

import logging
import sys
import traceback
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType

from PySide6.QtWidgets import QApplication, QMessageBox

from harlab.errors import HarlabError
from harlab.paths import data_dir

log = logging.getLogger("harlab.ui")
_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"
_state: dict[str, logging.Handler | None] = {"user": None, "project": None}


def log_path() -> Path:
    return data_dir() / "harlab.log"


def setup_logging(level: int = logging.INFO) -> None:
    """Log to stderr and to the user log file (idempotent)."""
    root = logging.getLogger()
    root.setLevel(level)
    if _state["user"] is None:
        handler = RotatingFileHandler(log_path(), maxBytes=5_000_000, backupCount=3,
                                      encoding="utf-8")
        handler.setFormatter(logging.Formatter(_FORMAT))
        root.addHandler(handler)
        _state["user"] = handler
        if not any(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
                   for h in root.handlers):
            stream = logging.StreamHandler()
            stream.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
            stream.setLevel(logging.WARNING)
            root.addHandler(stream)


def attach_project_log(path: str | Path) -> None:
    """Also write the log to ``path`` (the open project's ``harlab.log``)."""
    root = logging.getLogger()
    old = _state["project"]
    if old is not None:
        root.removeHandler(old)
        old.close()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(handler)
    _state["project"] = handler


def install_excepthook() -> None:
    """Errors escaping a slot are logged and shown in a dialog instead of killing the app."""

    def hook(exc_type: type[BaseException], exc: BaseException,
             tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("unhandled exception:\n%s", text)
        app = QApplication.instance()
        if app is None:
            sys.__excepthook__(exc_type, exc, tb)
            return
        message = str(exc) if isinstance(exc, HarlabError) else f"{exc_type.__name__}: {exc}"
        box = QMessageBox(QMessageBox.Icon.Critical, "HARLab: unexpected error",
                          f"{message}\n\nThe full traceback is in {log_path()}"
                          " and in the project's harlab.log.",
                          QMessageBox.StandardButton.Ok, app.activeWindow())
        box.setDetailedText(text)
        box.open()

    sys.excepthook = hook
