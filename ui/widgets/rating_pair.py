"""Two answers side by side, as A and B, with frames (optional) and keyboard scrolling.

In blind mode the panel passes the *same* frames to both sides (the clean keyframes: what
really happened), so the frames never tell which answer saw the attacked input.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)


class AnswerBox(QGroupBox):
    """One answer: a title (A / B, or A · original when not blind), frames, the text."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.frames = QHBoxLayout()
        self.frames.setContentsMargins(0, 0, 0, 0)
        holder = QWidget()
        holder.setLayout(self.frames)
        layout.addWidget(holder)
        self.text = QTextBrowser()
        self.text.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys belong to the panel
        self.text.setOpenLinks(False)
        layout.addWidget(self.text, 1)

    def show_answer(self, title: str, text: str, frame_paths: list[Path], height: int) -> None:
        self.setTitle(title)
        self.text.setPlainText(text)
        while self.frames.count():
            item = self.frames.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for path in frame_paths:
            thumb = QLabel()
            pix = QPixmap(str(path))
            if pix.isNull():
                thumb.setText(f"(missing {path.name})")
            else:
                thumb.setPixmap(pix.scaledToHeight(
                    height, Qt.TransformationMode.SmoothTransformation))
            self.frames.addWidget(thumb)
        if frame_paths:
            self.frames.addStretch(1)


class ResponsePairView(QWidget):
    """Answers A and B side by side."""

    THUMB_HEIGHT = 72

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.a = AnswerBox()
        self.b = AnswerBox()
        row.addWidget(self.a, 1)
        row.addWidget(self.b, 1)

    def show_pair(self, titles: tuple[str, str], texts: tuple[str, str],
                  frames: tuple[list[Path], list[Path]] = ([], [])) -> None:
        for box, title, text, paths in zip((self.a, self.b), titles, texts, frames,
                                           strict=True):
            box.show_answer(title, text, paths, self.THUMB_HEIGHT)

    def scroll(self, pages: float) -> None:
        """Scroll both answers by ``pages`` (negative: up); PgUp/PgDn and Shift+arrows."""
        for box in (self.a, self.b):
            bar = box.text.verticalScrollBar()
            bar.setValue(bar.value() + int(pages * bar.pageStep()))

    def clear(self, message: str = "") -> None:
        self.show_pair(("A", "B"), (message, ""))
