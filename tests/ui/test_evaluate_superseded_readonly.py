"""The Evaluate panel shows a superseded pair read-only: its ratings are visible, the form is
disabled with one line saying why and how to make it current again, rating keys do nothing
else, and navigation still works; a pair replaced while it was on screen is refused too."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from harlab.rating import answers_for, find_annotator, load_rubric
from harlab.rating.itemlog import item_log
from harlab.rating.pending import REJECTED
from harlab.rating.supersede import follow_newest
from tests.core.test_rating_fixtures import add_answer, make_project
from tests.ui.test_evaluate_panel import keys, start
from ui.panels.evaluate_panel import EvaluatePanel

FULL = ("1", "2", "2", "5", "3", "4", "2")  # every required question of the bundled rubric


@pytest.fixture
def panel(qtbot, ctx, tmp_path):
    ctx.set_project(make_project(tmp_path / "p", n_samples=2))
    widget = EvaluatePanel(ctx)
    qtbot.addWidget(widget)
    widget.resize(1100, 760)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _reask_use_new(project, item):
    """What "Ask again, use the new answers" leaves in the store."""
    follow_newest(project, item.sample_id, item.modality)
    for variant in ("original", "attacked"):
        add_answer(project, item.sample_id, item.modality, variant, f"new {variant}")


def _stored(ctx, item):
    return answers_for(ctx.project, find_annotator(ctx.project, "Ada"), item, load_rubric(),
                       shown=False)


def _stored_shown(ctx, panel, item):
    return answers_for(ctx.project, panel.annotator, item, load_rubric())


def test_a_superseded_pair_opens_read_only_and_keys_change_nothing(qtbot, ctx, panel):
    start(qtbot, panel)
    rated = panel.current_item()
    keys(qtbot, panel, *FULL)
    before = _stored(ctx, rated)
    assert len(before) == 7
    _reask_use_new(ctx.project, rated)
    panel.hide()
    panel.show()  # back to the tab: the list is read again
    item = panel.current_item()
    assert (item.original_id, item.superseded) == (rated.original_id, True)
    assert not panel.form.isEnabled()
    assert panel.form.answers == _stored_shown(ctx, panel, item)  # its ratings are shown
    line = panel.read_only_label.text()
    assert panel.read_only_label.isVisibleTo(panel) and "Read-only" in line
    assert "replaced by a re-ask" in line and (
        f"harlab rate use-pair --project PROJECT --sample {rated.sample_id} --modality "
        f"{rated.modality} --original {rated.original_id} --attacked {rated.attacked_id}") in line
    keys(qtbot, panel, "5", "1", Qt.Key.Key_Down, "3")
    assert _stored(ctx, rated) == before
    assert "Read-only" in panel.message_label.text()
    keys(qtbot, panel, "s")
    assert not panel.reason_bar.isVisible()
    keys(qtbot, panel, "f", Qt.Key.Key_Return)
    assert not panel.reason_bar.isVisible()
    assert not any(e.hasFocus() for e in panel.form.text_edits.values())
    log = item_log(ctx.project, panel.annotator, item)
    assert not log.skipped and log.flag is None and _stored(ctx, rated) == before
    keys(qtbot, panel, "p")  # navigation still works, and the current pair is rateable
    assert panel.current_item() != item and panel.form.isEnabled()
    assert not panel.read_only_label.isVisibleTo(panel)
    keys(qtbot, panel, "n")
    assert panel.current_item() == item and not panel.form.isEnabled()


def test_a_pair_replaced_while_on_screen_refuses_the_answer_and_turns_read_only(
        qtbot, ctx, panel):
    start(qtbot, panel)
    item = panel.current_item()
    keys(qtbot, panel, "1")
    before = _stored(ctx, item)
    _reask_use_new(ctx.project, item)  # another window re-asks; this one still lists it
    assert panel.form.isEnabled()
    keys(qtbot, panel, "2")
    qtbot.waitUntil(lambda: not panel.form.isEnabled(), timeout=3000)  # listed again
    assert panel.current_item().original_id == item.original_id
    assert panel.current_item().superseded
    assert _stored(ctx, item) == before
    assert "set aside in ratings.rejected.jsonl" in panel.message_label.text()
    assert "not saved" in panel.saved_label.text()
    (kept,) = [json.loads(line) for line in
               (ctx.project.root / REJECTED).read_text(encoding="utf-8").splitlines()]
    assert kept["original_id"] == item.original_id and "re-ask" in kept["reason"]
