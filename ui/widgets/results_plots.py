"""Plots of the Results panel: distributions, syntactic vs semantic, drift vs the noise floor.

Each plot takes plain numbers (records from :mod:`harlab.scoring.results`); none reads the
store. :func:`export_plot` writes any of them as PNG or SVG.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from pyqtgraph import exporters
from PySide6.QtCore import QRectF, Qt, Signal, Slot
from PySide6.QtGui import QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QWidget

from harlab.errors import InputError
from harlab.vocab import MODALITIES
from ui.widgets.plot_style import EmptyNote

COLORS = {"unimodal": "#1f77b4", "multimodal": "#ff7f0e"}


def export_plot(plot: pg.PlotWidget, path: str | Path) -> Path:
    """Write ``plot`` as PNG (``.png``) or SVG (``.svg``), chosen by the suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise InputError(f"figure file {path.name!r} must end in .png or .svg")
    if suffix == ".png":
        exporter = exporters.ImageExporter(plot.plotItem)
        exporter.parameters()["width"] = max(int(plot.width()), 800)
        exporter.export(str(path))
        return path
    try:
        exporters.SVGExporter(plot.plotItem).export(str(path))
    except ValueError:
        # pyqtgraph 0.14's SVG exporter cannot parse the path syntax of newer Qt
        # (pyqtgraph/pyqtgraph#3485); Qt's own SVG generator draws the same scene.
        _render_svg(plot, path)
    return path


def _render_svg(plot: pg.PlotWidget, path: Path) -> None:
    source = plot.plotItem.sceneBoundingRect()
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(source.size().toSize())
    generator.setViewBox(QRectF(0, 0, source.width(), source.height()))
    generator.setTitle(plot.plotItem.titleLabel.text or "HARLab figure")
    painter = QPainter(generator)
    try:
        plot.scene().render(painter, QRectF(0, 0, source.width(), source.height()), source)
    finally:
        painter.end()


