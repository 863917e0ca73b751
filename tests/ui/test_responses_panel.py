"""The Responses panel: ask, read the 2x2 view with its word diff, retry, stop, scenarios."""

from __future__ import annotations

import html
import json
import re

import pytest
from PySide6.QtCore import QSettings

from harlab.llm.records import RequestRecord
from harlab.store import Project
from tests.llm_server import FakeLLMServer, add_samples
from ui.context import AppContext
from ui.panels.responses_panel import ResponsesPanel, config_from_settings
from ui.widgets.response_cell import ResponseCell
from ui.widgets.scenario_editor import ScenarioEditorDialog
from ui.widgets.word_diff import (
    ADDED_BACKGROUND,
    REMOVED_BACKGROUND,
    diff_html,
    word_opcodes,
    word_similarity,
)


def _reply(body):
    text = json.dumps(body["messages"])
    return "the baby is in danger now" if "CuttingInKitchen" in text else "the baby is safe"


@pytest.fixture
def server():
    with FakeLLMServer(reply=_reply) as srv:
        yield srv


def _point_at(ctx, server, **extra):
    values = {"llm/provider": "vllm", "llm/base_url": server.base_url, "llm/model": "gpt-4o",
              "llm/api_key_env": "", "llm/concurrency": 2, **extra}
    for key, value in values.items():
        ctx.settings.setValue(key, value)


