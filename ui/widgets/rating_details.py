"""The lines around the answers: labels, predictions and scores (hidden until an item is
rated), the item's position, and why a superseded item is read-only."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QLabel

from harlab import rating
from harlab.rating.itemlog import ItemLog
from harlab.rating.supersede import read_only_reason
from harlab.store import Project

HIDDEN = "<i>Labels, predictions and scores stay hidden until this item is rated.</i>"
READ_ONLY_KEYS = ("Read-only: a re-ask replaced these answers, so rating, skip and flag keys do "
                  "nothing here (the line above the questions says how to rate them again).")


def details_html(project: Project, item: rating.RatingItem, status: str, blind: bool) -> str:
    """What the annotator may see now: nothing revealing in blind mode before ``rated``."""
    if blind and status != "rated":
        return HIDDEN
    scores = rating.item_scores(project, item)
    shown = ", ".join(f"{k} {v:.3f}" if v is not None else f"{k} –"
                      for k, v in scores.items()) or "none yet"
    sealed = (" · which answer was A stays sealed until the ratings are exported (Ratings…, "
              "Export)" if blind else " · <b>unblinded</b>: your ratings are marked so")
    superseded = " · <b>superseded answers</b>" if item.superseded else ""
    return (f"True action <b>{html.escape(item.true_label)}</b> · clean prediction "
            f"{html.escape(item.clean_pred)} → attacked prediction {html.escape(item.adv_pred)} "
            f"({html.escape(item.attack)}, eps {item.eps * 255:.1f}/255) · scores: "
            f"{shown}{superseded}{sealed}")


def details_for(project: Project | None, annotator: rating.Annotator | None,
                item: rating.RatingItem | None, rubric: rating.Rubric | None, blind: bool) -> str:
    """:func:`details_html` for the item's rating status now (empty with nothing shown)."""
    if project is None or annotator is None or item is None or rubric is None:
        return ""
    return details_html(project, item, rating.item_status(project, annotator, item, rubric),
                        blind)


def progress_html(project: Project | None, annotator: rating.Annotator | None,
                  rubric: rating.Rubric | None, filters: rating.ItemFilter) -> str:
    """``rated / total`` of the filtered items (empty before an annotator starts)."""
    if project is None or annotator is None or rubric is None:
        return ""
    done = rating.progress(project, annotator, rubric, filters)
    extra = f" · {done.superseded} superseded" if done.superseded else ""
    return f"<b>{done.rated} / {done.total}</b> rated{extra}"


def show_blind_policy(check: QCheckBox, policy: str) -> None:
    """Let the annotator unblind only where the study's policy is ``optional``."""
    optional = policy == "optional"
    check.setEnabled(optional)
    check.setToolTip("This study lets annotators unblind; every rating you give unblinded is "
                     "marked so" if optional else "Blind mode is locked for this study "
                     "(harlab rate setup --blind optional allows unblinding)")


def read_only_label() -> QLabel:
    """The line above a superseded item's disabled form (hidden for a current item)."""
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)  # ids and quotes shown as they are
    label.setWordWrap(True)
    label.setStyleSheet("color:#a06000;")
    label.hide()
    return label


def show_read_only(label: QLabel, item: rating.RatingItem | None) -> None:
    """Say why a superseded item cannot be rated and how to make it current again."""
    superseded = item is not None and item.superseded
    label.setText(read_only_reason(item) if superseded else "")
    label.setVisible(superseded)


def shown_frames(project: Project, item: rating.RatingItem, sides: tuple[str, str],
                 blind: bool) -> tuple[list, list]:
    """Frames for A and B: blind, the clean keyframes on both sides (what really happened,
    and nothing that tells which answer saw the attacked input); else each side's own."""
    return tuple([project.abspath(p) for p in (
        item.clean_frames if blind or side == "original" else item.adv_frames)]
        for side in sides)


def position_html(item: rating.RatingItem, index: int, total: int, log: ItemLog) -> str:
    marks = (" · <b style='color:#a06000'>superseded answers</b> (a re-ask replaced them; "
             "ratings kept, read-only)" if item.superseded else "")
    marks += " · skipped" if log.skipped else ""
    marks += f" · flagged: {html.escape(log.flag)}" if log.flag else ""
    return f"Item {index + 1} of {total} · sample #{item.sample_id} · {item.modality}{marks}"


def index_after_reload(listed: list[rating.RatingItem], current: rating.RatingItem | None
                       ) -> int:
    """Where to stand after re-listing: on the same pair (superseded since, if a re-ask
    replaced it), else on the same (sample, modality), else the first item."""
    if current is not None:
        for n, i in enumerate(listed):
            if (i.original_id, i.attacked_id) == (current.original_id, current.attacked_id):
                return n
        for n, i in enumerate(listed):
            if i.key == current.key:
                return n
    return 0 if listed else -1
