"""The rubric's questions as a keyboard-first form: one row per question, one key per answer.

The form shows answers in blind (A/B) terms and knows nothing about the store: it emits
``answered(key, value)`` and the panel commits. One question is *current* (highlighted); a
number key answers it and moves on. Free-text questions have a line edit: Enter saves the
text and gives the keys back to the panel; Esc, Tab and Shift+Tab give them back too (keeping
the typed text, which :meth:`RatingForm.unsaved_text` reports so the panel can save it before
the item changes). No key is ever trapped in a text field. A disabled form (a superseded,
read-only item) answers no key.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from harlab.rating.rubric import Question

CURRENT_STYLE = "background:#fff4c2; border-radius:4px;"
CHECKED_STYLE = "QPushButton:checked { background:#2d6cdf; color:white; }"


class RatingForm(QFrame):
    """Questions with numbered answer buttons.

    Signals:
        answered(str, object): a question key (``hazard.A``) and the shown answer (``"3"``,
            ``"A"``, text; ``None`` clears).
        left(): a text field gave the keyboard back (Enter, Esc, Tab).
    """

    answered = Signal(str, object)
    left = Signal()
    LEAVE_KEYS = (Qt.Key.Key_Escape, Qt.Key.Key_Tab, Qt.Key.Key_Backtab)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(6, 6, 6, 6)
        self._grid.setVerticalSpacing(4)
        self.questions: list[Question] = []
        self.buttons: dict[str, list[QPushButton]] = {}
        self.text_edits: dict[str, QLineEdit] = {}
        self._rows: dict[str, QLabel] = {}
        self.answers: dict[str, str] = {}
        self.current = 0

    def set_questions(self, questions: list[Question]) -> None:
        while self._grid.count():
            item = self._grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.questions = list(questions)
        self.buttons, self.text_edits, self._rows = {}, {}, {}
        for row, q in enumerate(self.questions):
            label = QLabel(q.prompt)
            label.setWordWrap(True)
            self._grid.addWidget(label, row, 0)
            self._rows[q.key] = label
            holder = QWidget()
            line = QHBoxLayout(holder)
            line.setContentsMargins(0, 0, 0, 0)
            if q.item.kind.free_text:
                edit = QLineEdit()
                edit.setPlaceholderText("Enter: type a note, Enter again to save")
                edit.returnPressed.connect(lambda k=q.key: self._on_text_entered(k))
                edit.installEventFilter(self)
                self.text_edits[q.key] = edit
                line.addWidget(edit)
            else:
                self.buttons[q.key] = []
                for n, (value, text) in enumerate(q.choices, start=1):
                    button = QPushButton(text if q.item.kind.keys_are_values
                                         else f"{q.item.kind.key_for(n, value)}  {text}")
                    button.setStyleSheet(CHECKED_STYLE)
                    button.setCheckable(True)
                    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys belong to the panel
                    button.clicked.connect(
                        lambda _=False, k=q.key, v=value: self._answer(k, v))
                    self.buttons[q.key].append(button)
                    line.addWidget(button)
                line.addStretch(1)
            self._grid.addWidget(holder, row, 1)
        self._grid.setColumnStretch(1, 1)
        self.current = 0
        self.set_answers({})

    def set_answers(self, answers: dict[str, str]) -> None:
        """Show stored answers (shown terms) without emitting anything."""
        self.answers = dict(answers)
        for q in self.questions:
            value = self.answers.get(q.key)
            for button, (choice, _) in zip(self.buttons.get(q.key, []), q.choices,
                                           strict=True):
                button.setChecked(choice == value)
            if q.key in self.text_edits:
                self.text_edits[q.key].setText(value or "")
        self._show_current()

    # ------------------------------------------------------------------ keyboard
    def move(self, step: int) -> None:
        if self.questions:
            self.current = max(0, min(len(self.questions) - 1, self.current + step))
            self._show_current()

    def go_to_first_unanswered(self) -> None:
        keys = [q.key for q in self.questions if q.key not in self.answers]
        self.current = [q.key for q in self.questions].index(keys[0]) if keys else 0
        self._show_current()

    def current_question(self) -> Question | None:
        return self.questions[self.current] if self.questions else None

    def press_digit(self, digit: int) -> bool:
        """Answer the current question with the answer numbered ``digit``; True if it did."""
        q = self.current_question()
        if q is None or q.item.kind.free_text or not self.isEnabled():
            return False
        for n, (value, _) in enumerate(q.choices, start=1):
            if q.item.kind.key_for(n, value) == str(digit):
                self._answer(q.key, value)
                return True
        return False

    def edit_text(self) -> bool:
        """Put the cursor in the current question's text box (free text); True if it did."""
        q = self.current_question()
        if q is None or q.key not in self.text_edits or not self.isEnabled():
            return False
        self.text_edits[q.key].setFocus()
        return True

    def unsaved_text(self) -> dict[str, str]:
        """Typed text that differs from the stored answer, by question key."""
        return {k: e.text() for k, e in self.text_edits.items()
                if e.text() != (self.answers.get(k) or "")}

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if (event.type() == QEvent.Type.KeyPress and watched in self.text_edits.values()
                and event.key() in self.LEAVE_KEYS):
            watched.clearFocus()
            self.left.emit()
            return True
        return super().eventFilter(watched, event)

    # ------------------------------------------------------------------ internals
    def _answer(self, key: str, value: str | None) -> None:
        self.answers[key] = value
        self.set_answers(self.answers)
        self.answered.emit(key, value)
        keys = [q.key for q in self.questions]
        if key in keys and keys.index(key) == self.current:
            self.move(1)

    @Slot()
    def _on_text_entered(self, key: str) -> None:
        edit = self.text_edits[key]
        edit.clearFocus()
        self._answer(key, edit.text())
        self.left.emit()

    def _show_current(self) -> None:
        for n, q in enumerate(self.questions):
            self._rows[q.key].setStyleSheet(CURRENT_STYLE if n == self.current else "")
