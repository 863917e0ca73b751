"""The Responses panel's Batch API choice (issue 21), against the loopback fake Batch API."""

from __future__ import annotations

import json

import pytest

from harlab.llm.batch import pending_batches
from harlab.store import Project
from tests.core.test_llm_batch import FakeBatchAPI
from tests.llm_server import FakeLLMServer, add_samples
from ui.panels.responses_panel import ResponsesPanel

PAIRS = (("BabyCrawling", "BabyCrawling", "CuttingInKitchen"),)


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("HARLAB_TEST_KEY", "sk-test")  # the fake checks no key; openai wants one
    proj = Project.create(tmp_path / "p")
    add_samples(proj, PAIRS, size=16)
    yield proj
    proj.close()


def _panel(qtbot, ctx, project, provider: str, base_url: str) -> ResponsesPanel:
    values = {"llm/provider": provider, "llm/base_url": base_url, "llm/model": "gpt-4o",
              "llm/api_key_env": "HARLAB_TEST_KEY", "llm/concurrency": 2, "llm/max_retries": 0}
    for key, value in values.items():
        ctx.settings.setValue(key, value)
    ctx.set_project(project)
    panel = ResponsesPanel(ctx)
    qtbot.addWidget(panel)
    panel.noise_spin.setValue(0)
    panel.batch_poll_s = 0.01
    return panel


def _ask(qtbot, ctx, panel: ResponsesPanel) -> None:
    with qtbot.waitSignal(ctx.runner.finished, timeout=20000):
        panel.ask_button.click()


def test_the_batch_choice_is_offered_for_openai_only(qtbot, ctx, project):
    ctx.set_project(project)
    builtin = ResponsesPanel(ctx)  # the default settings: the built-in model
    qtbot.addWidget(builtin)
    assert not builtin.batch_check.isEnabled()
    assert "Only for the openai provider" in builtin.batch_check.toolTip()
    with FakeLLMServer() as server:
        panel = _panel(qtbot, ctx, project, "vllm", server.base_url)
        assert not panel.batch_check.isEnabled()
        panel.batch_check.setChecked(True)  # ticked earlier, for openai: not sent now
        _ask(qtbot, ctx, panel)
        assert len(server.requests) == 4  # asked directly
    assert "batch_api" not in json.loads(project.runs("query")[-1]["config_json"])
    panel = _panel(qtbot, ctx, project, "openai", "https://api.openai.com/v1")
    check = panel.batch_check
    assert check.isEnabled() and check.text() == "Batch API (half price, up to 24 h)"
    assert "resumes it" in check.toolTip() and "next identical Ask" in check.toolTip()


def test_ask_sends_through_the_batch_api(qtbot, ctx, project):
    with FakeBatchAPI(polls=1) as api:
        panel = _panel(qtbot, ctx, project, "openai", api.base_url)
        panel.batch_check.setChecked(True)
        _ask(qtbot, ctx, panel)
        assert len(api.uploads) == 1 and len(api.batches) == 1
        assert len(api.uploads[0].splitlines()) == 4
    assert {c.status for c in panel.cells.values()} == {"ok"}
    assert panel.cells[("unimodal", "original")].response_view.plain.startswith("answer to: ")
    assert "4 asked" in panel.message_label.text()
    run = project.runs("query")[-1]
    assert run["status"] == "done" and json.loads(run["config_json"])["batch_api"] is True
    assert pending_batches(project) == []


def test_a_stopped_batch_is_resumed_by_the_next_ask(qtbot, ctx, project):
    with FakeBatchAPI(polls=10**6) as api:
        panel = _panel(qtbot, ctx, project, "openai", api.base_url)
        panel.batch_check.setChecked(True)
        panel.ask_button.click()
        qtbot.waitUntil(lambda: api.retrieves >= 2, timeout=20000)
        with qtbot.waitSignal(ctx.runner.finished, timeout=20000):
            panel.stop_button.click()
        assert project.runs("query")[-1]["status"] == "cancelled"
        (pending,) = pending_batches(project, api.base_url)
        assert len(pending.keys) == 4
        assert {c.status for c in panel.cells.values()} == {"missing"}
        api.polls = 0  # the batch finished on the server while nothing watched it
        _ask(qtbot, ctx, panel)
        assert len(api.uploads) == 1 and len(api.batches) == 1  # picked up, not resent
    assert {c.status for c in panel.cells.values()} == {"ok"}
    assert pending_batches(project) == []
