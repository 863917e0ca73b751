"""One cell of the Responses grid: a request's prompt, frames sent, answer, status and retry."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from harlab.llm.records import RequestRecord
from ui.widgets.word_diff import WordDiffView

STATUS_COLORS = {"ok": "#106010", "failed": "#a01010", "skipped": "#8a6d00",
                 "missing": "#666666"}


class ResponseCell(QFrame):
    """One request: prompt, frames sent, answer, status and retry.

    Signals:
        retry_requested(str): the cell's modality, to ask again.
    """

    retry_requested = Signal(str)

    def __init__(self, modality: str, variant: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.modality, self.variant = modality, variant
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        title = QLabel(f"<b>{modality.capitalize()} · {variant}</b>")
        layout.addWidget(title)
        self.prompt_label = QLabel()
        self.prompt_label.setWordWrap(True)
        self.prompt_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.prompt_label.setStyleSheet("color:#444;")
        layout.addWidget(self.prompt_label)
        self.thumbs = QHBoxLayout()
        self.thumbs.setSpacing(3)
        thumbs_holder = QWidget()
        thumbs_holder.setLayout(self.thumbs)
        self.thumbs.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(thumbs_holder)
        self.response_view = WordDiffView()
        self.response_view.setMinimumHeight(90)
        layout.addWidget(self.response_view, 1)
        bottom = QHBoxLayout()
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        bottom.addWidget(self.status_label, 1)
        self.retry_button = QPushButton("Retry")
        self.retry_button.clicked.connect(self._on_retry_clicked)
        bottom.addWidget(self.retry_button)
        layout.addLayout(bottom)
        self.status = "missing"

    @Slot()
    def _on_retry_clicked(self) -> None:
        self.retry_requested.emit(self.modality)

    def set_request(self, row: RequestRecord | None, frames: list[QPixmap], prompt: str, *,
                    reason_below: bool = False) -> None:
        """Show ``row`` (None: not asked yet).

        Args:
            reason_below: the panel states this skipped request's reason once, below the
                pair, because the other side has the same one; the cell then only points there
                instead of repeating it.
        """
        while self.thumbs.count():
            item = self.thumbs.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for pix in frames:
            thumb = QLabel()
            thumb.setPixmap(pix)
            self.thumbs.addWidget(thumb)
        self.thumbs.addStretch(1)
        self.prompt_label.setText(prompt or "<i>(no prompt)</i>")
        self.status = row.status if row is not None else "missing"
        color = STATUS_COLORS.get(self.status, "#333")
        if row is None:
            detail = "not asked yet"
        elif self.status == "ok":
            source = "from the store" if row.cached else f"{row.attempts} attempt(s)"
            latency = f", {row.latency_s:.2f} s" if row.latency_s else ""
            detail = f"{row.model}, {row.tokens} tokens, {source}{latency}"
        elif reason_below:
            detail = "same reason for both sides, below"
        else:
            detail = html.escape(row.error or "no reason was stored", quote=False)
        self.status_label.setText(f"<span style='color:{color}'><b>{self.status}</b></span> "
                                  f"· {detail}")
        self.retry_button.setText("Retry" if self.status in {"failed", "missing"} else "Ask again")
        self.retry_button.setEnabled(self.status != "skipped")
        if row is not None and self.status == "ok":
            self.response_view.show_plain(row.response_text or "")
        else:
            # the status line below says what happened and why: the empty answer does not
            self.response_view.show_plain("")
            self.response_view.setPlaceholderText(
                "press Ask model" if self.status == "missing" else "no answer")
