"""The query stage through OpenAI's Batch API: half the price, results within 24 hours.

:func:`ask_batch` takes the requests a query run still has to send (grouped by cache key) and:

1. writes them as JSONL, one line per cache key (``custom_id`` = the key, the exact body the
   direct path would send), in files of at most 50,000 requests and ~190 MB;
2. uploads each file (``client.files.create(purpose="batch")``) and creates a batch
   (``client.batches.create``, window 24 h);
3. records the batch in the project's ``meta`` table (``llm_batch:<id>``: its keys, file and
   server) *before* waiting, so a killed or cancelled process resumes it: the next run with
   the same requests polls that batch instead of submitting them again;
4. polls (``client.batches.retrieve``) until the batch completes, fails, expires or is
   cancelled, then downloads the output and error files (``client.files.content``) and stores
   every answer in ``llm_requests`` exactly as the direct path does (status, text,
   finish_reason, the model snapshot, system_fingerprint, usage); ``latency_s`` stays empty.

Requests a batch did not answer (errors, expiry, cancellation) are stored ``failed`` with the
reason, so the next run sends them again. Cancelling the job does not cancel the batch on the
server: it keeps running (and is billed), and the next run picks its results up.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import openai

from harlab.errors import LLMError
from harlab.jobs import Job, Progress
from harlab.llm.client import ChatResult, RequestFailed
from harlab.store import Project

log = logging.getLogger(__name__)

META_PREFIX = "llm_batch:"
ENDPOINT = "/v1/chat/completions"
COMPLETION_WINDOW = "24h"
MAX_REQUESTS_PER_FILE = 50_000           # OpenAI's limits per batch input file
MAX_BYTES_PER_FILE = 190 * 1024 * 1024   # (200 MB), with a margin
TERMINAL = ("completed", "failed", "expired", "cancelled")


@dataclass(frozen=True)
class PendingBatch:
    """A submitted batch, as recorded in the project so that a later run can resume it."""

    batch_id: str
    input_file_id: str
    base_url: str
    model: str
    keys: list[str]
    run_id: int
    created_at: float

    @property
    def meta_key(self) -> str:
        return META_PREFIX + self.batch_id


def pending_batches(project: Project, base_url: str | None = None) -> list[PendingBatch]:
    """Batches submitted and not yet collected, oldest first (optionally for one server)."""
    rows = project.query("SELECT key, value FROM meta WHERE key LIKE ? ORDER BY key",
                         (META_PREFIX + "%",))
    found = []
    for row in rows:
        try:
            batch = PendingBatch(**json.loads(row["value"]))
        except (ValueError, TypeError):
            log.warning("ignoring unreadable batch record %s", row["key"])
            continue
        if base_url is None or batch.base_url.rstrip("/") == base_url.rstrip("/"):
            found.append(batch)
    return sorted(found, key=lambda b: b.created_at)


def _forget(project: Project, batch: PendingBatch) -> None:
    project.execute("DELETE FROM meta WHERE key = ?", (batch.meta_key,))


# ---------------------------------------------------------------------------- input files
def request_line(key: str, body: dict[str, Any]) -> bytes:
    """One JSONL line of a batch input file."""
    return (json.dumps({"custom_id": key, "method": "POST", "url": ENDPOINT, "body": body},
                       separators=(",", ":")) + "\n").encode()


def input_files(requests: Iterable[tuple[str, dict[str, Any]]], *,
                max_requests: int = MAX_REQUESTS_PER_FILE,
                max_bytes: int = MAX_BYTES_PER_FILE) -> list[tuple[list[str], bytes]]:
    """``(keys, jsonl bytes)`` per input file, each within the Batch API's limits."""
    files: list[tuple[list[str], bytes]] = []
    keys: list[str] = []
    lines: list[bytes] = []
    size = 0
    for key, body in requests:
        line = request_line(key, body)
        if len(line) > max_bytes:
            raise LLMError(f"request {key[:12]} is {len(line)} bytes, over the Batch API's "
                           f"{max_bytes}-byte file limit; send it directly (without --batch-api)")
        if lines and (len(lines) >= max_requests or size + len(line) > max_bytes):
            files.append((keys, b"".join(lines)))
            keys, lines, size = [], [], 0
        keys.append(key)
        lines.append(line)
        size += len(line)
    if lines:
        files.append((keys, b"".join(lines)))
    return files


