"""The stage panels, in the order of the study.

Each entry names a module and a ``QWidget`` subclass constructed as ``Panel(ctx: AppContext)``.
A stage's panel is listed here when its stage lands; the main window shows only what exists.
"""

from __future__ import annotations

# (tab title, module, class name)
PANELS: list[tuple[str, str, str]] = [
    ("Data", "ui.panels.data_panel", "DataPanel"),
    ("Train", "ui.panels.train_panel", "TrainPanel"),
    ("Attack", "ui.panels.attack_panel", "AttackPanel"),
    ("Responses", "ui.panels.responses_panel", "ResponsesPanel"),
    ("Evaluate", "ui.panels.evaluate_panel", "EvaluatePanel"),
    ("Results", "ui.panels.results_panel", "ResultsPanel"),
]
