"""The Results panel's Export menu: every table as CSV, Markdown or LaTeX, the figure as PNG or
SVG, the full report, and the study's evaluation.csv.

Each action calls ``chosen(kind, index, suffix)`` with kind ``table``, ``report``,
``figure`` or ``evaluation``.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMenu, QWidget

from ui.widgets.results_tables import TABLES

TABLE_KINDS = ((".csv", "CSV…"), (".md", "Markdown…"), (".tex", "LaTeX…"))


def build_export_menu(parent: QWidget, chosen: Callable[[str, int, str], None]) -> QMenu:
    menu = QMenu(parent)

    def add(target: QMenu, text: str, kind: str, index: int, suffix: str) -> None:
        act = target.addAction(text)
        act.setObjectName(f"export-{kind}-{index}-{suffix.lstrip('.')}")
        act.triggered.connect(lambda _=False: chosen(kind, index, suffix))

    menu.addSection("Tables")
    for index, (title, _stem, _key) in enumerate(TABLES):
        sub = menu.addMenu(title)
        for suffix, text in TABLE_KINDS:
            add(sub, text, "table", index, suffix)
    sub = menu.addMenu("All tables (report)")
    for suffix, text in TABLE_KINDS:
        add(sub, text, "report", -1, suffix)
    menu.addSection("Figure on screen")
    add(menu, "PNG…", "figure", -1, ".png")
    add(menu, "SVG…", "figure", -1, ".svg")
    menu.addSection("Study")
    add(menu, "evaluation.csv…", "evaluation", -1, ".csv")
    return menu
