"""The stage panels in the order of the study: (tab title, class).

Each class is a ``QWidget`` constructed as ``Panel(ctx: AppContext, parent)``.
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from ui.panels.attack_panel import AttackPanel
from ui.panels.data_panel import DataPanel
from ui.panels.evaluate_panel import EvaluatePanel
from ui.panels.responses_panel import ResponsesPanel
from ui.panels.results_panel import ResultsPanel
from ui.panels.train_panel import TrainPanel

PANELS: list[tuple[str, type[QWidget]]] = [
    ("Data", DataPanel),
    ("Train", TrainPanel),
    ("Attack", AttackPanel),
    ("Responses", ResponsesPanel),
    ("Evaluate", EvaluatePanel),
    ("Results", ResultsPanel),
]
