"""The GUI sees what another process (a CLI stage) wrote to the open project."""

from __future__ import annotations

import subprocess
import sys

from PySide6.QtCore import QSettings

from harlab.store import Project
from ui.context import AppContext


def test_a_write_by_another_process_reannounces_the_project(qtbot, tmp_path):
    ctx = AppContext(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    ctx.set_project(Project.create(tmp_path / "p"))
    assert not ctx.refresh_if_changed()  # nothing new yet
    code = ("from harlab.store import Project\n"
            f"p = Project.open({str(tmp_path / 'p')!r})\n"
            "p.insert('annotators', name='cli', created_at=1.0)\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    with qtbot.waitSignal(ctx.project_changed, timeout=1000):
        assert ctx.refresh_if_changed()
    assert not ctx.refresh_if_changed()  # once per change
    ctx.runner.shutdown()
    ctx.project.close()
