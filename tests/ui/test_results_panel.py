"""The Results panel: stored scores show on open; Score; scatter click; exports."""

from __future__ import annotations

import pytest

from harlab import jobs
from harlab.errors import InputError
from harlab.scoring import ScoreConfig, score_project
from harlab.scoring.metrics import METRICS
from tests.core.test_scoring_fixtures import make_project
from ui.panels.results_panel import ResultsPanel

CHEAP = ("syntactic_cosine", "true_label_mentioned", "adv_label_mentioned", "decision_changed")


def _store_scores(project):
    jobs.run(score_project(project, ScoreConfig(metrics=CHEAP)))
    # a semantic cosine per pair, as a run with the model would store it
    for row in project.query("SELECT * FROM scores WHERE metric = 'syntactic_cosine'"):
        project.insert("scores", sample_id=row["sample_id"], modality=row["modality"],
                       pair=row["pair"], metric="semantic_cosine", scorer="all-MiniLM-L6-v2",
                       value=min(1.0, (row["value"] or 0) + 0.3),
                       response_a_id=row["response_a_id"], response_b_id=row["response_b_id"],
                       details_json="{}", created_at=0.0)


def _open(qtbot, ctx, tmp_path, scores=True):
    project, ids = make_project(tmp_path / "p", noise={(0, "unimodal"): [
        "The baby crawling is normal; no danger.", "Crawling babies are safe.", "All fine."]})
    if scores:
        _store_scores(project)
    panel = ResultsPanel(ctx)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(ctx.runner.finished, timeout=20000):
        ctx.set_project(project)
    return panel, ids


def test_stored_scores_show_without_scoring(qtbot, ctx, tmp_path):
    panel, _ids = _open(qtbot, ctx, tmp_path)
    assert panel.table_view.rowCount() == 2 * len(METRICS)
    assert panel.table_view.cell_text(0, "modality") == "unimodal"
    assert panel.table_view.cell_text(0, "paper_mean") == "0.7019"
    assert panel.table_view.cell_text(0, "n") == "3"
    assert panel.paired_view.rowCount() == len(METRICS)
    assert panel.scatter_plot.point_count() == 6
    assert panel.distribution_plot.point_count() == 6
    panel.metric_combo.setCurrentText("syntactic_cosine")
    assert panel.drift_plot.point_count() == 1
    assert "Effective n" in panel.n_label.text()
    assert "6 answer pair(s)" in panel.message_label.text()
    assert panel.score_button.isEnabled() and panel.export_table_button.isEnabled()


def test_clicking_a_point_requests_its_sample(qtbot, ctx, tmp_path):
    panel, ids = _open(qtbot, ctx, tmp_path)
    item = panel.scatter_plot.series["multimodal"]
    point = item.points()[0]
    with qtbot.waitSignal(ctx.sample_requested) as blocker:
        item.sigClicked.emit(item, [point], None)
    assert blocker.args[1] == "multimodal" and blocker.args[0] in ids


def test_score_button_scores_and_reloads(qtbot, ctx, tmp_path, monkeypatch):
    panel, _ids = _open(qtbot, ctx, tmp_path, scores=False)
    assert panel.table_view.cell_text(0, "n") == "0"
    monkeypatch.setattr(panel, "score_config", lambda: ScoreConfig(metrics=CHEAP))
    with qtbot.waitSignal(ctx.runner.finished, timeout=20000):
        panel.score_button.click()
    qtbot.waitUntil(lambda: panel.table_view.cell_text(0, "n") == "3", timeout=20000)
    assert "scores added" in panel.message_label.text()


def test_bad_model_name_is_shown(qtbot, ctx, tmp_path):
    panel, _ids = _open(qtbot, ctx, tmp_path)
    panel.model_combo.setCurrentText("   ")
    panel.score_button.click()
    assert "semantic model must be" in panel.message_label.text()
    assert not ctx.runner.busy


def test_exports(qtbot, ctx, tmp_path):
    panel, _ids = _open(qtbot, ctx, tmp_path)
    for suffix, marker in ((".csv", "modality,metric"), (".md", "| modality |"),
                           (".tex", "\\begin{tabular}")):
        assert marker in panel.export_table(tmp_path / f"t{suffix}").read_text()
    for index in range(panel.plot_tabs.count()):
        panel.plot_tabs.setCurrentIndex(index)
        png = panel.export_figure(tmp_path / f"f{index}.png")
        assert png.read_bytes()[:4] == b"\x89PNG"
    svg = panel.export_figure(tmp_path / "f.svg")
    assert "<svg" in svg.read_text()
    with pytest.raises(InputError, match="must end in .png or .svg"):
        panel.export_figure(tmp_path / "f.jpg")
    with pytest.raises(InputError, match="must end in .csv, .md, .tex"):
        panel.export_table(tmp_path / "t.xls")


def test_without_a_project(qtbot, ctx):
    panel = ResultsPanel(ctx)
    qtbot.addWidget(panel)
    assert "Open or create a project" in panel.message_label.text()
    assert not panel.score_button.isEnabled()
    with pytest.raises(InputError, match="no results to export yet"):
        panel.export_table("x.csv")


def test_table3_key_columns_fit_and_the_rest_on_demand(qtbot, ctx, tmp_path):
    panel, _ids = _open(qtbot, ctx, tmp_path)
    view = panel.table_view
    assert view.shown_columns() == ["modality", "metric", "n", "mean", "std", "ci95",
                                    "paper_mean", "note"]
    assert view.cell_text(0, "ci95").startswith("[")
    view.show_columns(view.columns)
    assert "var" in view.shown_columns() and "ci_method" in view.shown_columns()
    menu = view.columns_menu()
    assert "95% CI" in [a.text() for a in menu.actions()]
    view.show_columns(None)
    assert "var" not in view.shown_columns()
    assert "Answers from" in panel.used_label.text()


def test_every_table_exports_in_three_formats(qtbot, ctx, tmp_path):
    panel, _ids = _open(qtbot, ctx, tmp_path)
    for index in range(panel.table_tabs.count()):
        csv_text = panel.export_records(index, tmp_path / f"t{index}.csv").read_text()
        assert csv_text.splitlines()[0].startswith(("modality", "metric"))
        assert "| " in panel.export_records(index, tmp_path / f"t{index}.md").read_text()
        assert "\\toprule" in panel.export_records(index, tmp_path / f"t{index}.tex").read_text()
    names = {a.objectName() for a in panel.export_menu.findChildren(type(panel.export_menu
                                                                        .actions()[0]))}
    assert {"export-table-1-tex", "export-figure--1-svg", "export-evaluation--1-csv"} <= names
    with pytest.raises(InputError, match="must end in .csv, .md, .tex"):
        panel.export_records(0, tmp_path / "t.xls")


def test_rows_without_pairs_say_why():
    from harlab.study.views import ArmItems
    from ui.widgets.results_tables import table3_display

    arms = {"multimodal": ArmItems("multimodal", 4, skipped=4,
                                   reasons={"the model cannot see images": 4})}
    rows = table3_display([{"modality": "multimodal", "n": 0, "note": "", "ci_low": None,
                            "ci_high": None}], arms)
    assert rows[0]["note"] == "no ok answer pairs: the model cannot see images (4)"
    assert rows[0]["ci95"] == ""
