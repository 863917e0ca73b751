"""What every UI test shares: an AppContext on a throw-away settings file."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from ui.context import AppContext


@pytest.fixture
def ctx(qtbot, tmp_path):
    """An :class:`AppContext` whose settings live in ``tmp_path``; its runner and project are
    shut down and closed afterwards."""
    context = AppContext(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    yield context
    context.runner.shutdown()
    if context.project is not None:
        context.project.close()
