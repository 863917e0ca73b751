"""Reading stored language-model requests back: what the Responses view shows.

Every request the query stage sends (or copies from the store) is a row of ``llm_requests``
with the exact body sent. These readers return typed :class:`RequestRecord` values, the prompt
text as sent, and per-sample status summaries, so views never touch SQL or JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from harlab.llm.runner import MODALITIES, VARIANTS, latest_requests, latest_statuses
from harlab.store import Project


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
