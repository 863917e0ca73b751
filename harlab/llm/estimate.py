"""Cost and time of a query run, worked out before anything is sent (``harlab query --estimate``).

Plans the run exactly as :func:`harlab.llm.runner.query_samples` would, leaves out what the
store already answers, and prices the rest at list price and through the Batch API (half).
Completion length and latency come from this model's stored answers when there are some; the
time assumes as many requests in flight as the run would send at once
(:func:`~harlab.llm.runner.request_workers`: the built-in server's slots).
Read-only: nothing is written to the project and nothing is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from harlab.errors import InputError
from harlab.llm.config import LLMConfig
from harlab.llm.pricing import QueryEstimate, estimate_query_cost
from harlab.llm.runner import _ok_rows_by_key, plan_requests, request_workers
from harlab.llm.scenarios import ScenarioSet
from harlab.store import Project
from harlab.vocab import MODALITIES


def estimate_query(project: Project, config: LLMConfig, *,
                   sample_ids: Sequence[int] | None = None,
                   modalities: Iterable[str] = MODALITIES, refresh: bool = False,
                   noise_floor: int = 0, scenarios: ScenarioSet | None = None) -> QueryEstimate:
    """What :func:`~harlab.llm.runner.query_samples` with these arguments would send and cost."""
    if not isinstance(config, LLMConfig):
        raise InputError(f"config must be an LLMConfig, got {type(config).__name__}")
    items = plan_requests(project, config, sample_ids=sample_ids, modalities=modalities,
                          noise_floor=noise_floor, scenarios=scenarios)
    asked = [i for i in items if i.skip_reason is None]
    stored = {} if refresh else _ok_rows_by_key(project, {i.cache_key for i in asked})
    to_send = {i.cache_key: i.body for i in asked if i.cache_key not in stored}
    history = project.query_one(
        "SELECT count(*) AS n, avg(completion_tokens) AS ct, avg(latency_s) AS lat "
        "FROM llm_requests WHERE status = 'ok' AND cached_from IS NULL AND model = ? "
        "AND provider = ?", (config.model_name, config.provider))
    has_history = history is not None and history["n"] and history["ct"] is not None
    return estimate_query_cost(
        config.provider, config.model_name, list(to_send.values()),
        cached=len(asked) - len(to_send), skipped=len(items) - len(asked),
        max_tokens=config.max_tokens,
        mean_completion_tokens=history["ct"] if has_history else None,
        latency_s=history["lat"] if has_history and history["lat"] else None,
        concurrency=request_workers(config))
