"""Asking again after rating: say what would be superseded and let the user choose.

A re-ask makes a new draw (new seed) and never deletes the rated answers; the user picks
whether the study then uses the new answers (the rated pair is kept, marked superseded) or
keeps the rated pair.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from harlab.rating.supersede import RatedPair

USE_NEW = "use_new"
KEEP_RATED = "keep_rated"


def confirm_reask(parent: QWidget, warning: str) -> str | None:
    """``USE_NEW``, ``KEEP_RATED``, or None (cancelled); Esc cancels."""
    box = QMessageBox(QMessageBox.Icon.Warning, "Ask again?", warning, parent=parent)
    box.setInformativeText("Which answers should the study use afterwards?")
    use_new = box.addButton("Ask again, use the &new answers",
                            QMessageBox.ButtonRole.AcceptRole)
    keep = box.addButton("Ask again, &keep the rated pair", QMessageBox.ButtonRole.AcceptRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.setEscapeButton(cancel)
    box.exec()
    return {use_new: USE_NEW, keep: KEEP_RATED}.get(box.clickedButton())


def superseded_text(pairs: list[RatedPair]) -> str:
    """One line on the rated pairs that are no longer current (empty when none)."""
    old = [p for p in pairs if not p.current]
    if not old:
        return ""
    return " · superseded rated answers kept: " + "; ".join(
        f"draw {p.draw} (answers {p.original_id}/{p.attacked_id}, {p.n_ratings} ratings by "
        f"{', '.join(p.annotators)})" for p in old)
