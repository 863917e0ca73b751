"""The Attack tab's accuracy-under-attack view: config from the controls, the table."""

from __future__ import annotations

import pytest

from harlab.attacks.config import AttackConfig
from harlab.attacks.report import AccuracyReport, ReportConfig
from harlab.errors import InputError
from ui.widgets.accuracy_report import AccuracyReportView


@pytest.fixture
def view(qtbot, ctx):
    widget = AccuracyReportView(ctx, lambda: AttackConfig(keyframes=2), lambda: "best.pt")
    qtbot.addWidget(widget)
    return widget


def test_config_from_the_controls(view, monkeypatch):
    monkeypatch.setattr("harlab.attacks.selection.default_dataset_root", lambda p: "data")
    view.attacks_edit.setText("fgsm, deepfool")
    view.eps_edit.setText("4/255, 0.5")
    view.videos_spin.setValue(0)
    config = view.config()
    assert isinstance(config, ReportConfig) and config.attacks == ("fgsm", "deepfool")
    assert config.videos_per_class is None and config.base.keyframes == 2
    assert config.base.surrogate is None
    view.surrogate_edit.setText("seed1/best.pt")
    assert view.config().base.surrogate == "seed1/best.pt"
    view.attacks_edit.setText("nope")
    with pytest.raises(InputError, match="valid attacks"):
        view.config()


def test_the_attack_tabs_parameters_reach_the_report(qtbot, ctx, monkeypatch):
    """PGD set to 3 steps in the Attack tab runs with 3 steps in the report too (it ran with
    its defaults before); the other listed attacks keep theirs."""
    monkeypatch.setattr("harlab.attacks.selection.default_dataset_root", lambda p: "data")
    widget = AccuracyReportView(ctx, lambda: AttackConfig(attack="pgd", params={"steps": 3}),
                                lambda: "best.pt")
    qtbot.addWidget(widget)
    widget.attacks_edit.setText("fgsm, pgd")
    assert widget.config().params == {"pgd": {"steps": 3}}
    widget.attacks_edit.setText("fgsm")
    assert widget.config().params == {}


def test_run_without_a_project_says_so(view):
    view._on_run_clicked()
    assert "open a project first" in view.jobs.status.text()


def test_table_shows_rates_with_their_cis(view):
    row = {"attack": "fgsm", "budget": "eps=8/255", "n": 10, "clean_top1": 0.8,
           "clean_ci_low": 0.49, "clean_ci_high": 0.94, "robust_top1": 0.1,
           "robust_ci_low": 0.018, "robust_ci_high": 0.404}
    view.set_report(AccuracyReport([row], 10, 8, "test"))
    assert view.table.rowCount() == 1
    assert [view.table.item(0, j).text() for j in range(7)] == [
        "fgsm", "eps=8/255", "10", "80.0%", "49.0% - 94.0%", "10.0%", "1.8% - 40.4%"]
    assert "Wilson" in view.note.text() and "8 correct before" in view.note.text()
