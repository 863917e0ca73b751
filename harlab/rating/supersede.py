"""Re-asking after rating: which pair of answers the study uses, and what a re-ask supersedes.

A re-ask (``query_samples(..., refresh=True)``) makes a new *draw* (new draw index, so a new
seed) and never touches the earlier answers. Ratings, scores and blind orders stay attached
to the exact answers they judged. By default the newest pair is current; the study may keep a
chosen pair current instead (``pair_choices``, read by the ``current_requests`` view). A pair
that was rated and is no longer current is *superseded*: its ratings are still listed by
:func:`harlab.rating.items`, counted by :func:`harlab.rating.progress` and written to
``evaluation.csv`` (``rating_status`` / ``superseded_ratings``). Its ratings are read-only
(:func:`require_current`): a reviewer can trust that they are exactly those given while the
pair was current. Making the pair current again (:func:`choose_pair`) makes it rateable again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from harlab.errors import InputError
from harlab.rating.session import RatingItem
from harlab.store import Project
from harlab.vocab import MODALITIES


class PairSuperseded(InputError):
    """A rating, skip or flag for a pair of answers a re-ask replaced (see
    :func:`require_current`)."""


@dataclass(frozen=True)
class RatedPair:
    """One rated pair of answers of a (sample, modality)."""

    original_id: int
    attacked_id: int
    draw: int
    n_ratings: int
    annotators: tuple[str, ...]
    current: bool


def _current_ids(project: Project, sample_id: int, modality: str) -> tuple[int, int] | None:
    rows = {r["variant"]: r["id"] for r in project.query(
        "SELECT id, variant FROM current_requests WHERE sample_id = ? AND modality = ? AND "
        "variant IN ('original', 'attacked')", (sample_id, modality))}
    return (rows["original"], rows["attacked"]) if len(rows) == 2 else None


def read_only_reason(item: RatingItem) -> str:
    """Why the ratings of a superseded ``item`` are read-only, and what to do instead."""
    return (f"Read-only: answers {item.original_id} / {item.attacked_id} of sample "
            f"#{item.sample_id} ({item.modality}) were replaced by a re-ask; their ratings stay "
            "as given while they were current. Rate the current pair of this sample instead. "
            "To rate these answers again, make the study use them again: `harlab rate use-pair "
            f"--project PROJECT --sample {item.sample_id} --modality {item.modality} --original "
            f"{item.original_id} --attacked {item.attacked_id}` (the Responses panel's \"keep "
            "the rated pair\" choice only keeps a pair current before a re-ask replaces it).")


def require_current(project: Project, item: RatingItem) -> None:
    """Refuse to rate, skip or flag ``item`` unless its pair is the one the study uses now.

    Read from the store, not from ``item.superseded``: the item may have been listed before a
    re-ask (or a :func:`choose_pair`) changed which pair is current.

    Raises:
        PairSuperseded: the pair is no longer current; says which pair is and what to do.
    """
    current = _current_ids(project, item.sample_id, item.modality)
    if current == (item.original_id, item.attacked_id):
        return
    now = (f"the study now uses answers {current[0]} / {current[1]}" if current is not None
           else "the study has no current pair for it")
    raise PairSuperseded(f"{read_only_reason(item)} ({now}.)")


def rated_pairs(project: Project, sample_id: int, modality: str) -> list[RatedPair]:
    """Every rated pair of ``(sample_id, modality)``, oldest first."""
    current = _current_ids(project, sample_id, modality)
    rows = project.query(
        "SELECT r.original_response_id AS o, r.attacked_response_id AS a, o.draw AS draw, "
        "count(*) AS n, group_concat(DISTINCT n.name) AS names FROM ratings r "
        "JOIN annotators n ON n.id = r.annotator_id "
        "JOIN llm_requests o ON o.id = r.original_response_id "
        "WHERE r.sample_id = ? AND r.modality = ? GROUP BY r.original_response_id, "
        "r.attacked_response_id ORDER BY r.original_response_id", (sample_id, modality))
    return [RatedPair(r["o"], r["a"], r["draw"], r["n"],
                      tuple(sorted((r["names"] or "").split(","))), (r["o"], r["a"]) == current)
            for r in rows]


def reask_warning(project: Project, sample_id: int, modality: str) -> str | None:
    """What asking ``(sample_id, modality)`` again would supersede, or None when nothing rated
    would be."""
    rated = [p for p in rated_pairs(project, sample_id, modality) if p.current]
    if not rated:
        return None
    p = rated[0]
    return (f"The current {modality} answers of sample #{sample_id} are rated: "
            f"{p.n_ratings} rubric answer(s) by {', '.join(p.annotators)}. Asking again "
            "makes a new draw (new seed); "
            "the rated answers, their ratings and scores are kept and exported, marked "
            "superseded if the study uses the new answers.")


def choose_pair(project: Project, sample_id: int, modality: str, original_id: int,
                attacked_id: int) -> None:
    """Make this pair the one the study uses (kept current even after later re-asks)."""
    if modality not in MODALITIES:
        raise InputError(f"modality must be one of {', '.join(MODALITIES)}, got {modality!r}")
    for variant, rid in (("original", original_id), ("attacked", attacked_id)):
        row = project.query_one("SELECT status FROM llm_requests WHERE id = ? AND sample_id = ? "
                                "AND modality = ? AND variant = ?",
                                (rid, sample_id, modality, variant))
        if row is None or row["status"] != "ok":
            raise InputError(f"request {rid} is not an ok {variant} {modality} answer of "
                             f"sample {sample_id}; pick ids from the Responses panel or "
                             "evaluation.csv")
    now = time.time()
    project.executemany(
        "INSERT INTO pair_choices (sample_id, modality, variant, request_id, chosen_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (sample_id, modality, variant) DO UPDATE SET "
        "request_id = excluded.request_id, chosen_at = excluded.chosen_at",
        [(sample_id, modality, "original", original_id, now),
         (sample_id, modality, "attacked", attacked_id, now)])


def keep_current(project: Project, sample_id: int, modality: str) -> None:
    """Keep the pair that is current now, whatever a later re-ask brings."""
    ids = _current_ids(project, sample_id, modality)
    if ids is None:
        raise InputError(f"sample {sample_id} {modality} has no current pair of answers to keep")
    choose_pair(project, sample_id, modality, *ids)


def follow_newest(project: Project, sample_id: int, modality: str) -> None:
    """Let the newest answers be current again (drops a choice)."""
    project.execute("DELETE FROM pair_choices WHERE sample_id = ? AND modality = ?",
                    (sample_id, modality))
