"""Per annotator and item: time spent, skips and flags (each with a reason); the blind policy.

Time is summed over visits (seconds on screen while rating), so a study can report effort per
item. A *skip* moves past an item the annotator cannot rate now (it is left out of "next
unrated"); a *flag* asks for a second look. Both need a reason. Writes here never wait on the
database lock: :func:`add_time` returns False when the store is busy, and the caller keeps
the seconds to add later.

The blind policy is a project setting (meta ``rating/blind``): ``locked`` (the default: every
annotator rates blind) or ``optional`` (an annotator may unblind; every rating they then give
is stored with ``unblinded = 1``, even after they switch blind mode back on, since they have
seen the key). Whoever sets up the study chooses it (``harlab rate setup --blind``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from harlab.errors import InputError
from harlab.rating.busy import RatingNotSaved, no_wait
from harlab.rating.session import Annotator, RatingItem
from harlab.rating.supersede import require_current
from harlab.store import Project

BLIND_KEY = "rating/blind"
BLIND_POLICIES = ("locked", "optional")
MAX_REASON = 500

_UPSERT = """
INSERT INTO item_log (annotator_id, sample_id, modality, original_response_id,
                      attacked_response_id, seconds, skipped, flag, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (annotator_id, original_response_id, attacked_response_id) DO UPDATE SET
    seconds = seconds + excluded.seconds, updated_at = excluded.updated_at
"""


@dataclass(frozen=True)
class ItemLog:
    seconds: float = 0.0
    skipped: bool = False
    flag: str | None = None


def blind_policy(project: Project) -> str:
    value = project.get_meta(BLIND_KEY, "locked")
    return value if value in BLIND_POLICIES else "locked"


def set_blind_policy(project: Project, policy: str) -> None:
    if policy not in BLIND_POLICIES:
        raise InputError(f"blind policy must be one of {', '.join(BLIND_POLICIES)}, got "
                         f"{policy!r}")
    project.set_meta(BLIND_KEY, policy)


def _ensure(project: Project, annotator: Annotator, item: RatingItem, seconds: float) -> None:
    project.execute(_UPSERT, (annotator.id, item.sample_id, item.modality, item.original_id,
                              item.attacked_id, seconds, 0, None, time.time()))


def add_time(project: Project, annotator: Annotator, item: RatingItem, seconds: float) -> bool:
    """Add ``seconds`` on ``item``; False (nothing written) while the store is busy."""
    if seconds < 0:
        raise InputError(f"seconds must be >= 0, got {seconds}")
    try:
        with no_wait(project):
            _ensure(project, annotator, item, float(seconds))
    except RatingNotSaved:
        return False
    return True


def _reason(reason: object) -> str:
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise InputError(f"a skip or flag needs a reason of 1 to {MAX_REASON} characters, got "
                         f"{str(reason)[:40]!r}; say why in a few words")
    return reason.strip()


def set_skip(project: Project, annotator: Annotator, item: RatingItem, reason: str | None
             ) -> None:
    """Skip ``item`` with a reason (``None`` un-skips it).

    Raises:
        PairSuperseded: ``item``'s pair was replaced by a re-ask (its log is read-only).
    """
    require_current(project, item)
    text = None if reason is None else _reason(reason)
    _ensure(project, annotator, item, 0.0)
    project.execute("UPDATE item_log SET skipped = ?, flag = CASE WHEN ? IS NULL THEN flag "
                    "ELSE ? END, updated_at = ? WHERE annotator_id = ? AND "
                    "original_response_id = ? AND attacked_response_id = ?",
                    (int(text is not None), text, text, time.time(), annotator.id,
                     item.original_id, item.attacked_id))


def set_flag(project: Project, annotator: Annotator, item: RatingItem, reason: str | None
             ) -> None:
    """Flag ``item`` for a second look with a reason (``None`` clears the flag).

    Raises:
        PairSuperseded: ``item``'s pair was replaced by a re-ask (its log is read-only).
    """
    require_current(project, item)
    text = None if reason is None else _reason(reason)
    _ensure(project, annotator, item, 0.0)
    project.execute("UPDATE item_log SET flag = ?, updated_at = ? WHERE annotator_id = ? AND "
                    "original_response_id = ? AND attacked_response_id = ?",
                    (text, time.time(), annotator.id, item.original_id, item.attacked_id))


def mark_unblinded(project: Project, annotator: Annotator) -> bool:
    """Remember that ``annotator`` unblinded: every rating they give from now on is marked.
    False (nothing written) while the store is busy."""
    try:
        with no_wait(project):
            project.set_meta(f"rating/unblinded/{annotator.id}", "1")
    except RatingNotSaved:
        return False
    return True


def was_unblinded(project: Project, annotator: Annotator) -> bool:
    return project.get_meta(f"rating/unblinded/{annotator.id}") == "1"


def item_log(project: Project, annotator: Annotator, item: RatingItem) -> ItemLog:
    row = project.query_one("SELECT seconds, skipped, flag FROM item_log WHERE annotator_id = ? "
                            "AND original_response_id = ? AND attacked_response_id = ?",
                            (annotator.id, item.original_id, item.attacked_id))
    return ItemLog() if row is None else ItemLog(row["seconds"], bool(row["skipped"]),
                                                 row["flag"])


def skipped_pairs(project: Project, annotator: Annotator) -> set[tuple[int, int]]:
    return {(r["o"], r["a"]) for r in project.query(
        "SELECT original_response_id AS o, attacked_response_id AS a FROM item_log "
        "WHERE annotator_id = ? AND skipped = 1", (annotator.id,))}
