"""Word-level differences between an original and an attacked response (difflib)."""

from __future__ import annotations

import difflib
import html
import re

from PySide6.QtWidgets import QTextBrowser, QWidget

_TOKEN = re.compile(r"\S+|\s+")
REMOVED_STYLE = "background-color:#f8d0d0;color:#8a1010;text-decoration:line-through;"
ADDED_STYLE = "background-color:#c9f0c9;color:#0d5a0d;"


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
    """HTML of ``a`` with removed words marked and of ``b`` with added words marked."""
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
