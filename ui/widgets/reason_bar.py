"""An inline reason prompt (skip or flag an item) that the keyboard can finish or cancel.

Shown under the form when the annotator presses ``s`` (skip) or ``f`` (flag): Enter submits
the reason, Esc cancels; either way the keys go back to the panel.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QWidget


class ReasonBar(QWidget):
    """Signals:
        submitted(str, str): the action (``skip`` or ``flag``) and the reason typed.
        closed(): hidden again (submitted or cancelled).
    """

    submitted = Signal(str, str)
    closed = Signal()
    PROMPTS = {"skip": "Skip this item because…", "flag": "Flag this item for a second look "
                                                        "because…"}

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        row.addWidget(self.label)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("a few words; Enter to confirm, Esc to cancel")
        self.edit.returnPressed.connect(self._on_edit_return_pressed)
        self.edit.installEventFilter(self)
        row.addWidget(self.edit, 1)
        self.action = ""
        self.hide()

    def ask(self, action: str, current: str | None = None) -> None:
        self.action = action
        self.label.setText(self.PROMPTS[action])
        self.edit.setText(current or "")
        self.show()
        self.edit.setFocus()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if (watched is self.edit and event.type() == QEvent.Type.KeyPress
                and event.key() in (Qt.Key.Key_Escape, Qt.Key.Key_Tab, Qt.Key.Key_Backtab)):
            self._close()
            return True
        return super().eventFilter(watched, event)

    @Slot()
    def _on_edit_return_pressed(self) -> None:
        text = self.edit.text().strip()
        if not text:
            self.label.setText(self.PROMPTS[self.action] + " (a reason is needed)")
            return
        action = self.action
        self._close()
        self.submitted.emit(action, text)

    def _close(self) -> None:
        self.hide()
        self.closed.emit()
