"""A row of frame thumbnails with captions (keyframes, clean vs adversarial frames...)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget


def to_pixmap(frame: np.ndarray) -> QPixmap:
    """A QPixmap of an RGB uint8 ``(H, W, 3)`` frame (copied, so the array may go)."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 frame (H, W, 3), got {frame.dtype} "
                         f"{frame.shape}")
    frame = np.ascontiguousarray(frame)
    h, w = frame.shape[:2]
    image = QImage(frame.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


class _Thumb(QLabel):
    clicked = Signal()

    def mousePressEvent(self, event):  # noqa: N802 - Qt override
        self.clicked.emit()
        super().mousePressEvent(event)


class FrameStrip(QScrollArea):
    """Thumbnails in a horizontal scroll area, each with a caption under it.

    Signals:
        frame_clicked(int): position of the clicked thumbnail in the strip.
    """

    frame_clicked = Signal(int)

    def __init__(self, thumb_height: int = 96, parent: QWidget | None = None):
        super().__init__(parent)
        self.thumb_height = thumb_height
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumHeight(thumb_height + 48)
        self._inner = QWidget()
        self._row = QHBoxLayout(self._inner)
        self._row.setContentsMargins(4, 4, 4, 4)
        self._row.addStretch(1)
        self.setWidget(self._inner)
        self.captions: list[str] = []
        self.current = -1
        self._cells: list[QWidget] = []

    def clear(self) -> None:
        while self._row.count() > 1:
            item = self._row.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.captions = []
        self._cells = []
        self.current = -1

    def set_frames(self, frames: np.ndarray | Sequence[np.ndarray],
                   captions: Sequence[str] | None = None) -> None:
        """Show ``frames`` (RGB uint8, ``(K, H, W, 3)``) with one caption each."""
        self.clear()
        captions = list(captions) if captions is not None else [str(i) for i in
                                                                  range(len(frames))]
        if len(captions) != len(frames):
            raise ValueError(f"{len(frames)} frames but {len(captions)} captions")
        for pos, (frame, caption) in enumerate(zip(frames, captions, strict=True)):
            cell = QWidget()
            col = QVBoxLayout(cell)
            col.setContentsMargins(2, 2, 2, 2)
            col.setSpacing(2)
            thumb = _Thumb()
            thumb.setPixmap(to_pixmap(frame).scaledToHeight(
                self.thumb_height, Qt.TransformationMode.SmoothTransformation))
            thumb.setCursor(Qt.CursorShape.PointingHandCursor)
            thumb.clicked.connect(lambda p=pos: self.frame_clicked.emit(p))
            label = QLabel(caption)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            col.addWidget(thumb)
            col.addWidget(label)
            self._row.insertWidget(self._row.count() - 1, cell)
            self._cells.append(cell)
        self.captions = captions

    def set_current(self, pos: int) -> None:
        """Mark the thumbnail at ``pos`` as the one shown elsewhere (a frame and bold caption)."""
        self.current = pos
        for i, cell in enumerate(self._cells):
            chosen = i == pos
            cell.setObjectName("current" if chosen else "")
            cell.setStyleSheet("QWidget#current { border: 3px solid #1565c0; border-radius: 3px;"
                               " } QWidget#current QLabel { font-weight: bold; }"
                               if chosen else "")
        if 0 <= pos < len(self._cells):
            self.ensureWidgetVisible(self._cells[pos])
