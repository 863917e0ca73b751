"""pyqtgraph views of an attacked keyframe: image grid with colour bars, top-5 bars, eps sweep.

All images are shown row-major (``(H, W)`` / ``(H, W, 3)`` arrays as NumPy holds them), with
the y axis pointing down like an image.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from harlab.attacks.heatmaps import amplified_delta, perturbation_map
from ui.widgets.plot_style import EmptyNote

HEAT_MAP = "inferno"
CAM_MAP = "turbo"


def _image_plot(layout: pg.GraphicsLayoutWidget, row: int, col: int,
                title: str) -> tuple[pg.PlotItem, pg.ImageItem]:
    plot = layout.addPlot(row=row, col=col, title=title)
    plot.hideAxis("left")
    plot.hideAxis("bottom")
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    plot.invertY(True)
    plot.setAspectLocked(True)
    image = pg.ImageItem(axisOrder="row-major")
    plot.addItem(image)
    return plot, image


class KeyframeGrid(pg.GraphicsLayoutWidget):
    """Original | adversarial | |delta| heatmap over signed delta | Grad-CAM clean | Grad-CAM adv.

    Row 1: the clean frame, the adversarial frame, and ``max_c |delta|`` in 1/255 units with a
    colour bar. Row 2: the signed delta amplified so that ``+-eps`` is white/black, and the
    Grad-CAM of the predicted class over the clean and over the adversarial frame (shared
    colour bar, 0-1).
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setBackground("w")
        self.plots: dict[str, pg.PlotItem] = {}
        self.images: dict[str, pg.ImageItem] = {}
        for key, row, col, title in [("clean", 0, 0, "Original"), ("adv", 0, 1, "Adversarial"),
                                     ("pert", 0, 2, "|perturbation|"),
                                     ("signed", 1, 0, "Signed perturbation"),
                                     ("cam_clean", 1, 1, "Grad-CAM (original)"),
                                     ("cam_adv", 1, 2, "Grad-CAM (adversarial)")]:
            self.plots[key], self.images[key] = _image_plot(self, row, col, title)
        # Grad-CAM is drawn over a faded copy of its frame.
        self.cam_bases: dict[str, pg.ImageItem] = {}
        for key in ("cam_clean", "cam_adv"):
            base = pg.ImageItem(axisOrder="row-major")
            base.setZValue(-1)
            self.plots[key].addItem(base)
            self.images[key].setOpacity(0.55)
            self.cam_bases[key] = base
        self.pert_bar = pg.ColorBarItem(values=(0, 8), colorMap=pg.colormap.get(HEAT_MAP),
                                        interactive=False, label="|delta| x255")
        self.pert_bar.setImageItem(self.images["pert"], insert_in=self.plots["pert"])
        self.cam_bar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get(CAM_MAP),
                                       interactive=False, label="Grad-CAM")
        self.cam_bar.setImageItem([self.images["cam_clean"], self.images["cam_adv"]],
                                  insert_in=self.plots["cam_adv"])

    def show_frame(self, clean: np.ndarray, adv: np.ndarray, delta: np.ndarray, eps: float,
                   cam_clean: np.ndarray | None = None, cam_adv: np.ndarray | None = None,
                   titles: dict[str, str] | None = None) -> None:
        """Show one keyframe.

        Shape:
            clean, adv: ``(H, W, 3)`` uint8; delta: ``(H, W, 3)`` float on the [0, 1] scale;
            cam_*: ``(H, W)`` in [0, 1] or None (hidden).
        """
        self.images["clean"].setImage(clean, levels=(0, 255))
        self.images["adv"].setImage(adv, levels=(0, 255))
        top = max(eps * 255.0, 1.0)
        self.images["pert"].setImage(perturbation_map(delta) * 255.0, levels=(0, top))
        self.pert_bar.setLevels((0, top))
        self.images["signed"].setImage(amplified_delta(delta, eps or None), levels=(0, 1))
        for key, frame, cam in (("cam_clean", clean, cam_clean), ("cam_adv", adv, cam_adv)):
            self.cam_bases[key].setImage(frame, levels=(0, 255))
            if cam is None:
                self.images[key].clear()
            else:
                self.images[key].setImage(np.asarray(cam, dtype=np.float32), levels=(0, 1))
        for key, text in (titles or {}).items():
            self.plots[key].setTitle(text)

    def clear(self) -> None:
        for image in [*self.images.values(), *self.cam_bases.values()]:
            image.clear()


