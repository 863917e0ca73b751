"""Read functions over the ratings: long form, per-pair summary, the meaning-change rating.

Everything here speaks original/attacked terms. ``rating_summary`` and ``meaning_change`` use
only ratings of the *current* answers (the ones the cosine scores of ``evaluation.csv`` judge);
``ratings_long`` returns every rating, with ``current`` saying which are.
"""

from __future__ import annotations

import hashlib
from typing import Any

from harlab.errors import InputError
from harlab.rating.item_types import ITEM_TYPES
from harlab.rating.rubric import Rubric
from harlab.rating.rubric_file import load_rubric
from harlab.store import Project

MEANING_CHANGE_ITEM = "meaning_change"
LONG_COLUMNS = ("sample_id", "video", "true_label", "attack", "eps", "modality", "annotator",
                "item", "value", "rubric_version", "a_is", "original_response_id",
                "attacked_response_id", "original_sha256", "attacked_sha256", "current",
                "created_at", "updated_at", "unblinded")

_LONG = """
WITH cur AS (SELECT id FROM current_requests WHERE variant IN ('original', 'attacked'))
SELECT r.sample_id, s.video, s.true_label, s.attack, s.eps, r.modality, n.name AS annotator,
       r.item, r.value, r.rubric_version, b.a_is, r.original_response_id,
       r.attacked_response_id, o.response_text AS original_text,
       a.response_text AS attacked_text,
       (r.original_response_id IN cur AND r.attacked_response_id IN cur) AS current,
       r.created_at, r.updated_at, r.unblinded
FROM ratings r
JOIN samples s ON s.id = r.sample_id
JOIN annotators n ON n.id = r.annotator_id
JOIN llm_requests o ON o.id = r.original_response_id
JOIN llm_requests a ON a.id = r.attacked_response_id
LEFT JOIN blind_orders b ON b.annotator_id = r.annotator_id AND b.sample_id = r.sample_id
     AND b.modality = r.modality
"""


def text_sha256(text: str | None) -> str:
    """The identity of an answer across projects: SHA-256 of its UTF-8 text."""
    return hashlib.sha256((text or "").encode("utf-8")).hexdigest()


def ratings_long(project: Project, annotator: str | None = None, *,
                 schema: int | None = None) -> list[dict[str, Any]]:
    """Every rating, one row per sample, modality, annotator and item (:data:`LONG_COLUMNS`).

    ``a_is`` reveals the blind order (which answer the annotator saw as A). ``schema``: the
    version of a project copy read without migrating it (before 5 no rating is unblinded).
    """
    sql, params = _LONG, []
    if schema is not None and schema < 5:
        sql = sql.replace("r.updated_at, r.unblinded", "r.updated_at, 0 AS unblinded")
    if annotator is not None:
        sql += " WHERE n.name = ?"
        params.append(annotator)
    sql += " ORDER BY r.sample_id, r.modality, n.name, r.item"
    out = []
    for r in project.query(sql, params):
        row = {k: r[k] for k in LONG_COLUMNS if k not in ("original_sha256", "attacked_sha256")}
        row["original_sha256"] = text_sha256(r["original_text"])
        row["attacked_sha256"] = text_sha256(r["attacked_text"])
        row["current"] = bool(row["current"])
        row["unblinded"] = bool(row["unblinded"])
        out.append({k: row[k] for k in LONG_COLUMNS})
    return out


def summary_column(key: str) -> str:
    """The evaluation.csv column for a stored item key: ``hazard.original`` ->
    ``rating_hazard_original``."""
    return "rating_" + key.replace(".", "_")


