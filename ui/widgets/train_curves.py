"""Training curves: loss and learning rate per step, train/val accuracy per epoch.

Live, steps arrive many times a second on a long run; they are buffered and drawn on a timer
so the GUI thread never redraws per step. A stored run draws its saved (thinned) step curve.
An empty plot says so instead of showing placeholder axes.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import QHBoxLayout, QWidget

from ui.widgets.plot_style import EmptyNote

REDRAW_MS = 250


class TrainCurvesView(QWidget):
    """Three plots side by side; the best epoch is marked with a dashed line."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._steps: list[float] = []
        self._losses: list[float] = []
        self._lrs: list[float] = []
        self._dirty = False
        self.loss_plot = pg.PlotWidget(background="w", title="Loss per step")
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen("#1f77b4", width=1))
        self.acc_plot = pg.PlotWidget(background="w", title="Accuracy per epoch")
        self.acc_plot.addLegend(offset=(-10, -30))
        self.acc_plot.setYRange(0, 1)
        self.train_acc_curve = self.acc_plot.plot(pen=pg.mkPen("#ff7f0e", width=2), symbol="o",
                                                  symbolSize=5, name="train")
        self.val_acc_curve = self.acc_plot.plot(pen=pg.mkPen("#2ca02c", width=2), symbol="o",
                                                symbolSize=5, name="val")
        self.best_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#d62728", style=Qt.DashLine),
                                         label="best", labelOpts={"position": 0.1,
                                                                    "color": "#d62728"})
        self.best_line.setVisible(False)
        self.acc_plot.addItem(self.best_line)
        self.lr_plot = pg.PlotWidget(background="w", title="Learning rate (×1e-3)")
        self.lr_curve = self.lr_plot.plot(pen=pg.mkPen("#9467bd", width=1))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for plot, label in ((self.loss_plot, "step"), (self.acc_plot, "epoch"),
                            (self.lr_plot, "step")):
            plot.setLabel("bottom", label)
            plot.setMinimumHeight(150)
            layout.addWidget(plot)
        self.notes = {"loss": EmptyNote(self.loss_plot, "no steps yet"),
                      "acc": EmptyNote(self.acc_plot, "no epochs yet"),
                      "lr": EmptyNote(self.lr_plot, "no steps yet")}
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._timer.start()

    def clear(self, note: str = "no steps yet") -> None:
        self._steps, self._losses, self._lrs = [], [], []
        self.train_acc_curve.setData([], [])
        self.val_acc_curve.setData([], [])
        self.best_line.setVisible(False)
        self.notes["acc"].set_empty(True)
        for key in ("loss", "lr"):
            self.notes[key].set_empty(True, note)
        self._dirty = True

    def set_steps(self, steps: list[int], losses: list[float], lrs: list[float]) -> None:
        """Show a stored run's step curve (replaces any buffered steps)."""
        self._steps, self._losses, self._lrs = list(steps), list(losses), list(lrs)
        self._dirty = True
        if not steps:
            for key in ("loss", "lr"):
                self.notes[key].set_empty(True, "no per-step curve stored\n(a run of an "
                                                "older release)")
        self.flush()

    def add_step(self, step: int, loss: float, lr: float) -> None:
        """Buffer one training step; drawn at the next timer tick."""
        self._steps.append(step)
        self._losses.append(loss)
        self._lrs.append(lr)
        self._dirty = True

    def set_epochs(self, history: list[dict[str, Any]], best_epoch: int) -> None:
        """Redraw the accuracy curves from epoch rows (``epoch``, ``train_acc``, ``val_acc``)."""
        epochs = [h["epoch"] for h in history]
        self.train_acc_curve.setData(epochs, [h["train_acc"] for h in history])
        self.val_acc_curve.setData(epochs, [h["val_acc"] for h in history])
        self.best_line.setPos(best_epoch)
        self.best_line.setVisible(best_epoch > 0)
        self.notes["acc"].set_empty(not epochs)

    def flush(self) -> None:
        """Draw buffered steps now."""
        if not self._dirty:
            return
        self._dirty = False
        self.loss_curve.setData(self._steps, self._losses)
        self.lr_curve.setData(self._steps, [lr * 1e3 for lr in self._lrs])
        if self._steps:
            for key in ("loss", "lr"):
                self.notes[key].set_empty(False)

    @Slot()
    def _on_timer_timeout(self) -> None:
        self.flush()
