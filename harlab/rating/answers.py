"""Recording answers: validated against the rubric and committed the moment they are given.

Each answer is one upsert on the project's autocommit connection (WAL, ``synchronous=FULL``),
so when :func:`record_answer` returns the answer is on disk: a crash or ``kill -9`` afterwards
loses nothing. Changing an answer updates the same row; ``None`` (or empty free text) clears it.
Only the current pair of a (sample, modality) takes answers: a superseded pair's ratings are
read-only (:func:`harlab.rating.supersede.require_current`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from harlab.errors import InputError
from harlab.rating.rubric import Rubric, blind, unblind
from harlab.rating.rubric_file import load_rubric
from harlab.rating.session import (
    Annotator,
    ItemFilter,
    RatingItem,
    answered_keys,
    blind_order,
    items,
    status_of,
)
from harlab.rating.supersede import require_current
from harlab.store import Project

_UPSERT = """
INSERT INTO ratings (sample_id, modality, annotator_id, item, value, original_response_id,
                     attacked_response_id, rubric_version, unblinded, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (annotator_id, item, original_response_id, attacked_response_id) DO UPDATE SET
    value = excluded.value, rubric_version = excluded.rubric_version,
    unblinded = max(unblinded, excluded.unblinded), updated_at = excluded.updated_at
"""


@dataclass(frozen=True)
class Answer:
    """What :func:`record_answer` stored, in stored (original/attacked) terms."""

    item: str
    value: str | None
    rubric_version: str


@dataclass(frozen=True)
class RatingProgress:
    """``rated`` items have every required answer; ``partial`` ones some answers.

    Counts are of current items; ``superseded`` counts the listed pairs rated before a re-ask
    replaced them (their ratings are kept, shown and exported).
    """

    rated: int
    partial: int
    total: int
    superseded: int = 0

    def __str__(self) -> str:
        extra = f" (+{self.superseded} superseded)" if self.superseded else ""
        return f"{self.rated} / {self.total} rated{extra}"


def record_answer(project: Project, annotator: Annotator, item: RatingItem, key: str,
                  value: Any, rubric: Rubric | None = None, *,
                  a_is: str | None = None, unblinded: bool = False) -> Answer:
    """Validate one answer and commit it at once.

    Args:
        annotator: from :func:`harlab.rating.get_annotator`.
        item: from :func:`harlab.rating.items`.
        key: the question key, shown (``hazard.A``, ``better_fit``) or stored
            (``hazard.original``).
        value: the answer, shown (``A``) or stored (``original``) terms; ``None`` clears it.
        rubric: default the project's (:func:`harlab.rating.load_rubric`); pass it when
            answering many questions.
        a_is: what A was on screen; default the annotator's stored blind order.
        unblinded: the annotator saw which answer was which (recorded with the rating;
            once a rating was given unblinded it stays marked).

    Raises:
        PairSuperseded: a re-ask replaced the pair (an :class:`InputError`; checked in the
            store, whatever ``item.superseded`` says); nothing is written or cleared.
        RubricError: unknown key or a value the item does not accept.
    """
    require_current(project, item)
    rubric = rubric or load_rubric(project.root)
    a_is = a_is or blind_order(project, annotator, item)
    stored_key, stored_value = unblind(rubric, key, value, a_is)
    rubric_item = rubric.item_for(stored_key)
    if value is None or (rubric_item.kind.free_text and value == ""):
        project.execute("DELETE FROM ratings WHERE annotator_id = ? AND item = ? AND "
                        "original_response_id = ? AND attacked_response_id = ?",
                        (annotator.id, stored_key, item.original_id, item.attacked_id))
        return Answer(stored_key, None, rubric.version)
    stored_value = rubric_item.normalise(stored_value)
    now = time.time()
    project.execute(_UPSERT, (item.sample_id, item.modality, annotator.id, stored_key,
                              stored_value, item.original_id, item.attacked_id, rubric.version,
                              int(bool(unblinded)), now, now))
    return Answer(stored_key, stored_value, rubric.version)


def answers_for(project: Project, annotator: Annotator, item: RatingItem,
                rubric: Rubric | None = None, *, shown: bool = True) -> dict[str, str]:
    """This annotator's answers for ``item``: shown (A/B) terms, or stored with ``shown=False``.

    Answers given under another rubric version are left out when their key no longer exists.
    """
    rubric = rubric or load_rubric(project.root)
    rows = project.query("SELECT item, value FROM ratings WHERE annotator_id = ? AND "
                         "original_response_id = ? AND attacked_response_id = ?",
                         (annotator.id, item.original_id, item.attacked_id))
    stored = {r["item"]: r["value"] for r in rows if r["item"] in rubric.keys()}
    if not shown:
        return stored
    a_is = blind_order(project, annotator, item)
    return dict(blind(rubric, k, v, a_is) for k, v in stored.items())


def item_status(project: Project, annotator: Annotator, item: RatingItem,
                rubric: Rubric | None = None) -> str:
    """``unrated``, ``partial`` or ``rated`` (every required item answered)."""
    rubric = rubric or load_rubric(project.root)
    answered = set(answers_for(project, annotator, item, rubric, shown=False))
    return status_of(answered, set(rubric.required_keys()))


def progress(project: Project, annotator: Annotator, rubric: Rubric | None = None,
             filters: ItemFilter | None = None) -> RatingProgress:
    """How many of the (filtered) items this annotator has rated."""
    filters = filters or ItemFilter()
    if filters.status != "all":
        raise InputError(f"progress counts every status; pass a filter with status='all', got "
                         f"{filters.status!r}")
    rubric = rubric or load_rubric(project.root)
    answered = answered_keys(project, annotator)
    required = set(rubric.required_keys())
    counts = {"rated": 0, "partial": 0, "unrated": 0}
    listed = items(project, annotator, filters)
    current = [i for i in listed if not i.superseded]
    for i in current:
        counts[status_of(answered.get((i.original_id, i.attacked_id), set()), required)] += 1
    return RatingProgress(counts["rated"], counts["partial"], len(current),
                          len(listed) - len(current))


def item_scores(project: Project, item: RatingItem) -> dict[str, float | None]:
    """Automatic scores of the pair (metric -> value), to reveal once the item is rated."""
    rows = project.query("SELECT metric, value FROM scores WHERE response_a_id = ? AND "
                         "response_b_id = ? ORDER BY metric", (item.original_id,
                                                               item.attacked_id))
    return {r["metric"]: r["value"] for r in rows}


def next_unrated(project: Project, annotator: Annotator, listed: list[RatingItem],
                 rubric: Rubric, start: int = -1) -> int | None:
    """Index in ``listed`` of the first item after ``start`` (wrapping) not fully rated,
    leaving out superseded pairs and items this annotator skipped."""
    answered = answered_keys(project, annotator)
    required = set(rubric.required_keys())
    skipped = {(r[0], r[1]) for r in project.query(
        "SELECT original_response_id, attacked_response_id FROM item_log WHERE "
        "annotator_id = ? AND skipped = 1", (annotator.id,))}
    n = len(listed)
    for step in range(1, n + 1):
        i = (start + step) % n
        pair = (listed[i].original_id, listed[i].attacked_id)
        if listed[i].superseded or pair in skipped:  # skipped: the annotator moved past it
            continue
        if status_of(answered.get(pair, set()), required) != "rated":
            return i
    return None
