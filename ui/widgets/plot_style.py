"""How every plot looks: dark text on white, and an empty plot that says it is empty.

Importing this module sets pyqtgraph's foreground (axes, tick labels, titles) to near-black:
its default light grey is hard to read on the white backgrounds HARLab uses. An empty plot
hides its placeholder 0-1 tick values and shows a short message instead.
"""

from __future__ import annotations

import pyqtgraph as pg

TEXT_COLOR = "#202020"
EMPTY_COLOR = "#555555"

pg.setConfigOptions(foreground=TEXT_COLOR, antialias=True)


class EmptyNote:
    """A centred message in a plot while it has no data; tick values hidden meanwhile."""

    def __init__(self, plot: pg.PlotWidget | pg.PlotItem, text: str):
        self.item = plot.getPlotItem() if isinstance(plot, pg.PlotWidget) else plot
        self.text = text
        self.label = pg.TextItem(text, color=EMPTY_COLOR, anchor=(0.5, 0.5))
        self.label.setZValue(10)
        self.item.addItem(self.label, ignoreBounds=True)
        self.empty = False
        self.set_empty(True)

    def set_empty(self, empty: bool, text: str | None = None) -> None:
        if text is not None:
            self.text = text
        self.label.setText(self.text if empty else "")
        self.label.setVisible(empty)
        for name in ("left", "bottom"):
            self.item.getAxis(name).setStyle(showValues=not empty)
        if empty:
            x, y = self.item.vb.viewRange()
            self.label.setPos((x[0] + x[1]) / 2, (y[0] + y[1]) / 2)
        self.empty = empty
