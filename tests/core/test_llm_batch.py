"""The Batch API path against a loopback fake of OpenAI's Files and Batches endpoints."""

from __future__ import annotations

import json
import re
import threading
import time
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from harlab import jobs
from harlab.errors import InputError
from harlab.llm.batch import input_files, pending_batches
from harlab.llm.config import LLMConfig
from harlab.llm.estimate import estimate_query
from harlab.llm.pricing import estimate_cost, estimate_prompt_tokens, image_tokens
from harlab.llm.runner import latest_requests, plan_requests, query_samples
from harlab.store import Project
from tests.llm_server import add_samples, default_reply

PAIRS = [("BabyCrawling", "BabyCrawling", "CuttingInKitchen"),
         ("Biking", "Biking", "HandstandWalking")]
SNAPSHOT = "gpt-4o-2024-08-06"


class FakeBatchAPI:
    """``/v1/files`` and ``/v1/batches`` on 127.0.0.1, with a scripted outcome.

    Attributes:
        outcome: ``completed``, ``errors`` (one line in the error file, one HTTP 400 line),
            ``failed`` (validation), ``expired`` (half the requests answered) or ``cancelled``.
        polls: retrieves answered ``in_progress`` before the batch reaches its outcome.
        uploads, batches: what was received; ``retrieves`` counts status checks.
    """

    def __init__(self, outcome: str = "completed", polls: int = 1):
        self.outcome, self.polls = outcome, polls
        self.files: dict[str, bytes] = {}
        self.uploads: list[bytes] = []
        self.batches: dict[str, dict[str, Any]] = {}
        self.retrieves = 0
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------------ server
    def __enter__(self) -> FakeBatchAPI:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/v1/files":
                    self._send(200, api._upload(self.headers["Content-Type"], raw))
                elif self.path == "/v1/batches":
                    self._send(200, api._create(json.loads(raw)))
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_GET(self) -> None:  # noqa: N802
                if m := re.fullmatch(r"/v1/batches/([\w-]+)", self.path):
                    if m.group(1) not in api.batches:
                        self._send(404, {"error": {"message": "no such batch"}})
                    else:
                        self._send(200, api._retrieve(m.group(1)))
                elif m := re.fullmatch(r"/v1/files/([\w-]+)/content", self.path):
                    self._send_raw(200, api.files[m.group(1)], "application/octet-stream")
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def _send(self, status: int, obj: dict[str, Any]) -> None:
                self._send_raw(status, json.dumps(obj).encode(), "application/json")

            def _send_raw(self, status: int, data: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    # ------------------------------------------------------------------ endpoints
    def _new_file(self, data: bytes, purpose: str, name: str) -> dict[str, Any]:
        with self._lock:
            file_id = f"file-{len(self.files) + 1}"
            self.files[file_id] = data
        return {"id": file_id, "object": "file", "bytes": len(data),
                "created_at": int(time.time()), "filename": name, "purpose": purpose,
                "status": "processed"}

    def _upload(self, ctype: str, raw: bytes) -> dict[str, Any]:
        msg = BytesParser(policy=email_policy).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)
        parts = {p.get_param("name", header="content-disposition"): p
                 for p in msg.iter_parts()}
        data = parts["file"].get_payload(decode=True)
        purpose = parts["purpose"].get_payload(decode=True).decode()
        assert purpose == "batch"
        self.uploads.append(data)
        return self._new_file(data, purpose, parts["file"].get_filename())

    def _create(self, req: dict[str, Any]) -> dict[str, Any]:
        assert req["endpoint"] == "/v1/chat/completions" and req["completion_window"] == "24h"
        with self._lock:
            batch_id = f"batch_{len(self.batches) + 1}"
            self.batches[batch_id] = {
                "id": batch_id, "object": "batch", "endpoint": req["endpoint"],
                "input_file_id": req["input_file_id"],
                "completion_window": req["completion_window"], "status": "validating",
                "created_at": int(time.time()), "metadata": req.get("metadata"),
                "output_file_id": None, "error_file_id": None, "errors": None,
                "request_counts": {"completed": 0, "failed": 0, "total": 0}, "_polls": 0}
        return self._public(batch_id)

    def _public(self, batch_id: str) -> dict[str, Any]:
        return {k: v for k, v in self.batches[batch_id].items() if not k.startswith("_")}

    def _retrieve(self, batch_id: str) -> dict[str, Any]:
        with self._lock:
            self.retrieves += 1
            batch = self.batches[batch_id]
            if batch["status"] in ("validating", "in_progress"):
                batch["_polls"] += 1
                if batch["_polls"] <= self.polls:
                    batch["status"] = "in_progress"
                else:
                    self._finish(batch)
        return self._public(batch_id)

    def _finish(self, batch: dict[str, Any]) -> None:
        lines = [json.loads(x) for x in self.files[batch["input_file_id"]].splitlines()]
        out, err = [], []
        for n, line in enumerate(lines):
            assert line["method"] == "POST" and line["url"] == "/v1/chat/completions"
            entry = {"id": f"batch_req_{n}", "custom_id": line["custom_id"]}
            if self.outcome == "errors" and n == 0:
                err.append({**entry, "response": None,
                            "error": {"code": "invalid_image", "message": "bad image"}})
            elif self.outcome == "errors" and n == 1:
                out.append({**entry, "error": None, "response": {
                    "status_code": 400, "request_id": "r",
                    "body": {"error": {"message": "context too long"}}}})
            elif self.outcome in ("expired", "cancelled") and n >= len(lines) // 2:
                continue
            elif self.outcome != "failed":
                out.append({**entry, "error": None, "response": {
                    "status_code": 200, "request_id": f"req_{n}",
                    "body": _completion(line["body"], n)}})
        batch["request_counts"] = {"completed": len(out), "failed": len(err),
                                   "total": len(lines)}
        if self.outcome == "failed":
            batch["status"] = "failed"
            batch["errors"] = {"object": "list", "data": [
                {"code": "invalid_json", "message": "line 1 is not JSON", "line": 1}]}
            return
        batch["status"] = {"errors": "completed"}.get(self.outcome, self.outcome)
        if out:
            batch["output_file_id"] = self._new_file(
                "".join(json.dumps(o) + "\n" for o in out).encode(), "batch_output",
                "out.jsonl")["id"]
        if err:
            batch["error_file_id"] = self._new_file(
                "".join(json.dumps(e) + "\n" for e in err).encode(), "batch_output",
                "err.jsonl")["id"]


