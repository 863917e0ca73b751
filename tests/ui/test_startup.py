"""The window is on screen before torch is imported; main.py falls back cleanly headless."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import sys
from PySide6.QtWidgets import QApplication
from PySide6.QtCore import QSettings, QTimer
app = QApplication([])
from ui.context import AppContext
from ui.main_window import MainWindow
win = MainWindow(AppContext(QSettings(sys.argv[1], QSettings.Format.IniFormat)))
win.show()
print("torch-before-loop", "torch" in sys.modules, flush=True)
def check():
    print("panels", win.tabs.count(), flush=True)
    print("device", win.device_label.text(), flush=True)
    win.close()
    app.quit()
QTimer.singleShot(8000, check)
app.exec()
"""


def test_window_shows_before_torch_is_imported(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "s.ini")], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "torch-before-loop False" in out.stdout
    assert "device device: CPU" in out.stdout or "device device: CUDA" in out.stdout


def test_main_without_display_says_so(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"}}
    out = subprocess.run([sys.executable, "main.py", "--dry-run", str(tmp_path / "proj")],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert "cannot open a window (no display" in out.stderr
    assert "Running the headless demo pipeline instead" in out.stderr
    assert out.returncode == 0, out.stderr
