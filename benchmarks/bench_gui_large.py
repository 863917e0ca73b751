"""Opening a large project in the real window: time to each panel's first paint.

Generates (once, in a temporary folder) a project with 10,000 samples and 100,000 requests
(:func:`bench_store_scale.generate_large_project`), opens it in the main window offscreen, and
prints the time the panels take to read it (all of them, in the GUI thread) and each tab's first
paint, against the issue's target of 1 s.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_gui_large.py

Measured on the 2-core machine: 162 s to open before the rating items query was made linear
and the sample lists read light rows; 1.65 s after (Attack 0.65 s, Responses 0.74 s,
Evaluate 0.16 s, every first paint under 0.15 s).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_store_scale import generate_large_project  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QAbstractItemView, QApplication, QScrollBar  # noqa: E402

from harlab.store import Project  # noqa: E402
from ui.context import AppContext  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402

TARGET_S = 1.0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "large"
        t = time.perf_counter()
        generate_large_project(root, 10_000, 100_000)
        print(f"generated 10,000 samples and 100,000 requests in {time.perf_counter() - t:.1f} s")
        app = QApplication.instance() or QApplication([])
        ctx = AppContext(QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat))
        win = MainWindow(ctx)
        win.resize(1400, 900)
        win.show()
        end = time.time() + 3
        while time.time() < end:
            app.processEvents()
        t = time.perf_counter()
        ctx.set_project(Project.open(root))
        app.processEvents()
        opened = time.perf_counter() - t
        print(f"every panel reads the project: {opened:.2f} s")
        for i in range(win.tabs.count()):
            t = time.perf_counter()
            win.tabs.setCurrentIndex(i)
            app.processEvents()
            win.grab()
            took = time.perf_counter() - t
            print(f"{win.tabs.tabText(i):<10} first paint {took:.3f} s  "
                  f"({took / TARGET_S:.2f}x the 1 s target)")
        for title in ("Attack", "Responses", "Evaluate"):
            win.tabs.setCurrentWidget(win.panels[title])
            app.processEvents()
            views = [v for v in win.panels[title].findChildren(QAbstractItemView)
                     if v.model() is not None and v.model().rowCount() > 100]
            for view in views:
                t = time.perf_counter()
                for _ in range(20):  # page down through the list, painting each page
                    view.verticalScrollBar().triggerAction(QScrollBar.SliderAction.SliderPageStepAdd)
                    win.grab()
                took = (time.perf_counter() - t) / 20
                print(f"{title:<10} scroll one page of {view.model().rowCount()} rows: "
                      f"{took * 1000:.1f} ms a page")
        ctx.runner.shutdown()
        ctx.project.close()


if __name__ == "__main__":
    main()
