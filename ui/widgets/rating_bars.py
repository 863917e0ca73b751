"""The Evaluate panel's top bar (annotator, blind, frames, filters) and bottom bar (buttons)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QWidget

from harlab.rating.session import STATUSES
from harlab.vocab import MODALITIES

ALL = "(all)"


class RatingTopBar(QWidget):
    """Annotator name and Start, the Blind and Frames switches, the item filters."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        top = QHBoxLayout(self)
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(QLabel("Annotator"))
        self.annotator_combo = QComboBox()
        self.annotator_combo.setEditable(True)
        self.annotator_combo.setMinimumWidth(160)
        self.annotator_combo.lineEdit().setPlaceholderText("your name or initials")
        top.addWidget(self.annotator_combo)
        self.start_button = QPushButton("Start rating")
        top.addWidget(self.start_button)
        self.blind_check = QCheckBox("Blind A/B")
        self.blind_check.setChecked(True)  # never remembered: blind is the project's setting
        top.addWidget(self.blind_check)
        self.frames_check = QCheckBox("Show frames")
        top.addWidget(self.frames_check)
        top.addStretch(1)
        self.class_combo = self._combo(top, "Class", [ALL])
        self.modality_combo = self._combo(top, "Modality", [ALL, *MODALITIES])
        self.status_combo = self._combo(top, "Status", list(STATUSES))

    @staticmethod
    def _combo(row: QHBoxLayout, title: str, entries: list[str]) -> QComboBox:
        row.addWidget(QLabel(title))
        combo = QComboBox()
        combo.addItems(entries)
        row.addWidget(combo)
        return combo

    def filter_combos(self) -> tuple[QComboBox, QComboBox, QComboBox]:
        return self.class_combo, self.modality_combo, self.status_combo

    def set_classes(self, names: list[str]) -> None:
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.addItems([ALL, *names])
        self.class_combo.blockSignals(False)


def nav_button(row: QHBoxLayout, text: str, slot: Any) -> QPushButton:
    """A button the mouse can press that never takes the keyboard from the panel."""
    button = QPushButton(text)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    button.clicked.connect(slot)
    row.addWidget(button)
    return button


def info_row() -> tuple[QHBoxLayout, QLabel, QLabel, QLabel]:
    """Position, progress and the saved mark, in one row."""
    row = QHBoxLayout()
    labels = QLabel(), QLabel(), QLabel()
    labels[2].setMinimumWidth(170)
    for label, stretch in zip(labels, (1, 0, 0), strict=True):
        row.addWidget(label, stretch)
    return (row, *labels)
