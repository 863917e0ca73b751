"""The line under the answers: labels, predictions and scores, hidden until an item is rated."""

from __future__ import annotations

import html

from harlab import rating
from harlab.rating.itemlog import ItemLog
from harlab.store import Project

HIDDEN = "<i>Labels, predictions and scores stay hidden until this item is rated.</i>"


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


def shown_frames(project: Project, item: rating.RatingItem, sides: tuple[str, str],
                 blind: bool) -> tuple[list, list]:
    """Frames for A and B: blind, the clean keyframes on both sides (what really happened,
    and nothing that tells which answer saw the attacked input); else each side's own."""
    return tuple([project.abspath(p) for p in (
        item.clean_frames if blind or side == "original" else item.adv_frames)]
        for side in sides)


def position_html(item: rating.RatingItem, index: int, total: int, log: ItemLog) -> str:
    marks = (" · <b style='color:#a06000'>superseded answers</b> (a re-ask replaced them; "
             "ratings kept)" if item.superseded else "")
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
