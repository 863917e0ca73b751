"""A confusion matrix as a pyqtgraph image with class names on both axes and counts in cells."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFontMetrics

from ui.widgets.plot_style import EmptyNote

MAX_CELL_TEXT = 30  # above this many classes the counts would be unreadable; colour only


class ConfusionMatrixView(pg.PlotWidget):
    """Rows are true classes (top to bottom), columns predicted classes."""

    def __init__(self, parent=None):
        super().__init__(parent, background="w")
        self.setMinimumSize(260, 220)
        self._image = pg.ImageItem(axisOrder="row-major")
        self._image.setColorMap(pg.colormap.get("viridis"))
        self.addItem(self._image)
        self._texts: list[pg.TextItem] = []
        plot = self.getPlotItem()
        plot.invertY(True)
        plot.setMouseEnabled(False, False)
        plot.hideButtons()
        plot.setLabel("bottom", "predicted (class number)")
        plot.setLabel("left", "true")
        self.matrix = np.zeros((0, 0), dtype=np.int64)
        self.classes: list[str] = []
        self.note = EmptyNote(plot, "no evaluation yet: press Evaluate")

    def clear_matrix(self, text: str = "no evaluation yet: press Evaluate") -> None:
        """No matrix: an empty plot that says so (not a one-colour square)."""
        self._image.clear()
        for item in self._texts:
            self.removeItem(item)
        self._texts = []
        self.matrix, self.classes = np.zeros((0, 0), dtype=np.int64), []
        plot = self.getPlotItem()
        plot.getAxis("left").setTicks(None)
        plot.getAxis("bottom").setTicks(None)
        plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
        self.note.set_empty(True, text)

    def set_matrix(self, matrix: list[list[int]] | np.ndarray, classes: list[str]) -> None:
        """Show ``matrix[i][j]`` = videos of class i predicted as j (no classes: empty)."""
        if not len(classes):
            self.clear_matrix()
            return
        m = np.asarray(matrix, dtype=np.int64)
        if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != len(classes):
            raise ValueError(f"confusion matrix must be square with one row per class, got "
                             f"shape {m.shape} for {len(classes)} classes")
        self.note.set_empty(False)
        self.matrix, self.classes = m, list(classes)
        rows = m.sum(1, keepdims=True)
        share = np.divide(m, rows, out=np.zeros(m.shape, dtype=float), where=rows > 0)
        self._image.setImage(share, levels=(0.0, 1.0))
        self._image.setRect(0, 0, len(classes), len(classes))
        for item in self._texts:
            self.removeItem(item)
        self._texts = []
        if len(classes) <= MAX_CELL_TEXT:
            for i in range(len(classes)):
                for j in range(len(classes)):
                    if m[i, j] == 0:
                        continue
                    color = "k" if share[i, j] > 0.6 else "w"
                    text = pg.TextItem(str(m[i, j]), color=color, anchor=(0.5, 0.5))
                    text.setPos(j + 0.5, i + 0.5)
                    self.addItem(text)
                    self._texts.append(text)
        # Names on the left (rows), numbers below: long names side by side would overlap.
        plot = self.getPlotItem()
        if len(classes) <= MAX_CELL_TEXT:
            left = [[(k + 0.5, f"{self._short(name)} {k}") for k, name in enumerate(classes)]]
            bottom = [[(k + 0.5, str(k)) for k in range(len(classes))]]
        else:
            step = max(1, len(classes) // 10)
            left = bottom = [[(k + 0.5, str(k)) for k in range(0, len(classes), step)]]
        plot.getAxis("left").setTicks(left)
        plot.getAxis("bottom").setTicks(bottom)
        metrics = QFontMetrics(plot.getAxis("left").font())
        width = max((metrics.horizontalAdvance(t) for _, t in left[0]), default=20)
        plot.getAxis("left").setWidth(width + 30)
        plot.setRange(xRange=(0, len(classes)), yRange=(0, len(classes)), padding=0.02)

    @staticmethod
    def _short(name: str, width: int = 14) -> str:
        return name if len(name) <= width else name[: width - 1] + "…"
