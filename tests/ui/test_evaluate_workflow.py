"""Issue 19 and issue 17 #3 in the Evaluate panel: saving under a held lock, keys never
trapped, blind frames, unblinded marks, skip and flag, superseded pairs, and two annotators
exchanging files, seeing agreement and adjudicating, all from the GUI."""

from __future__ import annotations

import csv
import shutil
import sqlite3
import time

import pytest
from PySide6.QtCore import Qt

from harlab.rating import answers_for, find_annotator, items, load_rubric
from harlab.rating.itemlog import item_log, set_blind_policy
from harlab.rating.tables import ratings_long
from harlab.store import Project
from harlab.study.export import export_study
from tests.core.test_rating_fixtures import add_answer, make_project
from tests.ui.test_evaluate_panel import keys, start
from ui.panels.evaluate_panel import EvaluatePanel
from ui.widgets.ratings_dialog import RatingsDialog

FULL = ("1", "2", "2", "5", "3", "4", "2")  # every required question of the bundled rubric


@pytest.fixture
def panel(qtbot, ctx, tmp_path):
    ctx.set_project(make_project(tmp_path / "p", n_samples=2, frames=True))
    widget = EvaluatePanel(ctx)
    qtbot.addWidget(widget)
    widget.resize(1100, 760)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_a_held_lock_never_blocks_and_the_answer_is_retried(qtbot, ctx, panel):
    """Issue 17 #3: another process holds the write lock; the key returns at once, the mark
    says pending (not the previous answer's saved mark), and the retry stores the answer."""
    start(qtbot, panel)
    item = panel.current_item()
    keys(qtbot, panel, "1")
    assert "saved" in panel.saved_label.text()
    other = sqlite3.connect(ctx.project.db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    keys(qtbot, panel, "2")
    assert time.monotonic() - started < 2.0  # the GUI thread did not wait for the lock
    assert "pending" in panel.saved_label.text() and "✓" not in panel.saved_label.text()
    assert panel.form.answers["action_correct.B"] == "no"
    other.execute("COMMIT")
    other.close()
    qtbot.waitUntil(lambda: "✓ saved" in panel.saved_label.text(), timeout=5000)
    stored = answers_for(ctx.project, find_annotator(ctx.project, "Ada"), item, load_rubric())
    assert stored["action_correct.B"] == "no"


def test_start_under_a_held_lock_says_so_at_once(qtbot, ctx, panel):
    other = sqlite3.connect(ctx.project.db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    panel.annotator_combo.setEditText("Ada")
    panel.start_button.click()
    assert time.monotonic() - started < 2.0 and panel.annotator is None
    assert "busy" in panel.message_label.text()
    other.execute("COMMIT")
    other.close()
    panel.start_button.click()
    assert panel.annotator is not None and panel.current_item() is not None


def test_the_note_field_never_traps_the_keyboard(qtbot, ctx, panel):
    start(qtbot, panel)
    first = panel.current_item()
    keys(qtbot, panel, *FULL, Qt.Key.Key_Return)
    note = panel.form.text_edits["notes"]
    assert note.hasFocus()
    qtbot.keyClicks(note, "half a thought")
    qtbot.keyClick(note, Qt.Key.Key_Escape)  # leaves the field, keeping (and saving) the text
    assert not note.hasFocus() and panel.hasFocus()
    keys(qtbot, panel, "n")
    assert panel.current_item() != first
    keys(qtbot, panel, *FULL, Qt.Key.Key_Return)
    qtbot.keyClicks(panel.form.text_edits["notes"], "tabbed")
    qtbot.keyClick(panel.form.text_edits["notes"], Qt.Key.Key_Tab)
    assert panel.hasFocus()
    second = panel.current_item()
    keys(qtbot, panel, Qt.Key.Key_Return)
    qtbot.keyClicks(panel.form.text_edits["notes"], " and more")
    panel.next_button.click()  # the mouse moves on: the typed text is saved, not dropped
    ann = find_annotator(ctx.project, "Ada")
    rubric = load_rubric()
    assert answers_for(ctx.project, ann, first, rubric)["notes"] == "half a thought"
    assert answers_for(ctx.project, ann, second, rubric)["notes"] == "tabbed and more"


def test_page_down_scrolls_a_long_answer(qtbot, ctx, panel):
    project = ctx.project
    sid = items(project)[0].sample_id
    add_answer(project, sid, "unimodal", "original", "\n".join(f"line {n}" for n in range(300)))
    start(qtbot, panel)
    assert len(panel.pair_view.a.text.toPlainText()) > 1000 or len(
        panel.pair_view.b.text.toPlainText()) > 1000
    bars = [box.text.verticalScrollBar() for box in (panel.pair_view.a, panel.pair_view.b)]
    keys(qtbot, panel, Qt.Key.Key_PageDown)
    assert max(bar.value() for bar in bars) > 0
    keys(qtbot, panel, Qt.Key.Key_PageUp)
    assert max(bar.value() for bar in bars) == 0


def test_blind_mode_shows_identical_clean_frames_on_both_sides(qtbot, ctx, panel,
                                                               monkeypatch):
    shown = []
    original = panel.pair_view.show_pair
    monkeypatch.setattr(panel.pair_view, "show_pair",
                        lambda t, x, f=([], []): (shown.append(f), original(t, x, f)))
    panel.frames_check.setChecked(True)
    start(qtbot, panel)
    item = panel.current_item()
    clean = [ctx.project.abspath(p) for p in item.clean_frames]
    assert shown[-1] == (clean, clean) and item.adv_frames  # never the attacked frames
    assert panel.pair_view.a.frames.count() == panel.pair_view.b.frames.count() == 2
    set_blind_policy(ctx.project, "optional")
    panel.reload()
    panel.annotator_combo.setEditText("")
    start(qtbot, panel)
    panel.blind_check.setChecked(False)  # unblinded: each side's own frames, and marked
    assert shown[-1][0] != shown[-1][1]
    keys(qtbot, panel, "1")
    qtbot.waitUntil(lambda: "saved" in panel.saved_label.text(), timeout=3000)
    panel.blind_check.setChecked(True)  # blind again, but the key has been seen
    panel.setFocus()
    keys(qtbot, panel, "2")
    qtbot.waitUntil(lambda: len(ratings_long(ctx.project)) == 2, timeout=3000)
    assert [r["unblinded"] for r in ratings_long(ctx.project)] == [True, True]


def test_skip_and_flag_need_a_reason_and_are_stored(qtbot, ctx, panel):
    start(qtbot, panel)
    first = panel.current_item()
    keys(qtbot, panel, "f")
    qtbot.keyClicks(panel.reason_bar.edit, "not now")
    qtbot.keyClick(panel.reason_bar.edit, Qt.Key.Key_Escape)  # cancelled
    assert panel.hasFocus() and item_log(ctx.project, panel.annotator, first).flag is None
    keys(qtbot, panel, "f")
    qtbot.keyClicks(panel.reason_bar.edit, "A is in French")
    qtbot.keyClick(panel.reason_bar.edit, Qt.Key.Key_Return)
    assert "flagged: A is in French" in panel.position_label.text()
    keys(qtbot, panel, "s")
    qtbot.keyClick(panel.reason_bar.edit, Qt.Key.Key_Return)  # no reason: refused
    assert panel.reason_bar.isVisible()
    qtbot.keyClicks(panel.reason_bar.edit, "answer cut off")
    qtbot.keyClick(panel.reason_bar.edit, Qt.Key.Key_Return)
    assert panel.current_item() != first  # moved on
    log = item_log(ctx.project, panel.annotator, first)
    assert log.skipped and log.flag == "answer cut off" and log.seconds > 0


def test_a_reask_keeps_the_rated_pair_visible_and_counted(qtbot, ctx, panel):
    start(qtbot, panel)
    rated = panel.current_item()
    keys(qtbot, panel, *FULL)
    assert "1 / 4" in panel.progress_label.text()
    for variant in ("original", "attacked"):  # what a re-ask leaves in the store
        add_answer(ctx.project, rated.sample_id, rated.modality, variant, f"new {variant}")
    panel.hide()
    panel.show()  # back to the tab: the list is read again
    assert "0 / 4" in panel.progress_label.text() and "1 superseded" in (
        panel.progress_label.text())
    assert panel.current_item().original_id == rated.original_id  # still on the rated pair
    assert "superseded answers" in panel.position_label.text()
    assert sum(i.superseded for i in panel.items) == 1 and len(panel.items) == 5


def _rate_all(qtbot, panel, name, answers):
    panel.annotator_combo.setEditText("")
    start(qtbot, panel, name)
    for _ in range(len(panel.items)):
        keys(qtbot, panel, *answers, "n")


def test_two_annotators_exchange_see_agreement_and_adjudicate(qtbot, ctx, panel, tmp_path):
    root = ctx.project.root
    ctx.set_project(None)
    shutil.copytree(root, tmp_path / "bob_copy")
    ctx.set_project(Project.open(tmp_path / "bob_copy"))
    _rate_all(qtbot, panel, "Bob", ("1", "2", "2", "5", "3", "1", "2"))  # meaning 1
    dialog = RatingsDialog(ctx, load_rubric(), panel)
    qtbot.addWidget(dialog)
    dialog.show()
    edit = dialog.exchange.export_edit
    edit.clear()
    qtbot.keyClicks(edit, str(tmp_path / "bob.jsonl"))
    dialog.exchange.export_button.setFocus()
    qtbot.keyClick(dialog.exchange.export_button, Qt.Key.Key_Space)
    assert "Exported 28 ratings" in dialog.exchange.report.toPlainText()
    assert (tmp_path / "bob.blind_key.json").is_file()
    dialog.close()

    ctx.set_project(Project.open(root))
    _rate_all(qtbot, panel, "Ada", ("1", "2", "2", "5", "3", "5", "2"))  # meaning 5
    dialog = RatingsDialog(ctx, load_rubric(), panel)
    qtbot.addWidget(dialog)
    jumps = []
    dialog.jump_requested.connect(lambda s, m: jumps.append((s, m)))
    dialog.show()
    qtbot.keyClicks(dialog.exchange.import_edit, str(tmp_path / "bob.jsonl"))
    qtbot.keyClick(dialog.exchange.import_button, Qt.Key.Key_Space)
    assert "28 imported" in dialog.exchange.report.toPlainText()
    view = dialog.agreement
    dialog.tabs.setCurrentWidget(view)
    view.boot_spin.setValue(50)
    with qtbot.waitSignal(ctx.runner.finished, timeout=20000):
        qtbot.keyClick(view.compute_button, Qt.Key.Key_Space)
    assert view.items_table.rowCount() > 1 and view.dis_table.rowCount() >= 4
    first = view.selected()
    assert first.item == "meaning_change" and set(first.values.values()) == {"1", "5"}
    assert view.bias_table.rowCount() == 2
    view.value_combo.setCurrentText("4")
    qtbot.keyClicks(view.adjudicator_edit, "Cy")
    qtbot.keyClick(view.record_button, Qt.Key.Key_Space)
    assert "Adjudicated" in view.message.text()
    qtbot.keyClick(view.jump_button, Qt.Key.Key_Space)
    assert jumps == [(first.sample_id, first.modality)]
    paths = export_study(ctx.project, tmp_path / "out")
    with open(paths["evaluation.csv"], encoding="utf-8") as fh:
        rows = {(int(r["sample_id"]), r["modality"]): r for r in csv.DictReader(fh)}
    row = rows[(first.sample_id, first.modality)]
    assert row["rating_status"] == "adjudicated" and row["rating_meaning_change"] == "4"
    assert row["rating_n_annotators"] == "2"


def test_the_planner_runs_off_the_gui_thread_and_says_its_method(qtbot, ctx):
    from ui.widgets.study_planner import StudyPlannerDialog

    dialog = StudyPlannerDialog(ctx)
    qtbot.addWidget(dialog)
    dialog.half_width_spin.setValue(0.2)
    with qtbot.waitSignal(ctx.runner.finished, timeout=60000):
        qtbot.keyClick(dialog.plan_button, Qt.Key.Key_Space)
    assert "simulation" in dialog.result.toPlainText()
    dialog.target_combo.setCurrentIndex(1)
    dialog.half_width_spin.setValue(0.25)
    qtbot.keyClick(dialog.plan_button, Qt.Key.Key_Space)
    text = dialog.result.toPlainText()
    assert "t(0.975" in text and "104" in text