class DistributionPlot(pg.PlotWidget):
    """Strip plot of one metric per modality, with the mean and its CI as an error bar."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, background="w", title="Distribution per modality")
        self.setLabel("left", "value")
        self.getAxis("left").enableAutoSIPrefix(False)  # cosines in [0, 1], not "x0.001"
        self.showGrid(y=True, alpha=0.2)
        self.getAxis("bottom").setTicks([[(i, m) for i, m in enumerate(MODALITIES)]])
        self.strips = {m: pg.ScatterPlotItem(size=6, pen=None,
                                             brush=pg.mkBrush(COLORS[m] + "99"))
                       for m in MODALITIES}
        for item in self.strips.values():
            self.addItem(item)
        self.means = pg.ScatterPlotItem(size=12, symbol="d", pen=pg.mkPen("k"),
                                        brush=pg.mkBrush("w"))
        self.error_bars = pg.ErrorBarItem(x=np.zeros(0), y=np.zeros(0), beam=0.15,
                                          pen=pg.mkPen("k", width=2))
        self.addItem(self.error_bars)
        self.addItem(self.means)
        self.setXRange(-0.6, 1.6)
        self.note = EmptyNote(self, "no scores yet")

    def set_values(self, metric: str, values: dict[str, Sequence[float]],
                   cis: dict[str, tuple[float | None, float | None]]) -> None:
        """Show ``values[modality]``; ``cis[modality]`` is (low, high) of the mean."""
        self.setTitle(f"{metric} per modality")
        rng = np.random.default_rng(0)  # fixed jitter: the same data always looks the same
        xs, ys, tops, bottoms = [], [], [], []
        for i, modality in enumerate(MODALITIES):
            v = np.asarray(values.get(modality, []), dtype=float)
            self.strips[modality].setData(i + rng.uniform(-0.25, 0.25, len(v)), v)
            if len(v):
                mean = float(v.mean())
                low, high = cis.get(modality, (None, None))
                xs.append(i)
                ys.append(mean)
                tops.append(0.0 if high is None else high - mean)
                bottoms.append(0.0 if low is None else mean - low)
        self.means.setData(xs, ys)
        self.note.set_empty(not xs)
        self.getAxis("bottom").setStyle(showValues=True)  # the modality names stay
        self.error_bars.setData(x=np.asarray(xs, float), y=np.asarray(ys, float),
                                top=np.asarray(tops, float), bottom=np.asarray(bottoms, float))

    def point_count(self) -> int:
        return sum(len(s.data) for s in self.strips.values())


class ScoreScatter(pg.PlotWidget):
    """Syntactic (x) vs semantic (y) cosine per pair; clicking a point emits its sample.

    Signals:
        pair_clicked(int, str): sample id and modality of the clicked point.
    """

    pair_clicked = Signal(int, str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, background="w", title="Syntactic vs semantic cosine")
        self.setLabel("bottom", "syntactic cosine")
        self.setLabel("left", "semantic cosine")
        for side in ("left", "bottom"):
            self.getAxis(side).enableAutoSIPrefix(False)
        self.showGrid(x=True, y=True, alpha=0.2)
        self.addLegend(offset=(10, 10))
        self.series: dict[str, pg.ScatterPlotItem] = {}
        for modality in MODALITIES:
            item = pg.ScatterPlotItem(size=8, pen=pg.mkPen("w"),
                                      brush=pg.mkBrush(COLORS[modality]), name=modality,
                                      hoverable=True)
            item.sigClicked.connect(self._on_points_clicked)
            self.addItem(item)
            self.series[modality] = item
        self.note = EmptyNote(self, "no pairs with both cosines yet")

    def set_points(self, points: Sequence[tuple[int, str, float, float]]) -> None:
        """``(sample_id, modality, syntactic, semantic)`` per pair with both values."""
        for modality, item in self.series.items():
            mine = [p for p in points if p[1] == modality]
            item.setData([p[2] for p in mine], [p[3] for p in mine],
                         data=[(p[0], p[1]) for p in mine],
                         tip=lambda x, y, data: f"sample #{data[0]} {data[1]}\n"
                                                f"syntactic {x:.3f}, semantic {y:.3f}")
        self.note.set_empty(not points)

    def point_count(self) -> int:
        return sum(len(s.data) for s in self.series.values())

    @Slot(object, object, object)
    def _on_points_clicked(self, _item: Any, points: Any, _event: Any) -> None:
        if len(points):
            sample_id, modality = points[0].data()
            self.pair_clicked.emit(int(sample_id), str(modality))


class DriftPlot(pg.PlotWidget):
    """Per sample: mean similarity to its clean re-draws (x) vs to the attacked answer (y).

    Points below the diagonal drifted more under attack than the answers vary on their own.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, background="w", title="Drift vs the noise floor")
        self.setLabel("bottom", "noise floor: original vs clean re-draws (mean)")
        self.setLabel("left", "drift: original vs attacked")
        for side in ("left", "bottom"):
            self.getAxis(side).enableAutoSIPrefix(False)
        self.showGrid(x=True, y=True, alpha=0.2)
        self.addLegend(offset=(10, 10))
        self.diagonal = pg.InfiniteLine(pos=(0, 0), angle=45,
                                        pen=pg.mkPen("#888", style=Qt.PenStyle.DashLine))
        self.addItem(self.diagonal)
        self.series = {m: pg.ScatterPlotItem(size=8, pen=None, brush=pg.mkBrush(COLORS[m]),
                                             name=m) for m in MODALITIES}
        for item in self.series.values():
            self.addItem(item)
        self.note = EmptyNote(self, "")
        self.message = self.note.label

    def set_rows(self, metric: str, rows: Sequence[Any]) -> None:
        """Rows with ``modality``, ``drift`` and ``noise`` (see ``harlab.scoring.NoiseRow``)."""
        self.setTitle(f"Drift vs the noise floor ({metric})")
        shown = 0
        for modality, item in self.series.items():
            mine = [r for r in rows if r.modality == modality and r.noise and r.drift is not None]
            item.setData([float(np.mean(r.noise)) for r in mine], [r.drift for r in mine])
            shown += len(mine)
        self.note.set_empty(not shown, "No noise floor yet: ask the model with a noise floor\n"
                                       "(Responses panel) and score again.")

    def point_count(self) -> int:
        return sum(len(s.data) for s in self.series.values())
