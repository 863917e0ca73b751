"""Evaluate: rate original/attacked answer pairs blind, one item at a time, keyboard first.

Start commits every item's A/B order (SHA-256, revealed at export). Blind mode is a project
setting (``harlab rate setup --blind``); where unblinding is allowed, ratings given unblinded
are marked. Blind, both sides show the same clean keyframes. Answers are journalled and written
without waiting on the database ("pending" and retried while it is busy). Keys: see KEYS_HELP;
Enter, Esc and Tab leave the note field, keeping its text.
"""

from __future__ import annotations

import html
from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from harlab import rating
from harlab.errors import HarlabError
from harlab.rating import itemlog
from harlab.rating.busy import no_wait
from harlab.rating.session import commit_orders
from harlab.rating.supersede import PairSuperseded
from ui.context import AppContext
from ui.prefs import RatingPrefs
from ui.widgets import rating_details as view
from ui.widgets.rating_bars import ALL, RatingTopBar, info_row, nav_button
from ui.widgets.rating_form import RatingForm
from ui.widgets.rating_guide import RatingGuide
from ui.widgets.rating_pair import ResponsePairView
from ui.widgets.rating_saver import AnswerSaver, ItemClock, skip_or_flag
from ui.widgets.reason_bar import ReasonBar

KEYS_HELP = ("1–5 answer · ↑/↓ question · ←/→ or p/n item · u next unrated · Enter note · "
             "s skip · f flag · i instructions · PgUp/PgDn scroll · r ratings · l plan")
_NAV = {Qt.Key.Key_Left: -1, Qt.Key.Key_P: -1, Qt.Key.Key_Right: 1, Qt.Key.Key_N: 1}
_SCROLL = {Qt.Key.Key_PageUp: -1.0, Qt.Key.Key_PageDown: 1.0}
_WRITE_KEYS = (Qt.Key.Key_S, Qt.Key.Key_F, Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_T)