class Top5Bars(pg.GraphicsLayoutWidget):
    """Two horizontal bar charts: the video-level top-5 classes (the mean softmax over its
    keyframes, which decides the video's class) before and after the attack."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setBackground("w")
        self.plots = {}
        self.bars: dict[str, pg.BarGraphItem | None] = {"clean": None, "adv": None}
        for col, (key, title) in enumerate((("clean", "Whole video, before the attack"),
                                            ("adv", "Whole video, after the attack"))):
            plot = self.addPlot(row=0, col=col, title=title)
            plot.setMouseEnabled(x=False, y=False)
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.setXRange(0, 1, padding=0)
            plot.invertY(True)
            plot.getAxis("bottom").setLabel("probability")
            plot.getAxis("left").setWidth(170)  # room for "ClassName 97%" tick labels
            plot.disableAutoRange()
            self.plots[key] = plot
        self.empty = {key: EmptyNote(plot, "pick a video or a sample")
                      for key, plot in self.plots.items()}

    def set_top5(self, key: str, top: Sequence[tuple[str, float]], true_label: str) -> None:
        plot = self.plots[key]
        if self.bars[key] is not None:
            plot.removeItem(self.bars[key])
        names = [name for name, _ in top]
        probs = [float(p) for _, p in top]
        brushes = [pg.mkBrush("#2e7d32") if n == true_label else
                   pg.mkBrush("#c62828" if i == 0 else "#90a4ae") for i, n in enumerate(names)]
        bars = pg.BarGraphItem(x0=0, y=np.arange(len(names)), height=0.7, width=probs,
                               brushes=brushes)
        plot.addItem(bars)
        self.bars[key] = bars
        plot.getAxis("left").setTicks([[(i, f"{n[:18]} {p:.0%}") for i, (n, p) in
                                        enumerate(zip(names, probs, strict=True))]])
        plot.setYRange(-0.5, max(len(names), 1) - 0.5, padding=0.05)
        plot.setXRange(0, 1, padding=0)
        self.empty[key].set_empty(not names)

    def values(self, key: str) -> list[float]:
        bars = self.bars[key]
        return [] if bars is None else [float(w) for w in bars.opts["width"]]


class SweepPlot(pg.PlotWidget):
    """Attack success rate (%) against eps (in 1/255 units), overall and per class."""

    COLOURS = ("#1565c0", "#ef6c00", "#6a1b9a", "#2e7d32", "#ad1457")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, background="w")
        self.setLabel("bottom", "eps (x 1/255)")
        self.setLabel("left", "success rate (%)")
        self.setYRange(0, 100)
        self.showGrid(x=True, y=True, alpha=0.3)
        self.legend = self.addLegend(offset=(-10, -10))  # bottom right: curves rise to the top
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.note = EmptyNote(self, "no sweep yet: press Run eps sweep")

    def set_result(self, eps_255: Sequence[float], overall: Sequence[float],
                   per_class: dict[str, Sequence[float]]) -> None:
        self.clear()
        self.legend.clear()
        self.curves = {}
        self.addItem(self.note.label, ignoreBounds=True)  # clear() removed it
        if not len(eps_255):
            self.setXRange(0, 16)
            self.setYRange(0, 100)
            self.note.set_empty(True)
            return
        self.note.set_empty(False)
        series = {"all classes": overall, **per_class}
        for i, (name, rates) in enumerate(series.items()):
            pen = pg.mkPen(self.COLOURS[i % len(self.COLOURS)], width=3 if i == 0 else 1.5)
            self.curves[name] = self.plot(list(eps_255), [100.0 * r for r in rates], pen=pen,
                                          symbol="o", symbolSize=6, name=name,
                                          symbolBrush=self.COLOURS[i % len(self.COLOURS)])
        self.setYRange(0, 100)
