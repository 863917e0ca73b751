"""A long rating session does not crash the process.

PySide6 6.12.0 on Python < 3.12 loses a reference to ``None`` in ordinary calls, so a process
aborts with ``Fatal Python error: none_dealloc`` after a few thousand of them (the Evaluate panel
after 74 answers). HARLab excludes that release; these tests run the calls in a child process,
since the failure is an abort that would take pytest down with it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_BARE_LOOP = """
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
label = QLabel("x")
for i in range(20_000):
    label.setStyleSheet("color: red;" if i % 2 else "color: blue;")
print("survived")
"""

_RATING_SESSION = """
import sys
from pathlib import Path
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from tests.core.test_rating_fixtures import make_project
from ui.context import AppContext
from ui.panels.evaluate_panel import EvaluatePanel

app = QApplication([])
tmp = Path(sys.argv[1])
ctx = AppContext(QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat))
ctx.set_project(make_project(tmp / "p", n_samples=2, frames=False))
panel = EvaluatePanel(ctx)
panel.show()
edit = panel.annotator_combo.lineEdit()
edit.setFocus()
QTest.keyClicks(edit, "Ada")
QTest.keyClick(edit, Qt.Key.Key_Return)
assert panel.annotator is not None
presses = 0
for round_ in range(int(sys.argv[2])):
    for key in ("1", "2", "1", "2", "1", "2", "1"):  # every question, answer changes each round
        QTest.keyClick(panel, key)
        presses += 1
    QTest.keyClick(panel, Qt.Key.Key_Right if round_ % 8 < 4 else Qt.Key.Key_Left)
    presses += 1
print("survived", presses)
ctx.runner.shutdown()
ctx.project.close()
"""


def _run(code: str, *args: str, timeout: float) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)


def test_qt_survives_many_calls():
    proc = _run(_BARE_LOOP, timeout=120)
    assert proc.returncode == 0 and "survived" in proc.stdout, (
        f"a bare PySide6 loop aborted (rc {proc.returncode}): {proc.stderr[-600:]}; this "
        "PySide6 release is broken on this Python, install the range pyproject.toml declares")


@pytest.mark.slow
def test_evaluate_panel_survives_thousands_of_key_presses(tmp_path):
    proc = _run(_RATING_SESSION, str(tmp_path), "400", timeout=600)
    assert proc.returncode == 0, (f"rating session aborted (rc {proc.returncode}): "
                                  f"{proc.stderr[-800:]}")
    assert "survived 3200" in proc.stdout


def test_a_broken_qt_release_is_refused_with_the_fix():
    from ui.app import qt_problem

    assert "pip install 'PySide6-Essentials>=6.6,<6.12'" in qt_problem("6.12.0", (3, 11))
    assert qt_problem("6.12.0", (3, 12)) == "" and qt_problem("6.11.3", (3, 11)) == ""
