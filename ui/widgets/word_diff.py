"""Word-level differences between an original and an attacked response (difflib)."""

from __future__ import annotations

import difflib
import html
import re

from PySide6.QtWidgets import QTextBrowser, QWidget

_TOKEN = re.compile(r"\S+|\s+")
REMOVED_BACKGROUND = "#f8d0d0"  # soft red: only in the original answer
ADDED_BACKGROUND = "#c9f0c9"    # soft green: only in the attacked answer
# A pale background, never a strike-through, so every word stays readable; the text colour
# is set too, so a dark palette's light text does not vanish on it.
REMOVED_STYLE = f"background-color:{REMOVED_BACKGROUND};color:#1a1a1a;"
ADDED_STYLE = f"background-color:{ADDED_BACKGROUND};color:#1a1a1a;"


def word_opcodes(a: str, b: str) -> list[tuple[str, str, str]]:
    """``(op, a_text, b_text)`` runs, op in equal/delete/insert/replace, over whole words."""
    wa, wb = a.split(), b.split()
    matcher = difflib.SequenceMatcher(a=wa, b=wb, autojunk=False)
    return [(op, " ".join(wa[i1:i2]), " ".join(wb[j1:j2]))
            for op, i1, i2, j1, j2 in matcher.get_opcodes()]


def word_similarity(a: str, b: str) -> float:
    """difflib's ratio over words: 1.0 identical, 0.0 nothing in common."""
    wa, wb = a.split(), b.split()
    if not wa and not wb:
        return 1.0
    return difflib.SequenceMatcher(a=wa, b=wb, autojunk=False).ratio()


def diff_html(a: str, b: str) -> tuple[str, str]:
    """HTML of ``a`` with the words only in it on soft red, and of ``b`` with the words only in
    it on soft green (see :func:`legend_html`)."""
    left, right = [], []
    for op, ta, tb in word_opcodes(a, b):
        ea, eb = html.escape(ta), html.escape(tb)
        if op == "equal":
            left.append(ea)
            right.append(eb)
            continue
        if ta:
            left.append(f'<span style="{REMOVED_STYLE}">{ea}</span>')
        if tb:
            right.append(f'<span style="{ADDED_STYLE}">{eb}</span>')
    return " ".join(p for p in left if p), " ".join(p for p in right if p)


def legend_html() -> str:
    """The one-line key to :func:`diff_html`'s marking, with its two colours as swatches."""
    return (f'<span style="{REMOVED_STYLE}">red</span>: only in the original, '
            f'<span style="{ADDED_STYLE}">green</span>: only in the attacked answer')


class WordDiffView(QTextBrowser):
    """A read-only response; ``show_diff(text, html)`` marks the words that changed."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setReadOnly(True)
        self.plain = ""

    def show_plain(self, text: str) -> None:
        self.plain = text
        self.setPlainText(text)

    def show_diff(self, text: str, marked_html: str) -> None:
        self.plain = text
        self.setHtml(f"<div style='white-space:pre-wrap'>{marked_html}</div>")
