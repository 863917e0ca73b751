"""The File menu's project actions: evaluation.csv, bundle, verify, info, re-point."""

from __future__ import annotations

import csv

from PySide6.QtWidgets import QMainWindow

from tests.core.test_scoring_fixtures import make_project
from ui.file_actions import ProjectFileActions


def _actions(qtbot, ctx):
    window = QMainWindow()
    qtbot.addWidget(window)
    actions = ProjectFileActions(ctx, window)
    actions.add_to(window.menuBar().addMenu("File"))
    said = []
    actions._say = lambda title, text, *_: said.append((title, text))
    return actions, said


def test_actions_need_a_project_except_verify(qtbot, ctx, tmp_path):
    actions, _said = _actions(qtbot, ctx)
    assert [k for k, a in actions.actions.items() if a.isEnabled()] == ["verify"]
    project, _ids = make_project(tmp_path / "p")
    ctx.set_project(project)
    assert all(a.isEnabled() for a in actions.actions.values())


def test_evaluation_csv_info_and_a_refused_repoint(qtbot, ctx, tmp_path):
    actions, said = _actions(qtbot, ctx)
    project, ids = make_project(tmp_path / "p")
    ctx.set_project(project)
    with qtbot.waitSignal(ctx.runner.finished, timeout=60000):
        actions.export_evaluation(tmp_path / "evaluation.csv")
    rows = list(csv.DictReader(open(tmp_path / "evaluation.csv", encoding="utf-8")))
    assert len(rows) == 2 * len(ids) and "semantic_cosine" in rows[0]
    with qtbot.waitSignal(ctx.runner.finished, timeout=60000):
        actions._on_info()
    assert "3 of 3 answered" in said[-1][1] and "rows: runs" in said[-1][1]
    assert not actions.repoint(tmp_path / "nowhere")
    assert said[-1][0] == "Not re-pointed"


def test_bundle_then_verify(qtbot, ctx, tmp_path):
    from harlab import jobs
    from ui.file_actions import bundle_job, verify_job

    project, _ids = make_project(tmp_path / "p")
    bundle = jobs.run(bundle_job(project, tmp_path / "b.zip"))
    assert bundle.is_file()
    report = jobs.run(verify_job(bundle))
    assert report.lines
    project.close()
