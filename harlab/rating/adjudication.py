"""Adjudication: a third person records the resolved value of an item the annotators disagree on.

An adjudicated value belongs to the exact pair of answers the disagreement was about; the
study's ``evaluation.csv`` then uses it for that item instead of the annotators' mean or
majority, and names the item in ``rating_adjudicated`` (``rating_status`` says
``adjudicated``). Adjudicating again replaces the value; the annotators' ratings are kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from harlab.errors import InputError
from harlab.rating.rubric import Rubric
from harlab.rating.session import validate_name
from harlab.store import Project

_UPSERT = """
INSERT INTO adjudications (sample_id, modality, item, value, original_response_id,
                           attacked_response_id, adjudicator, reason, rubric_version,
                           created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (item, original_response_id, attacked_response_id) DO UPDATE SET
    value = excluded.value, adjudicator = excluded.adjudicator, reason = excluded.reason,
    rubric_version = excluded.rubric_version, created_at = excluded.created_at
"""


@dataclass(frozen=True)
class Adjudication:
    sample_id: int
    modality: str
    item: str
    value: str
    original_id: int
    attacked_id: int
    adjudicator: str
    reason: str


def adjudicate(project: Project, rubric: Rubric, *, sample_id: int, modality: str,
               original_id: int, attacked_id: int, item: str, value: str, adjudicator: str,
               reason: str = "") -> Adjudication:
    """Record the resolved value (stored terms: ``original``/``attacked``, Likert numbers).

    Raises:
        InputError: an unknown item, a value the item does not take, an unusable name, or a
            pair that is not this sample's answers.
    """
    name = validate_name(adjudicator)
    if item not in rubric.keys():
        raise InputError(f"adjudicate a stored item key such as {rubric.keys()[0]!r}, got "
                         f"{item!r}; valid: {', '.join(rubric.keys())}")
    rubric_item = rubric.item_for(item)
    if rubric_item.kind.free_text:
        raise InputError(f"{item} is free text; there is nothing to adjudicate")
    stored = rubric_item.normalise(value)
    found = project.query_one("SELECT count(*) FROM llm_requests WHERE sample_id = ? AND "
                              "modality = ? AND id IN (?, ?)",
                              (sample_id, modality, original_id, attacked_id))[0]
    if found != 2:
        raise InputError(f"answers {original_id} / {attacked_id} are not sample {sample_id}'s "
                         f"{modality} pair; adjudicate from the disagreement list")
    project.execute(_UPSERT, (sample_id, modality, item, stored, original_id, attacked_id,
                              name, str(reason or "")[:500], rubric.version, time.time()))
    return Adjudication(sample_id, modality, item, stored, original_id, attacked_id, name,
                        str(reason or ""))


def adjudications(project: Project) -> list[Adjudication]:
    return [Adjudication(r["sample_id"], r["modality"], r["item"], r["value"],
                         r["original_response_id"], r["attacked_response_id"],
                         r["adjudicator"], r["reason"])
            for r in project.query("SELECT * FROM adjudications ORDER BY sample_id, modality, "
                                   "item")]
