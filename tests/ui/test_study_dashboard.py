"""The Overview tab as the study dashboard: stage states, counts, the Run button, tab links."""

from __future__ import annotations

import json

from harlab.study.config import StudyConfig
from harlab.study.runner import _mark
from tests.core.test_scoring_fixtures import add_answer, make_project
from ui.panels.study_dashboard import StudyDashboard


def _cells(board: StudyDashboard) -> dict[str, tuple[str, str]]:
    t = board.stages
    return {t.item(i, 0).text(): (t.item(i, 1).text(), t.item(i, 2).text())
            for i in range(t.rowCount())}


def test_without_a_project_it_offers_the_demo(qtbot, ctx):
    board = StudyDashboard(ctx)
    qtbot.addWidget(board)
    assert not board.demo_button.isHidden() and not board.run_button.isEnabled()
    assert board.stages.rowCount() == 0 and "No project is open" in board.header.text()


def test_a_project_shows_each_stage_state_and_what_it_holds(qtbot, ctx, tmp_path):
    project, _ids = make_project(tmp_path / "p")
    config = StudyConfig.demo(per_class=2)
    project.set_meta("study/config", json.dumps(config.to_dict()))
    for stage in ("data", "classifier", "samples"):
        _mark(project, config, stage)
    board = StudyDashboard(ctx)
    qtbot.addWidget(board)
    with qtbot.waitSignal(board.loaded, timeout=20000):
        ctx.set_project(project)
        assert not board.run_button.isEnabled() and "Loading" in board.header.text()
    cells = _cells(board)
    assert cells["Data"][0] == "done" and cells["Samples"][0] == "done"
    assert cells["Language model"][0] == "todo" and cells["Scores"][0] == "todo"
    assert "BabyCrawling 2/2" in cells["Samples"][1] and "Biking 1/2" in cells["Samples"][1]
    assert "unimodal: 3 of 3 answered" in cells["Language model"][1]
    assert "8/255" in board.settings_label.text() and board.run_button.isEnabled()
    assert "not asked" not in board.settings_label.text()
    for sid in _ids:  # a text-only model: the multimodal arm is skipped, with how to enable it
        for variant in ("original", "attacked"):
            add_answer(project, sid, "multimodal", variant, None, status="skipped")
    with qtbot.waitSignal(board.loaded, timeout=20000):
        board.refresh()
    assert "multimodal: not asked (3 of 3 skipped): boom" in board.settings_label.text()
    project.set_meta("study/config", json.dumps(StudyConfig.demo(per_class=2,
                                                                 eps="4/255").to_dict()))
    with qtbot.waitSignal(board.loaded, timeout=20000):
        board.refresh()
    assert _cells(board)["Samples"][0] == "stale"  # a changed eps invalidates the samples
    assert _cells(board)["Data"][0] == "done"
    with qtbot.waitSignal(board.open_tab) as opened:
        next(b for b in board.findChildren(type(board.run_button))
             if b.text().startswith("Results")).click()
    assert opened.args == ["Results"]


def test_loading_a_study_config_marks_what_it_changes(qtbot, ctx, tmp_path):
    project, _ids = make_project(tmp_path / "p")
    config = StudyConfig.demo(per_class=2)
    project.set_meta("study/config", json.dumps(config.to_dict()))
    for stage in ("data", "classifier", "samples", "query", "score"):
        _mark(project, config, stage)
    board = StudyDashboard(ctx)
    qtbot.addWidget(board)
    with qtbot.waitSignal(board.loaded, timeout=20000):
        ctx.set_project(project)
    assert {state for state, _ in _cells(board).values()} == {"done"}
    edited = tmp_path / "s.yaml"
    StudyConfig.demo(per_class=2, noise_floor=3).save(edited)
    with qtbot.waitSignal(board.loaded, timeout=20000):
        board.load_config(edited)
    states = {stage: state for stage, (state, _) in _cells(board).items()}
    assert states["Samples"] == "done" and states["Language model"] == "stale"
    assert states["Scores"] == "stale" and "loaded from" in board.status.text()
    bad = tmp_path / "bad.yaml"
    bad.write_text("per_class: lots\n")
    board.load_config(bad)
    assert "Not loaded" in board.status.text() and "per_class" in board.status.text()


def test_estimate_says_what_the_llm_stage_would_send(qtbot, ctx, tmp_path):
    project, _ids = make_project(tmp_path / "p")
    project.set_meta("study/config", json.dumps(StudyConfig.demo(per_class=2).to_dict()))
    board = StudyDashboard(ctx)
    qtbot.addWidget(board)
    with qtbot.waitSignal(board.loaded, timeout=20000):
        ctx.set_project(project)
    with qtbot.waitSignal(ctx.runner.finished, timeout=60000):
        board.estimate_button.click()
    text = board.status.text()
    assert "<b>unimodal</b>" in text and "requests to send" in text, text