def _completion(body: dict[str, Any], n: int) -> dict[str, Any]:
    text = default_reply(body)
    return {"id": f"chatcmpl-b{n}", "object": "chat.completion", "created": int(time.time()),
            "model": SNAPSHOT if body["model"] == "gpt-4o" else body["model"],
            "system_fingerprint": "fp_batch",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 100 + n, "completion_tokens": 20,
                      "total_tokens": 120 + n}}


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "proj") as proj:
        yield proj


def _config(api: FakeBatchAPI, **kw) -> LLMConfig:
    return LLMConfig(**{"provider": "openai", "base_url": api.base_url, "model": "gpt-4o",
                        "api_key_env": "", "timeout_s": 5.0, "max_retries": 0, **kw})


def _query(project: Project, api: FakeBatchAPI, **kw):
    return jobs.run(query_samples(project, _config(api), batch_api=True, batch_poll_s=0.01,
                                  **kw))


# ---------------------------------------------------------------------------- tests
def test_batch_sends_the_planned_bodies_and_stores_rows_like_the_direct_path(project):
    add_samples(project, PAIRS)
    with FakeBatchAPI(polls=2) as api:
        planned = {i.cache_key: i.body for i in plan_requests(project, _config(api))}
        result = _query(project, api)
        assert len(api.uploads) == 1 and len(api.batches) == 1 and api.retrieves == 3
        lines = [json.loads(x) for x in api.uploads[0].splitlines()]
    assert {ln["custom_id"]: ln["body"] for ln in lines} == planned  # custom_id = cache key
    assert (result.asked, result.failed, result.cached) == (8, 0, 0)
    rows = latest_requests(project)
    assert len(rows) == 8 and {r["status"] for r in rows} == {"ok"}
    for r in rows:
        assert r["response_model"] == SNAPSHOT and r["finish_reason"] == "stop"
        assert r["system_fingerprint"] == "fp_batch" and r["completion_tokens"] == 20
        assert r["response_text"].startswith("answer to: ") and r["attempts"] == 1
        assert json.loads(r["response_json"])["model"] == SNAPSHOT
        assert r["latency_s"] is None and r["base_url"] == api.base_url
        assert "base64" not in r["request_json"]
    assert result.cost_usd == pytest.approx(
        estimate_cost("openai", "gpt-4o", result.prompt_tokens, result.completion_tokens) / 2)
    assert pending_batches(project) == []
    run = project.query_one("SELECT * FROM runs WHERE id = ?", (result.run_id,))
    assert run["status"] == "done" and json.loads(run["config_json"])["batch_api"] is True