class EvaluatePanel(QWidget):
    """Blind paired rating of the project's answers by a named annotator."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.rubric: rating.Rubric | None = None
        self.annotator: rating.Annotator | None = None
        self.items: list[rating.RatingItem] = []
        self.index = -1
        self.a_is = "original"
        self.clock = ItemClock()
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.saver = AnswerSaver(self)
        self.saver.mark.connect(self._on_saver_mark)
        self.saver.stored.connect(self._on_saver_stored)
        self.saver.refused.connect(self._show_error)
        self.saver.superseded.connect(self._on_saver_superseded, Qt.ConnectionType.QueuedConnection)
        prefs = ctx.prefs(RatingPrefs)
        layout = QVBoxLayout(self)

        self.top = RatingTopBar()
        for name in ("annotator_combo", "start_button", "blind_check", "frames_check",
                     "class_combo", "modality_combo", "status_combo"):
            setattr(self, name, getattr(self.top, name))  # the names tests and users know
        self.annotator_combo.lineEdit().returnPressed.connect(self._on_start_clicked)
        self.start_button.clicked.connect(self._on_start_clicked)
        self.blind_check.toggled.connect(self._on_display_toggled)
        self.frames_check.setChecked(prefs.show_frames)
        self.frames_check.toggled.connect(self._on_display_toggled)
        for combo in self.top.filter_combos():
            combo.currentTextChanged.connect(self._on_filter_changed)
        layout.addWidget(self.top)

        info, self.position_label, self.progress_label, self.saved_label = info_row()
        layout.addLayout(info)

        self.guide = RatingGuide()
        layout.addWidget(self.guide)
        self.pair_view = ResponsePairView()
        layout.addWidget(self.pair_view, 3)
        self.details_label = QLabel()
        self.details_label.setWordWrap(True)
        layout.addWidget(self.details_label)
        self.read_only_label = view.read_only_label()
        layout.addWidget(self.read_only_label)
        self.form = RatingForm()
        self.form.answered.connect(self._on_form_answered)
        self.form.left.connect(self._on_form_left)
        layout.addWidget(self.form, 2)
        self.reason_bar = ReasonBar()
        self.reason_bar.submitted.connect(self._on_reason_bar_submitted)
        self.reason_bar.closed.connect(self.setFocus)
        layout.addWidget(self.reason_bar)

        bottom = QHBoxLayout()
        self.prev_button = nav_button(bottom, "← Previous", lambda: self.step(-1))
        self.next_button = nav_button(bottom, "Next →", lambda: self.step(1))
        self.unrated_button = nav_button(bottom, "Next unrated (u)", self.next_unrated)
        self.ratings_button = nav_button(bottom, "&Ratings… (r)", self.open_ratings)
        self.plan_button = nav_button(bottom, "P&lan study… (l)", self.open_planner)
        self.message_label = QLabel(KEYS_HELP)
        self.message_label.setWordWrap(True)
        bottom.addWidget(self.message_label, 1)
        layout.addLayout(bottom)

        ctx.project_changed.connect(self._on_ctx_project_changed)
        self.reload()

    # ------------------------------------------------------------------ project and annotator
    def reload(self) -> None:
        """Re-read the rubric, annotators, classes and blind policy of the current project."""
        if self.saver.queue is not None and self.saver.queue.project is self.ctx.project:
            self._leave_item()  # same project re-read: keep the typed note and the time
        self.clock.shown = None
        project = self.ctx.project
        self.annotator, self.items, self.index, self.rubric = None, [], -1, None
        remembered = self.ctx.prefs(RatingPrefs).annotator
        self.annotator_combo.clear()
        self.top.set_classes([])
        self.blind_check.setChecked(True)
        self.blind_check.setEnabled(False)
        if project is None:
            self._set_message("Open a project to rate its answers.")
        else:
            try:
                self.rubric = rating.load_rubric(project.root)
                self.form.set_questions(self.rubric.questions())
                self.annotator_combo.addItems([a.name for a in rating.annotators(project)])
                self.top.set_classes(rating.class_names(project))
                view.show_blind_policy(self.blind_check, itemlog.blind_policy(project))
                self._set_message("Type your name and press Enter (or Start rating).")
            except HarlabError as exc:
                self._show_error(str(exc))
        self.guide.set_rubric(self.rubric)
        self.saver.open(project, self.rubric)
        self.annotator_combo.setEditText(remembered)
        self._show_current()

    @Slot()
    def _on_start_clicked(self) -> None:
        project = self.ctx.project
        if project is None or self.rubric is None:
            return
        try:
            with no_wait(project):  # never freeze on another process's lock
                self.annotator = rating.get_annotator(project,
                                                      self.annotator_combo.currentText())
                commit_orders(project, self.annotator, rating.items(project))
        except HarlabError as exc:
            self._show_error(str(exc))
            return
        self.ctx.save_prefs(replace(self.ctx.prefs(RatingPrefs), annotator=self.annotator.name))
        if self.annotator_combo.findText(self.annotator.name) < 0:
            self.annotator_combo.addItem(self.annotator.name)
        self._load_items()
        start = rating.next_unrated(project, self.annotator, self.items, self.rubric)
        self._go(start if start is not None else (0 if self.items else -1))
        self._set_message(KEYS_HELP)
        self.setFocus()

    def _filters(self, status: bool = True) -> rating.ItemFilter:
        label, modality = self.class_combo.currentText(), self.modality_combo.currentText()
        return rating.ItemFilter(true_label=None if label in ("", ALL) else label,
                                 modality=None if modality in ("", ALL) else modality,
                                 status=self.status_combo.currentText() if status else "all")

    def _load_items(self) -> None:
        if self.ctx.project is None or self.annotator is None:
            self.items = []
            return
        self.items = rating.items(self.ctx.project, self.annotator, self._filters(),
                                  self.rubric.required_keys())

    def refresh_items(self) -> None:
        """Re-list the items (answers may have been re-asked), staying on the same pair."""
        if self.annotator is None:
            return
        current = self.current_item()
        self._load_items()
        self._go(view.index_after_reload(self.items, current))

    @Slot(str)
    def _on_filter_changed(self, _text: str) -> None:
        self.refresh_items()
        self.setFocus()

    @Slot(bool)
    def _on_display_toggled(self, _on: bool) -> None:
        if not self.blind_check.isChecked() and self.annotator is not None and not (
                itemlog.mark_unblinded(self.ctx.project, self.annotator)):
            self._show_error("the database is busy: unblinding is marked on each answer")
        self.ctx.save_prefs(replace(self.ctx.prefs(RatingPrefs),
                                    show_frames=self.frames_check.isChecked()))
        self._show_current()
        self.setFocus()

    # ------------------------------------------------------------------ navigation
    def current_item(self) -> rating.RatingItem | None:
        return self.items[self.index] if 0 <= self.index < len(self.items) else None

    def _go(self, index: int) -> None:
        self._leave_item()
        self.index = index
        self._show_current()

    def _leave_item(self) -> None:
        """Save a note typed but not confirmed, and add the time spent on the item."""
        item = self.current_item()
        if item is not None and self.annotator is not None:
            for key, text in self.form.unsaved_text().items():
                self._save(item, key, text)
        self.clock.stop(self.ctx.project, self.annotator)

    def step(self, delta: int) -> None:
        if self.items:
            self._go(max(0, min(len(self.items) - 1, self.index + delta)))

    def next_unrated(self) -> None:
        if self.annotator is None or not self.items:
            return
        found = rating.next_unrated(self.ctx.project, self.annotator, self.items, self.rubric,
                                    self.index)
        if found is None:
            self._set_message("Every item in this list is rated or skipped. Thank you!")
        else:
            self._go(found)

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        key, text = event.key(), event.text()
        shift = event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        if key == Qt.Key.Key_R and self.ctx.project is not None:
            self.open_ratings()
        elif key == Qt.Key.Key_L:
            self.open_planner()
        elif key == Qt.Key.Key_I:
            self.guide.set_open(not self.guide.text.isVisible())
        elif key in _SCROLL or (shift and key in (Qt.Key.Key_Up, Qt.Key.Key_Down)):
            self.pair_view.scroll(_SCROLL.get(key, -0.3 if key == Qt.Key.Key_Up else 0.3))
        elif self.annotator is None or self.current_item() is None:
            super().keyPressEvent(event)
        elif self.current_item().superseded and (text.isdigit() or key in _WRITE_KEYS):
            self._show_error(view.READ_ONLY_KEYS)  # and nothing else
        elif text.isdigit() and self.form.press_digit(int(text)):
            pass
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            self.form.move(-1 if key == Qt.Key.Key_Up else 1)
        elif key in _NAV:
            self.step(_NAV[key])
        elif key == Qt.Key.Key_U:
            self.next_unrated()
        elif key in (Qt.Key.Key_S, Qt.Key.Key_F):
            self.reason_bar.ask("skip" if key == Qt.Key.Key_S else "flag")
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_T):
            self.form.edit_text()
        else:
            super().keyPressEvent(event)

    # ------------------------------------------------------------------ showing and answering
    def _show_current(self) -> None:
        item, project = self.current_item(), self.ctx.project
        has = self.annotator is not None
        for button in (self.prev_button, self.next_button, self.unrated_button):
            button.setEnabled(has and bool(self.items))
        self.ratings_button.setEnabled(project is not None)
        self.form.setEnabled(item is not None and not item.superseded)
        view.show_read_only(self.read_only_label, item)
        if item is None or project is None or self.annotator is None:
            self.pair_view.clear("" if not has else "No items match these filters (an item "
                                 "needs an ok original and an ok attacked answer).")
            self.position_label.setText("")
            self.details_label.setText("")
            self._show_progress()
            return
        self.clock.start(item)
        self.a_is = rating.blind_order(project, self.annotator, item)
        sides = (self.a_is, "attacked" if self.a_is == "original" else "original")
        blind = self.blind_check.isChecked()
        titles = tuple(f"{ab}" if blind else f"{ab} · {side}" for ab, side in zip(
            "AB", sides, strict=True))
        frames = (view.shown_frames(project, item, sides, blind) if self.frames_check.isChecked()
                  else ([], []))
        self.pair_view.show_pair(titles, (item.text(sides[0]), item.text(sides[1])), frames)
        self.form.set_answers(rating.answers_for(project, self.annotator, item, self.rubric))
        self.form.go_to_first_unanswered()
        self.position_label.setText(view.position_html(
            item, self.index, len(self.items), itemlog.item_log(project, self.annotator, item)))
        self._show_details()
        self._show_progress()

    def _show_details(self) -> None:
        self.details_label.setText(view.details_for(self.ctx.project, self.annotator,
                                                    self.current_item(), self.rubric,
                                                    self.blind_check.isChecked()))

    def _show_progress(self) -> None:
        self.progress_label.setText(view.progress_html(self.ctx.project, self.annotator,
                                                       self.rubric, self._filters(status=False)))

    def _save(self, item: rating.RatingItem, key: str, value: object) -> None:
        self.saved_label.setText("<span style='color:#a06000'>saving…</span>")
        self.saver.save(self.annotator, item, key, value, self.a_is,
                        unblinded=not self.blind_check.isChecked() or itemlog.was_unblinded(
                            self.ctx.project, self.annotator))

    @Slot(str, object)
    def _on_form_answered(self, key: str, value: object) -> None:
        item = self.current_item()
        self.setFocus()
        if item is not None and self.annotator is not None:
            self._save(item, key, value)

    @Slot()
    def _on_form_left(self) -> None:
        item = self.current_item()
        if item is not None and self.annotator is not None:
            for key, text in self.form.unsaved_text().items():
                self.form.answers[key] = text
                self._save(item, key, text)
        self.setFocus()

    @Slot(str, str)
    def _on_reason_bar_submitted(self, action: str, reason: str) -> None:
        item = self.current_item()
        if item is None or self.annotator is None:
            return
        try:
            self._set_message(skip_or_flag(self.ctx.project, self.annotator, item, action,
                                           reason))
        except PairSuperseded as exc:  # a re-ask replaced it since it was listed
            self._on_saver_superseded(str(exc))
            return
        except HarlabError as exc:
            self._show_error(str(exc))
            return
        self.next_unrated() if action == "skip" else self._show_current()

    @Slot(str, str)
    def _on_saver_mark(self, text: str, tip: str) -> None:
        self.saved_label.setText(text)
        self.saved_label.setToolTip(tip)

    @Slot(str)
    def _on_saver_superseded(self, message: str) -> None:
        self.refresh_items()  # queued: never re-lists in the middle of _go; now read-only
        self._show_error(message)

    @Slot()
    def _on_saver_stored(self) -> None:
        self._show_details()
        self._show_progress()

    def open_ratings(self) -> None:
        from ui.widgets.ratings_dialog import RatingsDialog  # a window-first entry point

        if self.ctx.project is None or self.rubric is None:
            return
        # kept: PySide deletes a dialog with its wrapper; a cancelled job reports back once
        self.ratings_dialog = dialog = RatingsDialog(self.ctx, self.rubric, self)
        dialog.jump_requested.connect(self._on_dialog_jump_requested)
        dialog.exec()
        self.refresh_items()
        self.setFocus()

    def open_planner(self) -> None:
        from ui.widgets.study_planner import StudyPlannerDialog  # a window-first entry point

        self.planner_dialog = StudyPlannerDialog(self.ctx, self)  # kept, like ratings
        self.planner_dialog.exec()
        self.setFocus()

    @Slot(int, str)
    def _on_dialog_jump_requested(self, sample_id: int, modality: str) -> None:
        self.class_combo.setCurrentText(ALL)
        self.modality_combo.setCurrentText(ALL)
        self.status_combo.setCurrentText("all")
        keys = [i.key for i in self.items]
        if (sample_id, modality) in keys:
            self._go(keys.index((sample_id, modality)))

    @Slot(str)
    def _show_error(self, message: str) -> None:
        self._set_message(message, error=True)

    def _set_message(self, text: str, error: bool = False) -> None:
        self.message_label.setText(f"<span style='color:#a01010'>{html.escape(text)}</span>"
                                   if error else text)

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self.refresh_items()  # a re-ask in Responses may have replaced the current answers

    def hideEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self._leave_item()
        super().hideEvent(event)

    @Slot(object)
    def _on_ctx_project_changed(self, _project: object) -> None:
        self.reload()