def _plain(rich: str) -> str:
    """A label's rich text as read on screen (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", rich))


def _panel(qtbot, ctx, tmp_path, labels=(("BabyCrawling", "BabyCrawling", "CuttingInKitchen"),)):
    project = Project.create(tmp_path / "p")
    add_samples(project, labels, size=16)
    ctx.set_project(project)
    panel = ResponsesPanel(ctx)
    qtbot.addWidget(panel)
    return panel


def test_ask_fills_the_four_cells_with_a_word_diff(qtbot, ctx, server, tmp_path):
    _point_at(ctx, server)
    panel = _panel(qtbot, ctx, tmp_path)
    assert panel.cells[("unimodal", "original")].status == "missing"
    assert panel.noise_spin.value() == 2  # the noise floor is asked by default (issue 20)
    panel.noise_spin.setValue(0)
    with qtbot.waitSignal(ctx.runner.finished, timeout=20000):
        panel.ask_button.click()
    cells = panel.cells
    assert {c.status for c in cells.values()} == {"ok"}
    assert cells[("unimodal", "original")].response_view.plain == "the baby is safe"
    assert cells[("unimodal", "attacked")].response_view.plain == "the baby is in danger now"
    assert "CuttingInKitchen" in cells[("unimodal", "attacked")].prompt_label.text()
    assert cells[("multimodal", "attacked")].thumbs.count() == 3  # 2 frames + stretch
    # issue 21: dropped words on soft red, added ones on soft green, nothing struck through
    original = cells[("unimodal", "original")].response_view.toHtml()
    attacked = cells[("unimodal", "attacked")].response_view.toHtml()
    assert re.search(r"background-color:#f8d0d0;\">safe</span>", original)
    assert re.search(r"background-color:#c9f0c9;\">in danger now</span>", attacked)
    assert "line-through" not in original + attacked
    assert ("red: only in the original, green: only in the attacked answer"
            in _plain(panel.similarity_labels["unimodal"].text()))
    # the difflib word-overlap ratio gave way to the stored scores (issue 9)
    assert "Not scored yet" in panel.similarity_labels["unimodal"].text()
    assert "4 asked" in panel.message_label.text() and "4/4 ok" in panel.sample_list.item(0).text()
    assert len(server.requests) == 4


def test_failed_cell_is_retried(qtbot, ctx, server, tmp_path):
    _point_at(ctx, server)
    server.faults.extend(["400"] * 2)  # not retried: both unimodal requests fail at once
    panel = _panel(qtbot, ctx, tmp_path)
    panel.modality_checks["multimodal"].setChecked(False)
    with qtbot.waitSignal(ctx.runner.finished, timeout=20000):
        panel.ask_button.click()
    cell = panel.cells[("unimodal", "original")]
    assert cell.status == "failed" and "HTTP 400" in cell.status_label.text()
    assert cell.retry_button.text() == "Retry" and cell.retry_button.isEnabled()
    with qtbot.waitSignal(ctx.runner.finished, timeout=20000):
        cell.retry_button.click()
    assert cell.status == "ok" and panel.cells[("unimodal", "attacked")].status == "ok"


def test_text_only_model_shows_skipped_multimodal(qtbot, ctx, server, tmp_path):
    _point_at(ctx, server, **{"llm/model": "plain-text-model"})
    panel = _panel(qtbot, ctx, tmp_path)
    assert "(text only)" in panel.model_label.text()
    with qtbot.waitSignal(ctx.runner.finished, timeout=20000):
        panel.ask_button.click()
    cell = panel.cells[("multimodal", "original")]
    assert cell.status == "skipped" and "skipped" in cell.status_label.text()
    assert not cell.retry_button.isEnabled() and cell.response_view.plain == ""
    # issue 21: the reason, the same for both sides, is stated once, below the pair
    reason = ctx.project.query_one("SELECT error FROM llm_requests WHERE status = 'skipped'")[0]
    assert "cannot take images" in reason
    shown = [_plain(w.text()) for c in (cell, panel.cells[("multimodal", "attacked")])
             for w in (c.status_label, c.prompt_label)]
    shown += [cell.response_view.placeholderText(), _plain(panel.similarity_labels[
        "multimodal"].text())]
    assert sum(text.count(reason) for text in shown) == 1
    assert _plain(panel.similarity_labels["multimodal"].text()) == f"Both skipped: {reason}"
    assert "skipped" not in cell.response_view.placeholderText()


def test_a_cell_alone_states_its_skip_reason_once(qtbot):
    cell = ResponseCell("multimodal", "attacked")
    qtbot.addWidget(cell)
    reason = "no scenario <video> for label 'X'"
    cell.set_request(RequestRecord(
        id=1, sample_id=1, modality="multimodal", variant="attacked", status="skipped",
        provider="vllm", model="m", response_text=None, error=reason, prompt="",
        prompt_tokens=None, completion_tokens=None, latency_s=None, attempts=0,
        cached=False), [], "")
    assert _plain(cell.status_label.text()) == f"skipped · {reason}"
    assert reason not in cell.response_view.placeholderText()
    assert cell.response_view.placeholderText() == "no answer"


def test_stop_keeps_what_finished(qtbot, ctx, tmp_path):
    with FakeLLMServer(latency_s=0.3) as slow:
        _point_at(ctx, slow, **{"llm/concurrency": 1})
        labels = [(f"C{i}", f"C{i}", f"A{i}") for i in range(5)]
        panel = _panel(qtbot, ctx, tmp_path, labels)
        with qtbot.waitSignal(ctx.runner.progress, timeout=20000):
            panel.ask_button.click()
        assert panel.stop_button.isEnabled() and not panel.ask_button.isEnabled()
        with qtbot.waitSignal(ctx.runner.finished, timeout=20000):
            panel.stop_button.click()
        stored = ctx.project.query_one("SELECT count(*) FROM llm_requests WHERE "
                                       "status = 'ok'")[0]
        assert stored < 20 and ctx.project.runs("query")[-1]["status"] == "cancelled"
        assert panel.ask_button.isEnabled()


def test_bad_settings_are_shown_not_raised(qtbot, ctx, server, tmp_path):
    _point_at(ctx, server, **{"llm/temperature": "9"})
    panel = _panel(qtbot, ctx, tmp_path)
    assert "temperature must be a number" in panel.model_label.text()
    panel.ask_button.click()
    assert "temperature must be a number" in panel.message_label.text()
    assert not ctx.runner.busy


def test_config_from_settings_uses_only_stored_keys(ctx):
    assert config_from_settings(ctx).provider == "builtin"
    ctx.settings.setValue("llm/seed", "")
    assert config_from_settings(ctx).seed is None


def test_scenario_editor_rejects_bad_templates_and_saves_good_ones(qtbot, tmp_path):
    dialog = ScenarioEditorDialog(tmp_path)
    qtbot.addWidget(dialog)
    dialog.file_combo.setCurrentText("road_safety_monitoring.yaml")
    good = dialog.editor.toPlainText()
    dialog.editor.setPlainText(good.replace("is {label}", "is {labl}"))
    assert "unknown placeholder {labl}" in dialog.error_label.text()
    assert "line " in dialog.error_label.text() and not dialog.save_button.isEnabled()
    dialog.editor.setPlainText(good.replace("cyclist", "rider"))
    assert dialog.save_button.isEnabled()
    assert dialog._on_save_clicked()
    saved = (tmp_path / "scenarios" / "road_safety_monitoring.yaml").read_text()
    assert "rider" in saved and (tmp_path / "scenarios" / "smart_home_security.yaml").exists()


def test_word_diff_helpers():
    ops = word_opcodes("the baby is safe", "the baby is in danger")
    assert ops[0] == ("equal", "the baby is", "the baby is")
    assert ops[1] == ("replace", "safe", "in danger")
    left, right = diff_html("a <b> c", "a <b> d")
    assert "&lt;b&gt;" in left and "d</span>" in right
    assert f"{REMOVED_BACKGROUND};color:#1a1a1a;\">c</span>" in left and "line-through" not in left
    assert f"{ADDED_BACKGROUND};color:#1a1a1a;\">d</span>" in right
    assert word_similarity("", "") == 1.0 and word_similarity("a", "b") == 0.0


def test_noise_floor_is_summarised(qtbot, ctx, server, tmp_path):
    _point_at(ctx, server)
    panel = _panel(qtbot, ctx, tmp_path)
    panel.modality_checks["multimodal"].setChecked(False)
    panel.noise_spin.setValue(2)
    with qtbot.waitSignal(ctx.runner.finished, timeout=20000):
        panel.ask_button.click()
    assert len(server.requests) == 4
    from harlab import jobs
    from harlab.scoring import ScoreConfig, score_project

    jobs.run(score_project(ctx.project, ScoreConfig(metrics=("syntactic_cosine",))))
    panel.reload()
    assert "noise floor (syntactic, original vs 2 re-draw(s) of itself) 1.000" in \
        panel.similarity_labels["unimodal"].text()


def test_stored_scores_show_beside_the_pair_and_results_clicks_select_the_sample(
        qtbot, tmp_path):

    from harlab import jobs
    from harlab.scoring import ScoreConfig, score_project
    from tests.core.test_scoring_fixtures import make_project
    from ui.panels.responses_panel import ResponsesPanel

    ctx = AppContext(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    project, ids = make_project(tmp_path / "p")
    panel = ResponsesPanel(ctx)
    qtbot.addWidget(panel)
    ctx.set_project(project)
    assert "Not scored yet" in panel.similarity_labels["unimodal"].text()
    jobs.run(score_project(project, ScoreConfig(metrics=("syntactic_cosine",
                                                         "decision_changed"))))
    ctx.sample_requested.emit(ids[2], "unimodal")
    assert panel.current_sample_id() == ids[2]
    text = panel.similarity_labels["unimodal"].text()
    assert "Syntactic cosine 0." in text and "semantic cosine n/a" in text
    ctx.runner.shutdown()
    project.close()
