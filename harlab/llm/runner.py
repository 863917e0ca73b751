"""The query job: ask the language model about every sample, cached, logged and resumable.

For each selected sample and modality there are two requests, ``original`` and ``attacked``
(plus ``noise-1`` ... ``noise-k``: the original request again, to measure how much answers vary
with no attack at all):

* unimodal: the scenario's template with ``{label}`` = the clean prediction (original) or the
  adversarial prediction (attacked);
* multimodal: the scenario's question with the clean (original) or adversarial (attacked)
  keyframes as PNG data URLs.

Every request is a row of ``llm_requests``, keyed by a hash of everything that shapes the
answer. An ``ok`` row with the same key answers a request from the store (unless ``refresh``);
failed rows are asked again on the next run; a stopped job resumes where it stopped.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harlab.attacks.samples import Sample, list_samples, sample_rows
from harlab.errors import InputError, LLMError
from harlab.jobs import Job, Progress
from harlab.llm import client as llm_client
from harlab.llm.batch import ask_batch
from harlab.llm.config import LLMConfig, draw_seed
from harlab.llm.local_server import (
    builtin_alive,
    builtin_slots,
    ensure_builtin_server,
    find_gguf,
)
from harlab.llm.pricing import ESTIMATE_NOTE, batch_cost, estimate_cost
from harlab.llm.records import VARIANTS, current_requests, latest_requests, latest_statuses
from harlab.llm.scenarios import ScenarioSet, scenarios_for_project
from harlab.store import Project
from harlab.vocab import MODALITIES

log = logging.getLogger(__name__)

__all__ = ["MODALITIES", "VARIANTS", "QueryResult", "ResponsePair", "cache_identity",
           "latest_requests", "latest_statuses", "noise_responses", "plan_requests",
           "query_samples", "response_pairs", "usage_summary"]

_WATCH_S = 1.0  # how often a query checks that the built-in server process still lives


@dataclass(frozen=True)
class QueryResult:
    """What a query run did.

    Attributes:
        run_id: the ``runs`` row of this query.
        asked: requests sent to the server (retries not counted).
        cached: rows answered from the store.
        failed: rows that failed after their retries.
        skipped: rows not asked, with a reason (no scenario, model cannot take images...).
        prompt_tokens, completion_tokens: usage of the requests sent in this run.
        cost_usd: estimated cost of those requests; None when the model's price is unknown.
        cancelled: the job was stopped before it finished.
    """

    run_id: int
    asked: int = 0
    cached: int = 0
    failed: int = 0
    skipped: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0
    cost_note: str = ESTIMATE_NOTE
    cancelled: bool = False

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ResponsePair:
    """The latest original and attacked answers of one sample and modality."""

    sample_id: int
    modality: str
    original_text: str | None
    attacked_text: str | None
    original_status: str
    attacked_status: str


@dataclass
class _Item:
    sample_id: int
    modality: str
    variant: str
    cache_key: str
    body: dict[str, Any] | None = None       # with data URLs; None when skipped
    body_ref: dict[str, Any] | None = None   # images by reference, for the log
    skip_reason: str | None = None
    created_at: float = field(default_factory=time.time)
    draw: int = 0


# ---------------------------------------------------------------------------- planning
def request_workers(config: LLMConfig) -> int:
    """Requests in flight at once: ``config.concurrency``, and for the built-in server no more
    than its slots (llama-server's continuous batching; 1 for llama-cpp-python's): more would
    only queue there and make the stored latencies include the wait."""
    return (min(config.concurrency, builtin_slots(config)) if config.is_builtin
            else config.concurrency)


def cache_identity(config: LLMConfig) -> str:
    """The server part of the cache key (the built-in server's port changes every start)."""
    if config.base_url:
        return config.base_url.rstrip("/")
    if config.is_builtin and config.local_vlm:  # a lab's own VLM: its two files name it
        return (f"builtin:{Path(config.vlm_model or '').name}"
                f"+{Path(config.vlm_mmproj or '').name}")
    if config.is_builtin:
        try:
            return f"builtin:{find_gguf().name}"
        except LLMError:
            return f"builtin:{config.model_name}"
    return (config.preset.base_url or "").rstrip("/")


def _draw(variant: str) -> int:
    """0 for the original and attacked answers, k for the k-th noise-floor re-draw."""
    return int(variant.split("-")[1]) if variant.startswith("noise-") else 0


def _draws(project: Project, new_draw: bool) -> dict[tuple[int, str, str], int]:
    """The draw index of each (sample, modality, side) to plan: the current one, or with
    ``new_draw`` one past every draw made so far (a new seed, so a re-ask is a new answer)."""
    sql = ("SELECT sample_id, modality, variant, max(draw) AS draw FROM llm_requests "
           "WHERE variant IN ('original', 'attacked') GROUP BY sample_id, modality, variant"
           if new_draw else
           "SELECT sample_id, modality, variant, draw FROM current_requests "
           "WHERE variant IN ('original', 'attacked')")
    step = 1 if new_draw else 0
    return {(r["sample_id"], r["modality"], r["variant"]): r["draw"] + step
            for r in project.query(sql)}


def _key(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _check_modalities(modalities: Iterable[str]) -> tuple[str, ...]:
    if isinstance(modalities, str):
        modalities = [m.strip() for m in modalities.split(",") if m.strip()]
    result = tuple(dict.fromkeys(modalities))
    bad = [m for m in result if m not in MODALITIES]
    if bad or not result:
        raise InputError(f"modality must be one or more of {', '.join(MODALITIES)}, got "
                         f"{', '.join(map(repr, bad)) or 'none'}")
    return result


def _load_samples(project: Project, sample_ids: Sequence[int] | None) -> list[Sample]:
    if sample_ids is None:
        return list_samples(project, selected=True)
    return list_samples(project, ids=sample_ids)  # unknown ids raise, naming them


def _stored_path(project: Project, path: Path) -> str:
    """A frame path as the samples table stores it (relative to the project when inside)."""
    try:
        return path.relative_to(project.root).as_posix()
    except ValueError:
        return str(path)


def plan_requests(project: Project, config: LLMConfig, *, sample_ids: Sequence[int] | None = None,
                  modalities: Iterable[str] = MODALITIES, noise_floor: int = 0,
                  scenarios: ScenarioSet | None = None, new_draw: bool = False) -> list[_Item]:
    """Every request the job would make (or skip, with the reason), in a stable order.

    Original and attacked requests keep the draw index of the current answer; ``new_draw``
    (a re-ask) plans the next index instead, so the seed and cache key change and the
    earlier answers, and the ratings and scores attached to them, stay as they are.
    """
    modalities = _check_modalities(modalities)
    if (isinstance(noise_floor, bool) or not isinstance(noise_floor, int)
            or not 0 <= noise_floor <= 100):
        raise InputError(f"noise_floor must be a whole number of extra clean requests in "
                         f"[0, 100], got {noise_floor!r}")
    scenarios = scenarios if scenarios is not None else scenarios_for_project(project.root)
    identity = cache_identity(config)
    draws = _draws(project, new_draw)
    items: list[_Item] = []
    for sample in _load_samples(project, sample_ids):
        scenario = scenarios.for_label(sample.true_label)
        variants = [*VARIANTS, *(f"noise-{i}" for i in range(1, noise_floor + 1))]
        for modality in modalities:
            for variant in variants:
                def skip(reason: str, sample=sample, modality=modality, variant=variant) -> None:
                    items.append(_Item(sample.id, modality, variant, skip_reason=reason,
                                       cache_key=_key({"skip": reason, "server": identity,
                                                       "model": config.model_name,
                                                       "sample": sample.id,
                                                       "modality": modality,
                                                       "variant": variant})))
                if scenario is None:
                    skip(f"no scenario for class {sample.true_label!r}: add it to the "
                         "classes of a scenario file, or add a fallback scenario")
                    continue
                clean = not variant == "attacked"
                system = scenario.system_prompt()
                refs: dict[str, str] = {}
                if modality == "unimodal":
                    label = sample.clean_pred if clean else sample.adv_pred
                    messages = llm_client.build_messages(scenario.unimodal_prompt(label),
                                                         system=system)
                else:
                    if not config.takes_images:
                        skip(f"model {config.model_name!r} ({config.provider}) cannot take "
                             "images, so no multimodal answer exists; choose a vision model "
                             "(e.g. gpt-4o), or offline give a local VLM's GGUF and mmproj "
                             "(vlm_model, vlm_mmproj: README, 'A local vision-language "
                             "model'), or set supports_images if this one can")
                        continue
                    paths = sample.frames("clean" if clean else "adv")
                    frames = [_stored_path(project, path) for path in paths]
                    images, missing = [], None
                    for path in paths:
                        try:
                            images.append(llm_client.read_png(path))
                        except InputError as exc:
                            missing = str(exc)
                            break
                    if missing or not images:
                        skip(missing or "the sample has no keyframes stored; re-run the "
                                        "attack stage")
                        continue
                    messages = llm_client.build_messages(scenario.multimodal_prompt(), images,
                                                         detail=config.image_detail,
                                                         system=system)
                    for rel, img in zip(frames, images, strict=True):
                        digest = hashlib.sha256(img).hexdigest()
                        refs[llm_client.png_data_url(img)] = f"png:{rel}#sha256={digest}"
                draw = draws.get((sample.id, modality, variant), _draw(variant))
                seed = (None if config.seed is None
                        else draw_seed(config.seed, sample.id, variant, draw))
                body = llm_client.request_body(config, messages, seed=seed)
                body_ref = llm_client.body_by_reference(body, refs)
                # The key hashes image bytes (not paths): the same pixels give the same key.
                hashed = llm_client.body_by_reference(
                    body, {u: r.split("#", 1)[1] for u, r in refs.items()})
                # Each (sample, modality, side, draw) is its own request: two samples whose
                # prompts read the same never share an answer.
                key = _key({"server": identity, "body": hashed, "sample": sample.id,
                            "modality": modality, "variant": variant, "draw": draw})
                items.append(_Item(sample.id, modality, variant, key, body, body_ref,
                                   draw=draw))
    return items


# ---------------------------------------------------------------------------- the job
def query_samples(project: Project, config: LLMConfig, *,
                  sample_ids: Sequence[int] | None = None,
                  modalities: Iterable[str] = MODALITIES, refresh: bool = False,
                  noise_floor: int = 0, scenarios: ScenarioSet | None = None,
                  batch_api: bool = False, batch_poll_s: float = 30.0) -> Job[QueryResult]:
    """Ask the model about the samples; yields Progress, returns a :class:`QueryResult`.

    Recorded as a ``query`` run. Closing the generator (GUI cancel, Ctrl-C) cancels the
    requests not yet sent; those in flight finish and are stored, so a later run resumes
    without repeating them. With ``batch_api`` the requests go through OpenAI's Batch API
    (:mod:`harlab.llm.batch`: half price, up to 24 h, resumable after a kill), polled every
    ``batch_poll_s`` seconds.
    """
    if not isinstance(config, LLMConfig):
        raise InputError(f"config must be an LLMConfig, got {type(config).__name__}")
    if batch_api and config.is_builtin:
        raise InputError("the Batch API needs a server with /v1/files and /v1/batches "
                         "(OpenAI); the built-in model has none. Use --provider openai, or "
                         "leave out --batch-api.")
    items = plan_requests(project, config, sample_ids=sample_ids, modalities=modalities,
                          noise_floor=noise_floor, scenarios=scenarios, new_draw=refresh)
    run_config = {"llm": config.to_dict(), "modalities": list(_check_modalities(modalities)),
                  "refresh": refresh, "noise_floor": noise_floor,
                  "sample_ids": None if sample_ids is None else list(sample_ids)}
    if batch_api:
        run_config["batch_api"] = True
    with project.run("query", run_config, name=f"{config.provider}:{config.model_name}") as rec:
        job = _QueryJob(project, config, rec.id, total=len(items))
        job.batch = batch_api
        try:
            to_ask = job.answer_from_store(items, refresh)
            yield Progress(job.done, job.total,
                           f"{job.done} answered from the store; asking {len(to_ask)}")
            if to_ask and batch_api:
                client = yield from job._connect()
                yield from ask_batch(job, client, to_ask, poll_s=batch_poll_s)
            elif to_ask:
                yield from job.ask(to_ask)
        except GeneratorExit:
            job.cancelled = True
            raise
        finally:
            rec.result = job.result()
    return job.result()


class _QueryJob:
    """The bookkeeping of one query run: counts, the store writes, the request pool."""

    def __init__(self, project: Project, config: LLMConfig, run_id: int, total: int):
        self.project, self.config, self.run_id = project, config, run_id
        self.total, self.done, self.cancelled = total, 0, False
        self.counts = {"asked": 0, "cached": 0, "failed": 0, "skipped": 0, "prompt_tokens": 0,
                       "completion_tokens": 0}
        self.base_url = ""
        self.batch = False  # sent through the Batch API: billed at half price

    def result(self) -> QueryResult:
        cost = estimate_cost(self.config.provider, self.config.model_name,
                             self.counts["prompt_tokens"], self.counts["completion_tokens"])
        if self.batch:
            cost = batch_cost(cost)
        return QueryResult(run_id=self.run_id, cost_usd=cost, cancelled=self.cancelled,
                           **self.counts)

    def answer_from_store(self, items: list[_Item], refresh: bool) -> dict[str, list[_Item]]:
        """Record skips and stored answers; return the requests still to send, by key."""
        project, config, counts = self.project, self.config, self.counts
        latest = current_requests(project)
        ok_by_key = _ok_rows_by_key(project, {i.cache_key for i in items})
        to_ask: dict[str, list[_Item]] = {}
        for item in items:
            prev = latest.get((item.sample_id, item.modality, item.variant))
            same = prev is not None and prev["cache_key"] == item.cache_key
            if item.skip_reason is not None:
                if not (same and prev["status"] == "skipped"):
                    project.insert("llm_requests", **{**_row(item, config, None, self.run_id),
                                                      "status": "skipped",
                                                      "error": item.skip_reason})
                counts["skipped"] += 1
            elif not refresh and same and prev["status"] == "ok":
                counts["cached"] += 1
            elif not refresh and item.cache_key in ok_by_key:
                source = ok_by_key[item.cache_key]
                project.insert("llm_requests", **{**_row(item, config, source["base_url"],
                                                         self.run_id), **_copy_answer(source)})
                counts["cached"] += 1
            else:
                to_ask.setdefault(item.cache_key, []).append(item)
                continue
            self.done += 1
        return to_ask

    def _connect(self) -> Job[Any]:
        config = self.config
        if config.base_url:
            self.base_url = config.base_url
        elif config.is_builtin:
            yield Progress(self.done, self.total,
                           f"starting the built-in model ({config.model_name}, llama.cpp)")
            self.base_url = ensure_builtin_server(config)
        else:
            self.base_url = config.preset.base_url or ""
        return llm_client.make_client(config, self.base_url)

    def ask(self, to_ask: dict[str, list[_Item]]) -> Job[None]:
        """Send the requests through a thread pool, storing each answer as it arrives.

        With the built-in model, a server that dies mid-run is noticed (its process is
        watched, and a dropped connection triggers a check at once) and restarted once; the
        requests it left unanswered are sent again. If it dies again or will not start, those
        requests are stored as failed, and the next run asks them again.
        """
        config, counts = self.config, self.counts
        client = yield from self._connect()
        builtin = config.is_builtin
        restarts_left = 1 if builtin else 0
        stop = threading.Event()
        pending: dict[cf.Future[Any], list[_Item]] = {}
        executor = cf.ThreadPoolExecutor(max_workers=request_workers(config),
                                         thread_name_prefix="llm")

        def submit(group: list[_Item]) -> None:
            # client and stop are read when called: a restart replaces both
            fut = executor.submit(llm_client.chat, client, group[0].body,
                                  max_retries=config.max_retries, backoff_s=config.backoff_s,
                                  max_backoff_s=config.max_backoff_s, stop=stop)
            pending[fut] = group

        next_check = time.monotonic() + _WATCH_S
        try:
            for group in to_ask.values():
                submit(group)
            while pending:
                finished, _ = cf.wait(list(pending), timeout=0.25,
                                      return_when=cf.FIRST_COMPLETED)
                lost: list[tuple[list[_Item], cf.Future[Any]]] = []
                for fut in finished:
                    group = pending.pop(fut)
                    if builtin and _connection_failure(fut):
                        lost.append((group, fut))  # stored below once the server's fate is known
                        continue
                    self.store(group, fut)
                    self.done += len(group)
                if builtin and (lost or time.monotonic() >= next_check):
                    next_check = time.monotonic() + _WATCH_S
                    if not builtin_alive(self.base_url):
                        stop.set()  # the others fail fast against a dead port; collect them
                        lost += self._drain(pending)
                        stop = threading.Event()
                        reason = None
                        if restarts_left:
                            restarts_left -= 1
                            log.warning("the built-in model server stopped during a query; "
                                        "restarting it once")
                            yield Progress(self.done, self.total, "the built-in model server "
                                                                  "stopped; restarting it")
                            try:
                                client = yield from self._connect()
                            except LLMError as exc:
                                reason = ("the built-in model server stopped and did not "
                                          f"restart ({exc})")
                        else:
                            reason = "the built-in model server stopped again after a restart"
                        for group, _ in lost:
                            if reason is None:
                                submit(group)
                            else:
                                self.record(group, llm_client.RequestFailed(
                                    f"{reason}; run the query again to ask it", attempts=0),
                                    sent=False)
                                self.done += len(group)
                        lost = []
                for group, fut in lost:  # the server lives: these failed on their own
                    self.store(group, fut)
                    self.done += len(group)
                yield Progress(self.done, self.total, f"{counts['asked']} asked, "
                                                      f"{counts['cached']} cached, "
                                                      f"{counts['failed']} failed")
        finally:
            stop.set()
            executor.shutdown(wait=True, cancel_futures=True)
            for fut, group in list(pending.items()):
                if fut.done() and not fut.cancelled():
                    self.store(group, fut)

    def _drain(self, pending: dict[cf.Future[Any], list[_Item]]
               ) -> list[tuple[list[_Item], cf.Future[Any]]]:
        """Wait for every pending request; store the answered, return the unanswered."""
        unanswered = []
        for fut in list(pending):
            fut.cancel()
        for fut, group in list(pending.items()):
            if not fut.cancelled():
                cf.wait([fut])
            del pending[fut]
            if fut.cancelled() or fut.exception() is not None:
                unanswered.append((group, fut))
            else:
                self.store(group, fut)
                self.done += len(group)
        return unanswered

    def store(self, group: list[_Item], future: cf.Future[Any]) -> None:
        """Write one answer (or its failure) for every item that asked it."""
        try:
            future.result()
        except llm_client.RequestCancelled:
            return  # never answered: the next run asks again
        except Exception:  # noqa: BLE001 - one odd answer must not stop the study
            self.record(group, _failure_of(future))
            return
        self.record(group, future.result())

    def record(self, group: list[_Item], answer: Any, *, sent: bool = True) -> None:
        """Store ``answer`` (a ChatResult or RequestFailed) for every item of ``group``."""
        counts = self.counts
        if sent:
            counts["asked"] += 1
        first_id = None
        for item in group:
            row = _row(item, self.config, self.base_url, self.run_id)
            if isinstance(answer, llm_client.RequestFailed):
                row.update(status="failed", error=str(answer), attempts=answer.attempts,
                           response_json=answer.raw)
                counts["failed"] += 1
            else:
                row.update(status="ok", response_json=answer.raw, response_text=answer.text,
                           system_fingerprint=answer.system_fingerprint,
                           response_model=answer.model, finish_reason=answer.finish_reason,
                           prompt_tokens=answer.prompt_tokens,
                           completion_tokens=answer.completion_tokens,
                           latency_s=answer.latency_s, attempts=answer.attempts)
                if first_id is None:
                    counts["prompt_tokens"] += answer.prompt_tokens or 0
                    counts["completion_tokens"] += answer.completion_tokens or 0
                else:
                    row.update(cached_from=first_id, attempts=0)
                    counts["cached"] += 1
            row_id = self.project.insert("llm_requests", **row)
            first_id = first_id or row_id


def _failure_of(future: cf.Future[Any]) -> llm_client.RequestFailed:
    """The failure a finished request future ended with, as a RequestFailed to store."""
    exc = future.exception()
    if isinstance(exc, llm_client.RequestFailed):
        return exc
    if isinstance(exc, LLMError):
        return llm_client.RequestFailed(str(exc), attempts=0)
    log.warning("request failed unexpectedly", exc_info=exc)
    return llm_client.RequestFailed(f"unexpected {type(exc).__name__}: {exc}", attempts=1)


def _connection_failure(future: cf.Future[Any]) -> bool:
    """Whether a request ended because the server could not be reached or went silent."""
    exc = future.exception() if not future.cancelled() else None
    return isinstance(exc, llm_client.RequestFailed) and str(exc).startswith(
        ("connection failed", "timed out"))


def _row(item: _Item, config: LLMConfig, base_url: str | None, run_id: int) -> dict[str, Any]:
    body = item.body or {}
    return {"cache_key": item.cache_key, "sample_id": item.sample_id,
            "modality": item.modality, "variant": item.variant, "draw": item.draw,
            "temperature": body.get("temperature"), "seed": body.get("seed"),
            "max_tokens": body.get("max_tokens"), "provider": config.provider,
            "base_url": base_url, "model": config.model_name,
            "request_json": json.dumps(item.body_ref, sort_keys=True),
            "created_at": item.created_at, "finished_at": time.time(), "run_id": run_id,
            "status": "ok"}


def _copy_answer(source: Any) -> dict[str, Any]:
    return {"status": "ok", "response_json": source["response_json"],
            "response_text": source["response_text"],
            "system_fingerprint": source["system_fingerprint"],
            "response_model": source["response_model"],
            "finish_reason": source["finish_reason"],
            "prompt_tokens": source["prompt_tokens"],
            "completion_tokens": source["completion_tokens"], "latency_s": source["latency_s"],
            "attempts": 0, "cached_from": source["cached_from"] or source["id"]}


def _ok_rows_by_key(project: Project, keys: set[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    keys_list = sorted(keys)
    for start in range(0, len(keys_list), 500):
        chunk = keys_list[start:start + 500]
        rows = project.query(f"SELECT * FROM llm_requests WHERE status = 'ok' AND cache_key IN "
                             f"({','.join('?' * len(chunk))}) ORDER BY id", chunk)
        for r in rows:
            found[r["cache_key"]] = r  # ascending overwrite -> the newest ok answer wins
    return found


# ---------------------------------------------------------------------------- reading back
def response_pairs(project: Project, modality: str) -> list[ResponsePair]:
    """Original and attacked answers of every selected sample for one modality.

    A sample never queried has status ``missing`` and texts None; failed and skipped rows keep
    their status and have no text.
    """
    (modality,) = _check_modalities([modality])
    rows = {(r["sample_id"], r["variant"]): r for r in latest_requests(project)
            if r["modality"] == modality}
    pairs = []
    for sample in sample_rows(project, selected=True):
        orig, att = rows.get((sample.id, "original")), rows.get((sample.id, "attacked"))
        pairs.append(ResponsePair(
            sample_id=sample.id, modality=modality,
            original_text=orig["response_text"] if orig and orig["status"] == "ok" else None,
            attacked_text=att["response_text"] if att and att["status"] == "ok" else None,
            original_status=orig["status"] if orig else "missing",
            attacked_status=att["status"] if att else "missing"))
    return pairs


def noise_responses(project: Project, sample_id: int, modality: str) -> list[str]:
    """The ok texts of the original request and its noise-floor repeats for one sample."""
    return [r["response_text"] for r in latest_requests(project, sample_id)
            if r["modality"] == modality and r["status"] == "ok"
            and (r["variant"] == "original" or r["variant"].startswith("noise-"))]


def usage_summary(project: Project) -> dict[str, Any]:
    """Tokens and estimated cost of every request actually sent (copies from the store excluded)."""
    rows = project.query("SELECT provider, model, count(*) AS n, sum(prompt_tokens) AS pt, "
                         "sum(completion_tokens) AS ct FROM llm_requests WHERE status = 'ok' "
                         "AND cached_from IS NULL GROUP BY provider, model")
    total: float | None = 0.0
    models = []
    for r in rows:
        cost = estimate_cost(r["provider"], r["model"], r["pt"], r["ct"])
        models.append({"provider": r["provider"], "model": r["model"], "requests": r["n"],
                       "prompt_tokens": r["pt"] or 0, "completion_tokens": r["ct"] or 0,
                       "cost_usd": cost})
        total = None if total is None or cost is None else total + cost
    return {"models": models, "cost_usd": total, "note": ESTIMATE_NOTE}
