"""Issue 19: 'Ask again' on a rated pair asks first, makes a new draw, and keeps the ratings."""

from __future__ import annotations

import json

import pytest

from harlab.rating import get_annotator, items, load_rubric, record_answer
from harlab.rating.tables import ratings_long
from tests.llm_server import FakeLLMServer
from tests.ui.test_responses_panel import _panel, _point_at
from ui.widgets import reask_dialog


def _seeded(body):
    return f"answer for seed {body.get('seed')} to {json.dumps(body['messages'])[:20]}"


@pytest.fixture
def server():
    with FakeLLMServer(reply=_seeded) as srv:
        yield srv


@pytest.mark.parametrize("choice", [None, reask_dialog.USE_NEW, reask_dialog.KEEP_RATED])
def test_ask_again_after_rating_confirms_and_keeps_ratings(qtbot, ctx, server, tmp_path,
                                                           monkeypatch, choice):
    _point_at(ctx, server)
    panel = _panel(qtbot, ctx, tmp_path)
    with qtbot.waitSignal(ctx.runner.finished, timeout=20000):
        panel.ask_button.click()
    project = ctx.project
    rated = [i for i in items(project) if i.modality == "unimodal"][0]
    record_answer(project, get_annotator(project, "Ada"), rated, "meaning_change", "4",
                  load_rubric())
    asked = []
    monkeypatch.setattr("ui.panels.responses_panel.confirm_reask",
                        lambda _parent, text: (asked.append(text), choice)[1])
    n_requests = len(server.requests)
    if choice is None:
        panel.cells[("unimodal", "original")].retry_button.click()
        assert len(server.requests) == n_requests  # cancelled: nothing asked
    else:
        with qtbot.waitSignal(ctx.runner.finished, timeout=20000):
            panel.cells[("unimodal", "original")].retry_button.click()
        assert len(server.requests) == n_requests + 2
        seeds = {b["seed"] for b in server.requests[-2:]}
        assert not seeds & {b["seed"] for b in server.requests[:n_requests]}  # new draw
    assert "1 rubric answer(s) by Ada" in asked[0]
    (rating_row,) = ratings_long(project)  # the rating is never lost
    current = [i for i in items(project) if i.modality == "unimodal" and not i.superseded][0]
    if choice == reask_dialog.USE_NEW:
        assert not rating_row["current"] and current.original_id != rated.original_id
        assert "superseded rated answers kept" in panel.similarity_labels["unimodal"].text()
    else:
        assert rating_row["current"] and current.original_id == rated.original_id