def rating_summary(project: Project, rubric: Rubric | None = None
                   ) -> dict[tuple[int, str], dict[str, Any]]:
    """Per (sample_id, modality): each item's mean (Likert) or majority (other items).

    Values use :func:`summary_column` names plus ``rating_n_annotators``. A tied majority is
    the tied answers joined with ``|`` (e.g. ``minor|major``); free text is left out. Only
    ratings of the current answers and of this rubric version count. An item a third person
    adjudicated (:mod:`harlab.rating.adjudication`) takes the adjudicated value, and
    ``rating_adjudicated`` names those items.
    """
    rubric = rubric or load_rubric(project.root)
    grouped: dict[tuple[int, str], dict[str, list[str]]] = {}
    raters: dict[tuple[int, str], set[str]] = {}
    for row in ratings_long(project):
        if not row["current"] or row["rubric_version"] != rubric.version:
            continue
        if row["item"] not in rubric.keys():
            continue
        key = (row["sample_id"], row["modality"])
        grouped.setdefault(key, {}).setdefault(row["item"], []).append(row["value"])
        raters.setdefault(key, set()).add(row["annotator"])
    out = {}
    for key, by_item in grouped.items():
        summary: dict[str, Any] = {"rating_n_annotators": len(raters[key])}
        for item_key in rubric.keys():
            item = rubric.item_for(item_key)
            values = by_item.get(item_key)
            if not item.kind.aggregated:
                continue
            summary[summary_column(item_key)] = item.kind.aggregate(values) if values else None
        out[key] = summary
    for key, resolved in adjudicated_current(project, rubric).items():
        summary = out.setdefault(key, {"rating_n_annotators": 0})
        for item_key, value in resolved.items():
            item = rubric.item_for(item_key)
            summary[summary_column(item_key)] = item.kind.parse(value)
        summary["rating_adjudicated"] = " ".join(sorted(resolved))
    return out


def adjudicated_current(project: Project, rubric: Rubric) -> dict[tuple[int, str],
                                                                  dict[str, str]]:
    """Adjudicated values of the current pairs, per (sample_id, modality) and item key."""
    rows = project.query(
        "SELECT j.sample_id, j.modality, j.item, j.value FROM adjudications j "
        "JOIN current_requests o ON o.id = j.original_response_id "
        "JOIN current_requests a ON a.id = j.attacked_response_id "
        "WHERE j.rubric_version = ? ORDER BY j.id", (rubric.version,))
    out: dict[tuple[int, str], dict[str, str]] = {}
    for r in rows:
        if r["item"] in rubric.keys():
            out.setdefault((r["sample_id"], r["modality"]), {})[r["item"]] = r["value"]
    return out


def superseded_ratings(project: Project) -> dict[tuple[int, str], list[dict[str, Any]]]:
    """Ratings of pairs no longer current, per (sample_id, modality): one entry per pair
    with its response ids, every rating (``{annotator: {item: value}}``) and the pair's
    automatic scores (``{metric: value}``)."""
    out: dict[tuple[int, str], dict[tuple[int, int], dict[str, Any]]] = {}
    for row in ratings_long(project):
        if row["current"]:
            continue
        pairs = out.setdefault((row["sample_id"], row["modality"]), {})
        pair = pairs.setdefault((row["original_response_id"], row["attacked_response_id"]), {
            "original_response_id": row["original_response_id"],
            "attacked_response_id": row["attacked_response_id"], "ratings": {}})
        pair["ratings"].setdefault(row["annotator"], {})[row["item"]] = row["value"]
    for pairs in out.values():
        for (o, a), pair in pairs.items():
            pair["scores"] = {r["metric"]: r["value"] for r in project.query(
                "SELECT metric, value FROM scores WHERE response_a_id = ? AND "
                "response_b_id = ? ORDER BY metric", (o, a))}
    return {key: list(pairs.values()) for key, pairs in out.items()}


def meaning_change(project: Project, rubric: Rubric | None = None
                   ) -> dict[tuple[int, str], float]:
    """Per (sample_id, modality): the mean human "overall meaning change" rating."""
    rubric = rubric or load_rubric(project.root)
    if MEANING_CHANGE_ITEM not in rubric.keys() or (
            not rubric.item_for(MEANING_CHANGE_ITEM).kind.numeric):
        numeric = " or ".join(t.name for t in ITEM_TYPES.values() if t.numeric)
        raise InputError(f"rubric version {rubric.version} has no {numeric} item "
                         f"{MEANING_CHANGE_ITEM!r}; add one to compare the metrics with human "
                         "judgement")
    column = summary_column(MEANING_CHANGE_ITEM)
    return {key: row[column] for key, row in rating_summary(project, rubric).items()
            if row.get(column) is not None}
