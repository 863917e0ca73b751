"""The robustness curve view: rates and drift with CI bars, controls, CSV export."""

from __future__ import annotations

import pyqtgraph as pg
import pytest

from harlab.errors import HarlabError
from harlab.study.curves import CURVE_COLUMNS, CurveResult
from ui.widgets.curve_plot import CurvePlot, CurveView


def _row(attack: str, eps_255: float, flip: float, drift: float | None) -> dict:
    row = dict.fromkeys(CURVE_COLUMNS)
    row.update(attack=attack, norm="linf", eps=eps_255 / 255, budget=f"eps={eps_255:g}/255",
               clean_correct=30, flipped=int(30 * flip), flip_rate=flip,
               flip_ci_low=flip / 2, flip_ci_high=min(1.0, flip * 1.5), asked=4,
               decision_flip_rate=0.25, decision_ci_low=0.05, decision_ci_high=0.7,
               adv_label_rate=0.5, adv_label_ci_low=0.15, adv_label_ci_high=0.85,
               drift_n=0 if drift is None else 4, drift_mean=drift,
               drift_ci_low=None if drift is None else drift - 0.1,
               drift_ci_high=None if drift is None else drift + 0.1)
    return row


def _result() -> CurveResult:
    return CurveResult([_row("fgsm", 2, 0.2, None), _row("fgsm", 8, 0.6, -0.05),
                        _row("pgd", 8, 0.9, -0.1)], "unimodal", "SmolLM2")


def _items(plot: pg.PlotWidget, kind: type) -> list:
    return [i for i in plot.getPlotItem().items if isinstance(i, kind)]


def test_plot_draws_rates_and_drift_with_error_bars(qtbot):
    plot = CurvePlot()
    qtbot.addWidget(plot)
    assert plot.notes[0].empty and plot.notes[1].empty
    plot.set_result(_result())
    assert not plot.notes[0].empty and not plot.notes[1].empty
    assert len(_items(plot.rates, pg.PlotDataItem)) == 6  # 3 rates x 2 attacks
    assert len(_items(plot.rates, pg.ErrorBarItem)) == 6
    drift_lines = _items(plot.drift, pg.PlotDataItem)
    assert len(drift_lines) == 2 and list(drift_lines[0].xData) == [8.0]  # no drift at 2/255
    assert "Wilson" in plot.caption.text() and "fgsm eps=8/255: flips 18/30" in plot.caption.text()
    plot.set_result(None)
    assert plot.notes[0].empty and _items(plot.rates, pg.PlotDataItem) == []


def test_view_needs_a_project_and_exports_csv(qtbot, ctx, tmp_path, monkeypatch):
    view = CurveView(ctx)
    qtbot.addWidget(view)
    with pytest.raises(HarlabError, match="open a project first"):
        view.config()
    view._on_export_clicked()
    assert "no curve to export yet" in view.jobs.status.text()
    view.plot.set_result(_result())
    target = tmp_path / "curve.csv"
    monkeypatch.setattr("ui.widgets.curve_plot.QFileDialog.getSaveFileName",
                        lambda *a, **k: (str(target), ""))
    view._on_export_clicked()
    header = target.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("attack,norm,eps,budget") and len(target.read_text().splitlines()) == 4