# ---------------------------------------------------------------------------- results
def parse_output_line(line: dict[str, Any]) -> ChatResult | RequestFailed:
    """One line of a batch output or error file as the direct path's answer or failure."""
    error = line.get("error")
    response = line.get("response") or {}
    status = response.get("status_code")
    body = response.get("body")
    if error or status != 200:
        detail = error or (body or {}).get("error") or {}
        message = detail.get("message") if isinstance(detail, dict) else str(detail)
        code = detail.get("code") if isinstance(detail, dict) else None
        what = f"HTTP {status}" if status else f"batch error {code or 'unknown'}"
        return RequestFailed(f"{what}: {message or 'no message'} (in a Batch API batch)",
                             attempts=1, raw=json.dumps(body if body else error))
    try:
        choice = body["choices"][0]
        text = choice["message"].get("content") or ""
        if not isinstance(text, str):
            raise TypeError("content is not a string")
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        return RequestFailed(f"malformed response body in the batch output "
                             f"({type(exc).__name__}: {exc})", attempts=1, raw=json.dumps(body))
    usage = body.get("usage") or {}
    return ChatResult(text=text, raw=json.dumps(body), model=str(body.get("model")),
                      finish_reason=choice.get("finish_reason"),
                      system_fingerprint=body.get("system_fingerprint"),
                      prompt_tokens=usage.get("prompt_tokens"),
                      completion_tokens=usage.get("completion_tokens"),
                      latency_s=None, attempts=1)


def _read_file(client: Any, file_id: str | None) -> dict[str, ChatResult | RequestFailed]:
    if not file_id:
        return {}
    text = client.files.content(file_id).text
    results = {}
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
            results[line["custom_id"]] = parse_output_line(line)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("batch file %s line %d unreadable: %s", file_id, n, exc)
    return results


def _unanswered_reason(batch: Any) -> str:
    status = batch.status
    if status == "failed":
        errors = getattr(getattr(batch, "errors", None), "data", None) or []
        detail = "; ".join(f"{getattr(e, 'code', '')}: {getattr(e, 'message', '')}"
                           for e in errors[:3]) or "no detail given"
        return f"the batch failed validation ({detail}); fix it and run again"
    if status == "expired":
        return ("the batch expired before this request ran (24 h window); run again to "
                "resubmit it")
    if status == "cancelled":
        return "the batch was cancelled before this request ran; run again to resubmit it"
    return "the batch finished without an answer for this request; run again to resubmit it"


