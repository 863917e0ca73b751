"""The Evaluate panel: rate items blind with the keyboard alone; every answer is in the store."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from harlab.rating import answers_for, blind_order, find_annotator, items, load_rubric
from harlab.rating.itemlog import set_blind_policy
from tests.core.test_rating_fixtures import make_project
from ui.panels.evaluate_panel import EvaluatePanel


@pytest.fixture
def panel(qtbot, ctx, tmp_path):
    ctx.set_project(make_project(tmp_path / "p", n_samples=2, frames=True))
    widget = EvaluatePanel(ctx)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def keys(qtbot, widget, *sequence):
    for key in sequence:
        qtbot.keyClick(widget, key)


def start(qtbot, panel, name="Ada"):
    panel.annotator_combo.lineEdit().setFocus()
    qtbot.keyClicks(panel.annotator_combo.lineEdit(), name)
    qtbot.keyClick(panel.annotator_combo.lineEdit(), Qt.Key.Key_Return)
    assert panel.annotator is not None and panel.annotator.name == name


def test_rate_items_with_the_keyboard_alone(qtbot, ctx, panel):
    assert "Type your name" in panel.message_label.text()
    start(qtbot, panel)
    assert panel.position_label.text().startswith("Item 1 of 4")
    assert "0 / 4" in panel.progress_label.text()
    assert panel.pair_view.a.title() == "A" and panel.pair_view.b.title() == "B"
    assert "stay hidden" in panel.details_label.text()
    first = panel.current_item()
    # action A yes, action B no, hazard A 2, hazard B 5, change major (3), meaning 4,
    # better fit B (2), then a note
    keys(qtbot, panel, "1", "2", "2", "5", "3", "4", "2")
    assert "saved" in panel.saved_label.text()
    assert "1 / 4" in panel.progress_label.text()
    assert first.true_label in panel.details_label.text()  # revealed once rated
    assert "sealed until the ratings are exported" in panel.details_label.text()
    keys(qtbot, panel, Qt.Key.Key_Return)
    qtbot.keyClicks(panel.form.text_edits["notes"], "B panics")
    qtbot.keyClick(panel.form.text_edits["notes"], Qt.Key.Key_Return)
    project = ctx.project
    rubric = load_rubric()
    ann = find_annotator(project, "Ada")
    a_is = blind_order(project, ann, first)
    b_is = "attacked" if a_is == "original" else "original"
    stored = answers_for(project, ann, first, rubric, shown=False)
    assert stored == {f"action_correct.{a_is}": "yes", f"action_correct.{b_is}": "no",
                      f"hazard.{a_is}": "2", f"hazard.{b_is}": "5", "action_change": "major",
                      "meaning_change": "4", "better_fit": b_is, "notes": "B panics"}
    assert panel.pair_view.a.text.toPlainText() == first.text(a_is)
    # next item with n, answer one question, go back with p: the answers are shown
    keys(qtbot, panel, "n")
    assert panel.position_label.text().startswith("Item 2 of 4")
    keys(qtbot, panel, "1")
    keys(qtbot, panel, Qt.Key.Key_Left)
    assert panel.form.answers["hazard.B"] == "5"
    keys(qtbot, panel, "u")  # the next item not fully rated
    assert panel.position_label.text().startswith("Item 2 of 4")
    keys(qtbot, panel, Qt.Key.Key_Right, Qt.Key.Key_Down, "3", "2")  # 3: no such answer
    third = panel.current_item()
    assert answers_for(project, ann, third, rubric) == {"action_correct.B": "no"}


def test_filters_blind_off_and_frames(qtbot, ctx, panel):
    start(qtbot, panel, "Bob")
    panel.modality_combo.setCurrentText("multimodal")
    assert len(panel.items) == 2 and panel.current_item().modality == "multimodal"
    panel.class_combo.setCurrentText("Biking")
    assert [i.true_label for i in panel.items] == ["Biking"]
    panel.class_combo.setCurrentText("(all)")
    keys(qtbot, panel, "1", "1", "1", "1", "1", "1", "1")  # fully rated
    panel.status_combo.setCurrentText("unrated")
    assert len(panel.items) == 1
    panel.status_combo.setCurrentText("rated")
    assert len(panel.items) == 1
    assert not panel.blind_check.isEnabled()  # blind mode is locked by default
    set_blind_policy(ctx.project, "optional")
    panel.reload()
    panel.annotator_combo.setEditText("")
    start(qtbot, panel, "Bob")
    panel.status_combo.setCurrentText("rated")
    panel.blind_check.setChecked(False)
    assert panel.pair_view.a.title() in ("A · original", "A · attacked")
    panel.frames_check.setChecked(True)
    assert panel.pair_view.a.frames.count() == 2  # one thumbnail + stretch
    assert "True action" in panel.details_label.text() and "unblinded" in (
        panel.details_label.text())
    again = EvaluatePanel(ctx)  # frames are remembered; unblinding never is
    qtbot.addWidget(again)
    assert again.blind_check.isChecked() and again.frames_check.isChecked()


def test_annotator_is_remembered_and_bad_names_are_shown(qtbot, ctx, panel):
    panel.annotator_combo.setEditText("   ")
    panel.start_button.click()
    assert panel.annotator is None and "1 to 64 characters" in panel.message_label.text()
    start(qtbot, panel, "Carol")
    assert ctx.settings.value("evaluate/annotator") == "Carol"
    again = EvaluatePanel(ctx)
    qtbot.addWidget(again)
    assert again.annotator_combo.currentText() == "Carol" and again.annotator is None
    assert [again.annotator_combo.itemText(i) for i in range(again.annotator_combo.count())] \
        == ["Carol"]
    assert len(items(ctx.project)) == 4


def test_no_project(qtbot, ctx):
    panel = EvaluatePanel(ctx)
    qtbot.addWidget(panel)
    assert "Open a project" in panel.message_label.text()
    panel.start_button.click()
    qtbot.keyClick(panel, "1")
    assert panel.annotator is None