def test_error_lines_are_stored_failed_and_only_they_are_resent(project):
    add_samples(project, PAIRS)
    with FakeBatchAPI(outcome="errors") as api:
        first = _query(project, api, modalities=["unimodal"])
        failed = {r["error"] for r in latest_requests(project) if r["status"] == "failed"}
        assert first.failed == 2 and first.asked == 4
        assert any("batch error invalid_image: bad image" in e for e in failed)
        assert any("HTTP 400: context too long" in e for e in failed)
        api.outcome = "completed"
        second = _query(project, api, modalities=["unimodal"])
        assert len(api.uploads[1].splitlines()) == 2  # only the two failures again
    assert (second.asked, second.cached, second.failed) == (2, 2, 0)
    assert {r["status"] for r in latest_requests(project)} == {"ok"}


@pytest.mark.parametrize("outcome,ok,reason", [
    ("failed", 0, r"failed validation \(invalid_json: line 1 is not JSON\)"),
    ("expired", 2, "expired before this request ran"),
    ("cancelled", 2, "cancelled before this request ran"),
])
def test_failed_expired_and_cancelled_batches(project, outcome, ok, reason):
    add_samples(project, PAIRS)
    with FakeBatchAPI(outcome=outcome) as api:
        result = _query(project, api, modalities=["unimodal"])
    rows = latest_requests(project)
    assert sum(r["status"] == "ok" for r in rows) == ok and result.failed == 4 - ok
    assert all(re.search(reason, r["error"]) for r in rows if r["status"] == "failed")
    assert pending_batches(project) == []  # collected: the failed ones are resent next run


def test_a_killed_run_resumes_its_batch_without_resubmitting(project):
    add_samples(project, PAIRS)
    with FakeBatchAPI(polls=10**6) as api:
        job = query_samples(project, _config(api), batch_api=True, batch_poll_s=0.01,
                            modalities=["unimodal"])
        for _ in job:
            if api.retrieves >= 2:
                break
        job.close()  # the process dies while the batch runs on the server
        (pending,) = pending_batches(project, api.base_url)
        assert len(pending.keys) == 4 and pending.batch_id == "batch_1"
        assert project.runs("query")[0]["status"] == "cancelled"
        assert latest_requests(project) == []
        api.polls = 0  # the batch finishes while nothing watches it
        result = _query(project, api, modalities=["unimodal"])
        assert len(api.uploads) == 1 and len(api.batches) == 1  # picked up, not resent
    assert result.asked == 4 and result.failed == 0
    assert {r["status"] for r in latest_requests(project)} == {"ok"}
    assert pending_batches(project) == []