# ---------------------------------------------------------------------------- the job
def ask_batch(job: Any, client: Any, to_ask: dict[str, list[Any]], *,
              poll_s: float = 30.0) -> Job[None]:
    """Send ``to_ask`` (cache key -> items) through the Batch API and store the answers.

    ``job`` is the query run's ``_QueryJob`` (its ``project``, ``config``, ``base_url``,
    ``run_id``, ``done``/``total`` and ``record(group, answer)``). Batches recorded by an
    earlier run on the same server are resumed for the keys they hold.
    """
    project: Project = job.project
    client = client.with_options(max_retries=job.config.max_retries)
    remaining = dict(to_ask)
    batches: list[PendingBatch] = []
    for batch in pending_batches(project, job.base_url):
        mine = [k for k in batch.keys if k in remaining]
        if mine:
            batches.append(batch)
            for key in mine:
                remaining.pop(key)
    if batches:
        yield Progress(job.done, job.total, f"resuming {len(batches)} batch(es) submitted "
                                            "earlier")
    files = input_files((key, group[0].body) for key, group in remaining.items())
    for n, (keys, data) in enumerate(files, 1):
        yield Progress(job.done, job.total, f"uploading batch file {n}/{len(files)} "
                                            f"({len(keys)} requests, {len(data) / 1e6:.1f} MB)")
        try:
            uploaded = client.files.create(file=(f"harlab-run{job.run_id}-{n}.jsonl", data),
                                           purpose="batch")
            created = client.batches.create(
                input_file_id=uploaded.id, endpoint=ENDPOINT,
                completion_window=COMPLETION_WINDOW,
                metadata={"harlab_run": str(job.run_id), "harlab_part": str(n)})
        except openai.OpenAIError as exc:
            raise LLMError(f"the Batch API refused the upload or the batch ({exc}); check the "
                           "key, the model name and that the server offers /v1/batches "
                           "(OpenAI does; most local servers do not)") from exc
        batch = PendingBatch(batch_id=created.id, input_file_id=uploaded.id,
                             base_url=job.base_url, model=job.config.model_name, keys=keys,
                             run_id=job.run_id, created_at=time.time())
        project.set_meta(batch.meta_key, json.dumps(asdict(batch)))
        batches.append(batch)
    open_batches = list(batches)
    while open_batches:
        for batch in list(open_batches):
            try:
                state = client.batches.retrieve(batch.batch_id)
            except openai.NotFoundError:
                log.warning("batch %s is gone from the server; its requests will be resent",
                            batch.batch_id)
                _forget(project, batch)
                open_batches.remove(batch)
                continue
            except openai.OpenAIError as exc:
                raise LLMError(f"could not check batch {batch.batch_id} ({exc}); it stays "
                               "recorded in the project: run the query again to resume "
                               "it") from exc
            if state.status in TERMINAL:
                _collect(job, client, batch, state, to_ask)
                open_batches.remove(batch)
                continue
            counts = state.request_counts
            done = f"{counts.completed + counts.failed}/{counts.total}" if counts else "?"
            yield Progress(job.done, job.total, f"batch {batch.batch_id} {state.status}: "
                                                f"{done} requests done")
        if open_batches:
            yield from _wait(job, poll_s)


def _wait(job: Any, poll_s: float) -> Job[None]:
    """Sleep ``poll_s`` in short steps, yielding so that a cancel is never late."""
    deadline = time.monotonic() + poll_s
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(0.5, left))
        yield Progress(job.done, job.total, "waiting for the Batch API")


def _collect(job: Any, client: Any, batch: PendingBatch, state: Any,
             to_ask: dict[str, list[Any]]) -> None:
    """Download a finished batch's results and store one row per item that asked."""
    try:
        results = _read_file(client, state.output_file_id)
        results.update(_read_file(client, getattr(state, "error_file_id", None)))
    except openai.OpenAIError as exc:
        raise LLMError(f"could not download the results of batch {batch.batch_id} ({exc}); "
                       "run again to retry (the batch stays recorded)") from exc
    reason = _unanswered_reason(state)
    left_over = []
    for key in batch.keys:
        group = to_ask.get(key)
        if group is None:
            left_over.append(key)  # not asked by this run (another selection): kept for later
            continue
        answer = results.get(key) or RequestFailed(reason, attempts=0)
        future: cf.Future[Any] = cf.Future()
        if isinstance(answer, RequestFailed):
            future.set_exception(answer)
        else:
            future.set_result(answer)
        job.store(group, future)
        job.done += len(group)
    if left_over:
        kept = PendingBatch(**{**asdict(batch), "keys": left_over})
        job.project.set_meta(kept.meta_key, json.dumps(asdict(kept)))
    else:
        _forget(job.project, batch)
    log.info("batch %s %s: %d results", batch.batch_id, state.status, len(results))
