"""What a training run produced: the epoch table and the evaluation (confusion + metrics)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from ui.widgets.confusion_matrix import ConfusionMatrixView

EPOCH_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "time_s"]
EVAL_HINT = "Evaluate the best checkpoint on the fold's test split."


def _cell_text(key: str, value: Any) -> str:
    if value in ("", None):
        return ""
    if key.endswith("acc"):
        return f"{value:.1%}"
    if key == "lr":
        return f"{value:.2e}"
    if key.endswith("loss"):
        return f"{value:.4f}"
    return f"{value:.1f}" if key == "time_s" else str(value)


class EpochTable(QTableWidget):
    """One row per epoch; the best epoch is bold and starred."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(0, len(EPOCH_COLUMNS), parent)
        self.setHorizontalHeaderLabels([c.replace("_", " ") for c in EPOCH_COLUMNS])
        self.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QTableWidget.NoEditTriggers)
        self.history: list[dict[str, Any]] = []
        self.best_epoch = 0

    def clear_rows(self) -> None:
        self.history, self.best_epoch = [], 0
        self.setRowCount(0)

    def set_history(self, history: list[dict[str, Any]], best_epoch: int) -> None:
        self.clear_rows()
        for row in history:
            self._append(row)
        self.best_epoch = best_epoch or self.best_epoch
        self._mark_best()

    def add_epoch(self, row: dict[str, Any], best_epoch: int | None = None) -> None:
        self._append(row)
        if best_epoch:
            self.best_epoch = best_epoch
        self._mark_best()

    def _append(self, row: dict[str, Any]) -> None:
        self.history.append(row)
        if row.get("best"):
            self.best_epoch = row["epoch"]
        r = self.rowCount()
        self.insertRow(r)
        for c, key in enumerate(EPOCH_COLUMNS):
            self.setItem(r, c, QTableWidgetItem(_cell_text(key, row.get(key, ""))))

    def _mark_best(self) -> None:
        for r, h in enumerate(self.history):
            best = h["epoch"] == self.best_epoch
            for c in range(self.columnCount()):
                item = self.item(r, c)
                font = QFont(item.font())
                font.setBold(best)
                item.setFont(font)
            self.item(r, 0).setText(f"{h['epoch']} ★" if best else str(h["epoch"]))


class EvaluationView(QWidget):
    """The confusion matrix and the headline metrics of an EvalResult."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.confusion = ConfusionMatrixView()
        self.metrics = QLabel(EVAL_HINT, wordWrap=True)
        self.metrics.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.metrics.setMinimumWidth(220)
        self.metrics.setAlignment(Qt.AlignTop)
        layout = QHBoxLayout(self)
        layout.addWidget(self.confusion, 2)
        layout.addWidget(self.metrics, 1)

    def show_result(self, result: Any) -> None:
        self.confusion.set_matrix(result.confusion, result.classes)
        worst = sorted(result.per_class_acc.items(), key=lambda kv: kv[1])[:5]
        self.metrics.setText(
            f"<b>Video</b> top-1 {result.video_top1:.1%}, top-5 {result.video_top5:.1%}<br>"
            f"<b>Frame</b> top-1 {result.frame_top1:.1%}, top-5 {result.frame_top5:.1%}<br>"
            f"{result.n_videos} videos, {result.n_frames} frames<br><br><b>Lowest classes"
            "</b><br>" + "<br>".join(f"{name}: {acc:.0%}" for name, acc in worst))

    def clear_result(self, text: str = EVAL_HINT) -> None:
        self.confusion.clear_matrix()
        self.metrics.setText(text)