def test_input_files_respect_the_batch_limits():
    bodies = [(f"k{i}", {"model": "m", "messages": [{"role": "user", "content": "x" * 50}]})
              for i in range(5)]
    files = input_files(bodies, max_requests=2)
    assert [k for k, _ in files] == [["k0", "k1"], ["k2", "k3"], ["k4"]]
    line = json.loads(files[0][1].splitlines()[0])
    assert line == {"custom_id": "k0", "method": "POST", "url": "/v1/chat/completions",
                    "body": bodies[0][1]}
    size = len(files[0][1].splitlines(keepends=True)[0])
    assert len(input_files(bodies, max_bytes=2 * size)) == 3
    with pytest.raises(Exception, match="over the Batch API's 50-byte file limit"):
        input_files(bodies, max_bytes=50)


def test_estimate_before_sending(project):
    add_samples(project, PAIRS, size=224)
    with FakeBatchAPI() as api:
        est = estimate_query(project, _config(api))
        assert api.uploads == [] and latest_requests(project) == []
        assert (est.requests, est.cached, est.skipped) == (8, 0, 0)
        # 4 multimodal requests with 2 images each of 224 px: one tile, 255 tokens each
        assert est.prompt_tokens > 8 * 255 and est.completion_tokens == 8 * 512
        assert est.batch_cost_usd == pytest.approx(est.cost_usd / 2) and est.cost_usd > 0
        assert "Batch API" in str(est) and "upper bound" in str(est)
        _query(project, api, modalities=["unimodal"])
        after = estimate_query(project, _config(api))
    assert (after.requests, after.cached) == (4, 4)
    assert after.completion_tokens == 4 * 20 and "stored answers" in after.completion_basis


def test_estimate_for_the_builtin_model_counts_its_slots(project, monkeypatch):
    """A local model: no charge and no Batch API line; the time assumes as many requests in
    flight as the run sends (the built-in server's slots), not one at a time."""
    from harlab.llm import runner

    monkeypatch.setattr(runner, "builtin_slots", lambda config=None: 8)
    add_samples(project, PAIRS)
    est = estimate_query(project, LLMConfig(), modalities=["unimodal"], noise_floor=3)
    # 2 samples x (original + attacked + 3 noise-floor draws)
    assert est.requests == 10 and est.concurrency == 8 == runner.request_workers(LLMConfig())
    assert est.time_s == pytest.approx(2 * est.latency_s)  # ceil(10 / 8) rounds of requests
    text = str(est)
    assert "no charge (a local model)" in text and "8 in flight" in text
    assert "Batch API" not in text
    assert runner.request_workers(LLMConfig(concurrency=3)) == 3
    assert runner.request_workers(LLMConfig(provider="openai", concurrency=20)) == 20


def test_cli_query_defaults_are_llmconfigs():
    from harlab.cli import build_parser

    args = build_parser().parse_args(["query", "--project", "p"])
    default = LLMConfig()
    assert (args.concurrency, args.timeout, args.max_retries) == (
        default.concurrency, default.timeout_s, default.max_retries)


def test_token_rules():
    assert image_tokens(224, 224) == 255 and image_tokens(224, 224, "low") == 85
    assert image_tokens(1024, 1024, "high") == 765  # OpenAI's worked example
    assert image_tokens(2048, 4096, "high") == 1105
    body = {"messages": [{"role": "user", "content": "a" * 40}]}
    assert estimate_prompt_tokens(body) == 4 + 10


def test_batch_api_refuses_the_builtin_model(project):
    with pytest.raises(InputError, match="the Batch API needs a server with /v1/files"):
        next(query_samples(project, LLMConfig(), batch_api=True))


def test_cli_estimate_and_batch(project, capsys):
    from harlab.cli import main

    add_samples(project, PAIRS)
    with FakeBatchAPI() as api:
        base = ["query", "--project", str(project.root), "--provider", "openai", "--base-url",
                api.base_url, "--model", "gpt-4o", "--api-key-env", "", "--modality",
                "unimodal", "--noise-floor", "0"]
        assert main([*base, "--estimate"]) == 0
        out = capsys.readouterr().out
        assert "4 requests to send to openai:gpt-4o" in out and "half price" in out
        assert api.uploads == []
        assert main([*base, "--batch-api", "--batch-poll", "0.01"]) == 0
        assert "4 asked" in capsys.readouterr().out and len(api.batches) == 1
