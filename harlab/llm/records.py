"""Reading stored language-model requests back: the current answers, for jobs and views.

Every request the query stage sends (or copies from the store) is a row of ``llm_requests``
with the exact body sent. The *current* request of a (sample, modality, variant) is its newest
row: the store's ``current_requests`` view (:mod:`harlab.schema`), read only through the
functions here. They return rows, typed :class:`RequestRecord` values, the prompt text as sent,
and per-sample status summaries, so views never touch SQL or JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from harlab.store import Project
from harlab.vocab import MODALITIES, SIDES

VARIANTS = SIDES  # the two requests of a pair; noise-floor repeats are ``noise-k``


@dataclass(frozen=True)
class RequestRecord:
    """The newest request of one (sample, modality, variant).

    Attributes:
        status: ``ok``, ``failed`` or ``skipped``.
        prompt: the user text sent (with a ``[+ N PNG frame(s)]`` note for images), or "".
        cached: whether the answer was copied from an identical earlier request.
    """

    id: int
    sample_id: int
    modality: str
    variant: str
    status: str
    provider: str
    model: str
    response_text: str | None
    error: str | None
    prompt: str
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_s: float | None
    attempts: int
    cached: bool

    @property
    def tokens(self) -> int:
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)


def prompt_text(request_json: str | None) -> str:
    """The last user message of a stored request body, as text."""
    if request_json in (None, "", "null"):
        return ""
    body = json.loads(request_json)
    for message in reversed(body.get("messages", []) if isinstance(body, dict) else []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):
            n = sum(part.get("type") == "image_url" for part in content)
            text = " ".join(part["text"] for part in content if part.get("type") == "text")
            return f"{text}  [+ {n} PNG frame(s)]"
        return str(content or "")
    return ""


# ---------------------------------------------------------------------------- current rows
def latest_requests(project: Project, sample_id: int | None = None) -> list[Any]:
    """The current row of each (sample, modality, variant), optionally of one sample."""
    if sample_id is None:
        return project.query("SELECT * FROM current_requests "
                             "ORDER BY sample_id, modality, variant")
    return project.query("SELECT * FROM current_requests WHERE sample_id = ? "
                         "ORDER BY modality, variant", (sample_id,))


def current_requests(project: Project, *, selected_only: bool = False
                     ) -> dict[tuple[int, str, str], Any]:
    """The current rows keyed by ``(sample_id, modality, variant)``; with ``selected_only``,
    of the study's (selected) samples only."""
    where = (" WHERE sample_id IN (SELECT id FROM samples WHERE selected = 1)"
             if selected_only else "")
    rows = project.query("SELECT * FROM current_requests" + where)
    return {(r["sample_id"], r["modality"], r["variant"]): r for r in rows}


def latest_statuses(project: Project) -> list[Any]:
    """``(sample_id, modality, variant, status)`` of the current rows, without the texts
    (for lists over many samples)."""
    return project.query("SELECT sample_id, modality, variant, status FROM current_requests "
                         "ORDER BY sample_id, modality, variant")


def answer_counts(project: Project) -> dict[str, int]:
    """Current answers of the selected samples per ``"<modality> <status>"``."""
    return {f"{r['modality']} {r['status']}": r["n"] for r in project.query(
        "SELECT modality, status, count(*) AS n FROM current_requests WHERE sample_id IN "
        "(SELECT id FROM samples WHERE selected = 1) GROUP BY modality, status "
        "ORDER BY modality, status")}


def skip_reasons(project: Project) -> dict[str, int]:
    """Why current requests of query runs were skipped: reason -> count."""
    return {r["error"]: r["n"] for r in project.query(
        "SELECT error, count(*) AS n FROM current_requests WHERE run_id IS NOT NULL AND "
        "status = 'skipped' GROUP BY error")}


# ---------------------------------------------------------------------------- typed records
def _record(row: Any) -> RequestRecord:
    return RequestRecord(
        id=row["id"], sample_id=row["sample_id"], modality=row["modality"],
        variant=row["variant"], status=row["status"], provider=row["provider"],
        model=row["model"], response_text=row["response_text"], error=row["error"],
        prompt=prompt_text(row["request_json"]), prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"], latency_s=row["latency_s"],
        attempts=int(row["attempts"] or 0), cached=row["cached_from"] is not None)


def sample_requests(project: Project, sample_id: int) -> dict[tuple[str, str], RequestRecord]:
    """The newest request per ``(modality, variant)`` of one sample (noise repeats included)."""
    return {(r["modality"], r["variant"]): _record(r)
            for r in latest_requests(project, int(sample_id))}


def request_statuses(project: Project) -> dict[int, list[str]]:
    """Per sample, the statuses of its newest original and attacked requests."""
    statuses: dict[int, list[str]] = {}
    for row in latest_statuses(project):
        if row["variant"] in VARIANTS and row["modality"] in MODALITIES:
            statuses.setdefault(row["sample_id"], []).append(row["status"])
    return statuses
