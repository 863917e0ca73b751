"""Rater instructions: the rubric's questions with what each answer means, collapsible.

Built from the rubric itself (prompt, the type's help line, anchors, choices), so it always
matches the form.
Toggle with the "Instructions" button or the ``i`` key.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTextBrowser, QToolButton, QVBoxLayout, QWidget

from harlab.rating.rubric import Rubric

GENERAL = ("Rate each answer on its own merits; A and B are in a random order that stays "
           "sealed until export. The frames (the clean keyframes, the same on both sides) "
           "show what really happened: judge 'identifies the action' and 'fits the true "
           "situation' against them. s skips an item (with a reason), f flags it for a second "
           "look; PgUp/PgDn scroll the answers.")


def guide_html(rubric: Rubric) -> str:
    parts = [f"<p>{html.escape(GENERAL)}</p><ol>"]
    for item in rubric.items:
        prompt = html.escape(item.prompt.replace("{response}", "A / B"))
        extra = " <i>(asked for A and for B)</i>" if item.per_response else ""
        parts.append(f"<li><b>{prompt}</b>{extra}<br>{html.escape(item.kind.help)}")
        if item.anchors:
            parts.append("<br>" + " · ".join(f"<b>{v}</b> = {html.escape(t)}"
                                             for v, t in item.anchors))
        if item.choices:
            parts.append("<br>" + " · ".join(f"<b>{n}</b> {html.escape(c)}"
                                             for n, c in enumerate(item.choices, start=1)))
        if not item.required:
            parts.append(" <i>(optional)</i>")
        parts.append("</li>")
    return "".join(parts) + "</ol>"


class RatingGuide(QWidget):
    """A toggle button and the instructions under it (hidden until opened)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.toggle = QToolButton()
        self.toggle.setText("Instructions (i)")
        self.toggle.setCheckable(True)
        self.toggle.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.toggled.connect(self.set_open)
        layout.addWidget(self.toggle)
        self.text = QTextBrowser()
        self.text.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.text.setMaximumHeight(170)
        self.text.hide()
        layout.addWidget(self.text)

    def set_rubric(self, rubric: Rubric | None) -> None:
        self.text.setHtml(guide_html(rubric) if rubric is not None else "")

    def set_open(self, open_: bool) -> None:
        self.toggle.blockSignals(True)
        self.toggle.setChecked(open_)
        self.toggle.blockSignals(False)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if open_ else Qt.ArrowType.RightArrow)
        self.text.setVisible(open_)
