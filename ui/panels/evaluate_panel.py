"""Evaluate: rate original/attacked answer pairs blind, one item at a time, keyboard first.

The annotator names themself and presses Start. Each item shows two answers as A and B in the
annotator's sealed random order (blind mode, on by default); the true class, the predictions
and the automatic scores stay hidden until every required question is answered. Every answer
is committed the moment it is given (a "saved" mark confirms it), so closing or killing the
app loses nothing. Keys: number keys answer the highlighted question, Up/Down move between
questions, Left/Right or p/n between items, u jumps to the next item not yet rated, Enter (or
t) edits a free-text note and Enter again saves it.
"""

from __future__ import annotations

import html
import logging
import time
from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from harlab import rating
from harlab.errors import HarlabError
from harlab.rating.session import STATUSES
from harlab.vocab import MODALITIES
from ui.context import AppContext
from ui.prefs import RatingPrefs
from ui.widgets.rating_form import RatingForm
from ui.widgets.rating_pair import ResponsePairView

log = logging.getLogger(__name__)

ALL = "(all)"
KEYS_HELP = ("1–5 answer · ↑/↓ question · ←/→ or p/n item · u next unrated · Enter note · "
             "answers save as you go")
_NAV = {Qt.Key.Key_Left: -1, Qt.Key.Key_P: -1, Qt.Key.Key_Right: 1, Qt.Key.Key_N: 1}


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
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        prefs = ctx.prefs(RatingPrefs)
        layout = QVBoxLayout(self)

        top = QHBoxLayout()
        top.addWidget(QLabel("Annotator"))
        self.annotator_combo = QComboBox()
        self.annotator_combo.setEditable(True)
        self.annotator_combo.setMinimumWidth(160)
        self.annotator_combo.lineEdit().setPlaceholderText("your name or initials")
        self.annotator_combo.lineEdit().returnPressed.connect(self._on_start_clicked)
        top.addWidget(self.annotator_combo)
        self.start_button = QPushButton("Start rating")
        self.start_button.clicked.connect(self._on_start_clicked)
        top.addWidget(self.start_button)
        self.blind_check = QCheckBox("Blind A/B")
        self.blind_check.setChecked(prefs.blind)
        self.blind_check.setToolTip("Hide which answer is original, and the labels, "
                                    "predictions and scores until the item is rated")
        self.blind_check.toggled.connect(self._on_display_toggled)
        top.addWidget(self.blind_check)
        self.frames_check = QCheckBox("Show frames")
        self.frames_check.setChecked(prefs.show_frames)
        self.frames_check.toggled.connect(self._on_display_toggled)
        top.addWidget(self.frames_check)
        top.addStretch(1)
        self.class_combo = self._filter_combo(top, "Class", [ALL])
        self.modality_combo = self._filter_combo(top, "Modality", [ALL, *MODALITIES])
        self.status_combo = self._filter_combo(top, "Status", list(STATUSES))
        layout.addLayout(top)

        info = QHBoxLayout()
        self.position_label = QLabel()
        info.addWidget(self.position_label, 1)
        self.progress_label = QLabel()
        info.addWidget(self.progress_label)
        self.saved_label = QLabel()
        self.saved_label.setMinimumWidth(150)
        info.addWidget(self.saved_label)
        layout.addLayout(info)

        self.pair_view = ResponsePairView()
        layout.addWidget(self.pair_view, 3)
        self.details_label = QLabel()
        self.details_label.setWordWrap(True)
        layout.addWidget(self.details_label)
        self.form = RatingForm()
        self.form.answered.connect(self._on_form_answered)
        layout.addWidget(self.form, 2)

        bottom = QHBoxLayout()
        self.prev_button = self._nav_button(bottom, "← Previous", lambda: self.step(-1))
        self.next_button = self._nav_button(bottom, "Next →", lambda: self.step(1))
        self.unrated_button = self._nav_button(bottom, "Next unrated (u)", self.next_unrated)
        self.message_label = QLabel(KEYS_HELP)
        self.message_label.setWordWrap(True)
        bottom.addWidget(self.message_label, 1)
        layout.addLayout(bottom)

        ctx.project_changed.connect(self._on_ctx_project_changed)
        self.reload()

    def _filter_combo(self, row: QHBoxLayout, title: str, entries: list[str]) -> QComboBox:
        row.addWidget(QLabel(title))
        combo = QComboBox()
        combo.addItems(entries)
        combo.currentTextChanged.connect(self._on_filter_changed)
        row.addWidget(combo)
        return combo

    def _nav_button(self, row: QHBoxLayout, text: str, slot: Any) -> QPushButton:
        button = QPushButton(text)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.clicked.connect(slot)
        row.addWidget(button)
        return button

    # ------------------------------------------------------------------ project and annotator
    def reload(self) -> None:
        """Re-read the rubric, annotators and classes of the current project."""
        project = self.ctx.project
        self.annotator, self.items, self.index, self.rubric = None, [], -1, None
        remembered = self.ctx.prefs(RatingPrefs).annotator
        self.annotator_combo.clear()
        self._set_classes([])
        if project is None:
            self._set_message("Open a project to rate its answers.")
        else:
            try:
                self.rubric = rating.load_rubric(project.root)
                self.form.set_questions(self.rubric.questions())
                self.annotator_combo.addItems([a.name for a in rating.annotators(project)])
                self._set_classes(rating.class_names(project))
                self._set_message("Type your name and press Enter (or Start rating).")
            except HarlabError as exc:
                self._set_message(str(exc), error=True)
        self.annotator_combo.setEditText(remembered)
        self._show_current()

    def _set_classes(self, names: list[str]) -> None:
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.addItems([ALL, *names])
        self.class_combo.blockSignals(False)

    @Slot()
    def _on_start_clicked(self) -> None:
        project = self.ctx.project
        if project is None or self.rubric is None:
            return
        try:
            self.annotator = rating.get_annotator(project, self.annotator_combo.currentText())
        except HarlabError as exc:
            self._set_message(str(exc), error=True)
            return
        self.ctx.save_prefs(replace(self.ctx.prefs(RatingPrefs), annotator=self.annotator.name))
        if self.annotator_combo.findText(self.annotator.name) < 0:
            self.annotator_combo.addItem(self.annotator.name)
        self._load_items()
        start = rating.next_unrated(project, self.annotator, self.items, self.rubric)
        self.index = start if start is not None else (0 if self.items else -1)
        self._set_message(KEYS_HELP)
        self._show_current()
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

    @Slot(str)
    def _on_filter_changed(self, _text: str) -> None:
        if self.annotator is None:
            return
        current = self.current_item()
        self._load_items()
        keys = [i.key for i in self.items]
        self.index = keys.index(current.key) if current and current.key in keys else (
            0 if self.items else -1)
        self._show_current()
        self.setFocus()

    @Slot(bool)
    def _on_display_toggled(self, _on: bool) -> None:
        self.ctx.save_prefs(replace(self.ctx.prefs(RatingPrefs),
                                    blind=self.blind_check.isChecked(),
                                    show_frames=self.frames_check.isChecked()))
        self._show_current()
        self.setFocus()

    # ------------------------------------------------------------------ navigation
    def current_item(self) -> rating.RatingItem | None:
        return self.items[self.index] if 0 <= self.index < len(self.items) else None

    def step(self, delta: int) -> None:
        if self.items:
            self.index = max(0, min(len(self.items) - 1, self.index + delta))
            self._show_current()

    def next_unrated(self) -> None:
        if self.annotator is None or not self.items:
            return
        found = rating.next_unrated(self.ctx.project, self.annotator, self.items, self.rubric,
                                    self.index)
        if found is None:
            self._set_message("Every item in this list is rated. Thank you!")
        else:
            self.index = found
            self._show_current()

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        key, text = event.key(), event.text()
        if self.annotator is None or self.current_item() is None:
            super().keyPressEvent(event)
        elif text.isdigit() and self.form.press_digit(int(text)):
            pass
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            self.form.move(-1 if key == Qt.Key.Key_Up else 1)
        elif key in _NAV:
            self.step(_NAV[key])
        elif key == Qt.Key.Key_U:
            self.next_unrated()
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
        self.form.setEnabled(item is not None)
        if item is None or project is None or self.annotator is None:
            self.pair_view.clear("" if not has else "No items match these filters (an item "
                                 "needs an ok original and an ok attacked answer).")
            self.position_label.setText("")
            self.details_label.setText("")
            self._show_progress()
            return
        self.a_is = rating.blind_order(project, self.annotator, item)
        sides = (self.a_is, "attacked" if self.a_is == "original" else "original")
        blind = self.blind_check.isChecked()
        titles = tuple(f"{ab}" if blind else f"{ab} · {side}" for ab, side in zip(
            "AB", sides, strict=True))
        frames = tuple([project.abspath(p) for p in (item.clean_frames if side == "original"
                                                     else item.adv_frames)]
                       if self.frames_check.isChecked() else [] for side in sides)
        self.pair_view.show_pair(titles, (item.text(sides[0]), item.text(sides[1])), frames)
        self.form.set_answers(rating.answers_for(project, self.annotator, item, self.rubric))
        self.form.go_to_first_unanswered()
        self.position_label.setText(f"Item {self.index + 1} of {len(self.items)} · sample "
                                    f"#{item.sample_id} · {item.modality}")
        self._show_details()
        self._show_progress()

    def _show_details(self) -> None:
        item, project = self.current_item(), self.ctx.project
        status = rating.item_status(project, self.annotator, item, self.rubric)
        if self.blind_check.isChecked() and status != "rated":
            self.details_label.setText("<i>Labels, predictions and scores stay hidden until "
                                       "this item is rated.</i>")
            return
        scores = rating.item_scores(project, item)
        shown = ", ".join(f"{k} {v:.3f}" if v is not None else f"{k} –"
                          for k, v in scores.items()) or "none yet"
        sealed = (" · which answer was A stays sealed until export"
                  if self.blind_check.isChecked() else "")
        self.details_label.setText(
            f"True action <b>{item.true_label}</b> · clean prediction {item.clean_pred} → "
            f"attacked prediction {item.adv_pred} ({item.attack}, eps "
            f"{item.eps * 255:.1f}/255) · scores: {shown}{sealed}")

    def _show_progress(self) -> None:
        if self.annotator is None or self.ctx.project is None or self.rubric is None:
            self.progress_label.setText("")
            return
        done = rating.progress(self.ctx.project, self.annotator, self.rubric,
                               self._filters(status=False))
        self.progress_label.setText(f"<b>{done.rated} / {done.total}</b> rated")

    @Slot(str, object)
    def _on_form_answered(self, key: str, value: object) -> None:
        item = self.current_item()
        self.setFocus()
        if item is None or self.annotator is None:
            return
        try:
            answer = rating.record_answer(self.ctx.project, self.annotator, item, key, value,
                                          self.rubric, a_is=self.a_is)
        except HarlabError as exc:
            self.saved_label.setText("<span style='color:#a01010'>not saved</span>")
            self._set_message(str(exc), error=True)
            return
        what = "cleared" if answer.value is None else "saved"
        self.saved_label.setText(f"<span style='color:#106010'>✓ {what} "
                                 f"{time.strftime('%H:%M:%S')}</span>")
        self.saved_label.setToolTip(f"{key} committed to the project")
        self._show_details()
        self._show_progress()

    def _set_message(self, text: str, error: bool = False) -> None:
        self.message_label.setText(f"<span style='color:#a01010'>{html.escape(text)}</span>"
                                   if error else text)

    @Slot(object)
    def _on_ctx_project_changed(self, _project: object) -> None:
        self.reload()
