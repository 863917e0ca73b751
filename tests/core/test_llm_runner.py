"""The query job against the fake OpenAI-compatible server: cache, resume, faults, skips."""

from __future__ import annotations

import base64
import json

import pytest

from harlab import jobs
from harlab.errors import InputError
from harlab.llm.config import LLMConfig, draw_seed
from harlab.llm.runner import (
    noise_responses,
    plan_requests,
    query_samples,
    response_pairs,
    usage_summary,
)
from harlab.store import Project
from tests.llm_server import FakeLLMServer, add_samples

PAIRS = [("BabyCrawling", "BabyCrawling", "CuttingInKitchen"),
         ("Biking", "Biking", "HandstandWalking")]


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "proj") as proj:
        yield proj


def _config(server: FakeLLMServer, **kw) -> LLMConfig:
    kw = {"provider": "openai", "base_url": server.base_url, "model": "gpt-4o",
          "api_key_env": "", "backoff_s": 0.01, "max_backoff_s": 0.05, "timeout_s": 5.0,
          "concurrency": 2, **kw}
    return LLMConfig(**kw)


def test_unimodal_and_multimodal_prompts_follow_the_paper(project):
    ids = add_samples(project, PAIRS)
    with FakeLLMServer() as server:
        result = jobs.run(query_samples(project, _config(server)))
        assert (result.asked, result.failed, result.skipped) == (8, 0, 0)
        texts = [json.dumps(b) for b in server.requests]
    assert any("footage are BabyCrawling, can you" in t for t in texts)
    assert any("footage are CuttingInKitchen, can you" in t for t in texts)
    assert any("traffic footage is HandstandWalking, can you" in t for t in texts)
    pairs = {p.sample_id: p for p in response_pairs(project, "unimodal")}
    assert "CuttingInKitchen" in pairs[ids[0]].attacked_text
    assert "BabyCrawling" in pairs[ids[0]].original_text
    multi = {p.sample_id: p for p in response_pairs(project, "multimodal")}
    assert multi[ids[1]].original_text.endswith("[images: 2]")
    assert "{label}" not in multi[ids[1]].original_text


def test_images_are_the_stored_png_bytes_with_detail(project):
    add_samples(project, PAIRS[:1], frames=3)
    with FakeLLMServer() as server:
        jobs.run(query_samples(project, _config(server, image_detail="low"),
                               modalities=["multimodal"]))
        urls = server.image_urls()
        details = {p["image_url"]["detail"] for b in server.requests
                   for m in b["messages"] if isinstance(m["content"], list)
                   for p in m["content"] if p["type"] == "image_url"}
    assert len(urls) == 6 and details == {"low"}
    assert all(u.startswith("data:image/png;base64,") for u in urls)
    sample = project.query_one("SELECT * FROM samples")
    stored = {project.abspath(p).read_bytes() for col in ("clean_frames_json", "adv_frames_json")
              for p in json.loads(sample[col])}
    sent = {base64.b64decode(u.split(",", 1)[1]) for u in urls}
    assert sent == stored and len(stored) == 6  # byte for byte, clean and adversarial
    logged = project.query("SELECT request_json FROM llm_requests")
    assert all("base64" not in r["request_json"] for r in logged)  # images by reference
    assert any("png:frames/" in r["request_json"] for r in logged)


def test_second_run_is_answered_from_the_store(project):
    add_samples(project, PAIRS)
    with FakeLLMServer() as server:
        first = jobs.run(query_samples(project, _config(server)))
        n = len(server.requests)
        second = jobs.run(query_samples(project, _config(server)))
        assert len(server.requests) == n
        third = jobs.run(query_samples(project, _config(server), refresh=True))
        assert len(server.requests) == 2 * n
    assert first.asked == 8 and first.cached == 0
    assert second.asked == 0 and second.cached == 8
    assert third.asked == 8
    assert first.prompt_tokens > 0 and second.tokens == 0
    rows = project.query("SELECT count(*) FROM llm_requests")[0][0]
    assert rows == 16  # the second run wrote nothing; the refresh logged new rows


def test_identical_prompts_get_independent_answers(project):
    """Two samples whose prompts read the same each get their own answers (issue 9)."""
    add_samples(project, [PAIRS[1], PAIRS[1]])  # same labels: same unimodal prompt texts
    with FakeLLMServer() as server:
        result = jobs.run(query_samples(project, _config(server), modalities="unimodal"))
        assert len(server.requests) == 4
        assert len({b["seed"] for b in server.requests}) == 4  # one seed per sample and side
    assert result.asked == 4 and result.cached == 0
    assert project.query("SELECT count(*) FROM llm_requests WHERE cached_from IS NOT NULL"
                         )[0][0] == 0
    rows = project.query("SELECT * FROM llm_requests ORDER BY id")
    assert len({r["cache_key"] for r in rows}) == 4
    assert all(r["finish_reason"] == "stop" and r["response_model"] and r["draw"] == 0
               and r["max_tokens"] == 512 and r["temperature"] == 0.7 for r in rows)


def test_a_rerun_of_independent_answers_asks_nothing(project):
    add_samples(project, [PAIRS[1], PAIRS[1]])
    with FakeLLMServer() as server:
        jobs.run(query_samples(project, _config(server), modalities="unimodal"))
        again = jobs.run(query_samples(project, _config(server), modalities="unimodal"))
        assert len(server.requests) == 4 and again.asked == 0 and again.cached == 4


def test_changing_a_parameter_changes_the_cache_key(project):
    add_samples(project, PAIRS[:1])
    with FakeLLMServer() as server:
        jobs.run(query_samples(project, _config(server), modalities="unimodal"))
        jobs.run(query_samples(project, _config(server, temperature=0.0), modalities="unimodal"))
        jobs.run(query_samples(project, _config(server, seed=7), modalities="unimodal"))
        assert len(server.requests) == 6
        assert {b["temperature"] for b in server.requests} == {0.7, 0.0}
        sample_id = project.query_one("SELECT id FROM samples")[0]
        assert {b["seed"] for b in server.requests} == {
            draw_seed(seed, sample_id, side, 0) for seed in (0, 7)
            for side in ("original", "attacked")}


def test_faults_are_retried_and_stored(project):
    add_samples(project, PAIRS[:1])
    faults = ["429", "500", "malformed", "hang"]
    with FakeLLMServer(faults=faults, retry_after="0", hang_s=2.0) as server:
        cfg = _config(server, concurrency=1, timeout_s=0.5, max_retries=4)
        result = jobs.run(query_samples(project, cfg, modalities="unimodal"))
        assert server.fault_log[:4] == faults
    assert (result.asked, result.failed) == (2, 0)
    attempts = sorted(r["attempts"] for r in project.query("SELECT * FROM llm_requests"))
    assert attempts == [1, 5]
    ok = project.query("SELECT * FROM llm_requests WHERE status = 'ok'")
    assert all(r["system_fingerprint"] == "fp_fake" for r in ok)


def test_failure_after_last_retry_is_stored_and_the_study_carries_on(project):
    add_samples(project, PAIRS[:1])
    with FakeLLMServer(faults=["500"] * 3) as server:
        cfg = _config(server, concurrency=1, max_retries=2)
        result = jobs.run(query_samples(project, cfg, modalities="unimodal"))
        assert (result.failed, result.asked) == (1, 2)
        failed = project.query_one("SELECT * FROM llm_requests WHERE status = 'failed'")
        assert "HTTP 500" in failed["error"] and "3 attempts" in failed["error"]
        assert failed["attempts"] == 3
        # the next run retries only the failed request
        again = jobs.run(query_samples(project, cfg, modalities="unimodal"))
        assert (again.asked, again.cached, again.failed) == (1, 1, 0)
    pair = response_pairs(project, "unimodal")[0]
    assert (pair.original_status, pair.attacked_status) == ("ok", "ok")


def test_non_retryable_errors_fail_at_once(project):
    add_samples(project, PAIRS[:1])
    with FakeLLMServer(faults=["400"]) as server:
        cfg = _config(server, concurrency=1)
        jobs.run(query_samples(project, cfg, modalities="unimodal"))
        assert server.fault_log.count("400") == 1
    row = project.query_one("SELECT * FROM llm_requests WHERE status = 'failed'")
    assert "HTTP 400" in row["error"] and row["attempts"] == 1


def test_retry_after_header_is_honoured(project):
    import time

    add_samples(project, PAIRS[:1])
    with FakeLLMServer(faults=["429"], retry_after="1") as server:
        cfg = _config(server, concurrency=1, backoff_s=0.0)
        started = time.perf_counter()
        jobs.run(query_samples(project, cfg, modalities="unimodal", sample_ids=[1]))
        assert time.perf_counter() - started >= 0.95


def test_text_only_model_skips_multimodal_with_reason(project):
    add_samples(project, PAIRS[:1])
    with FakeLLMServer() as server:
        cfg = _config(server, model="some-text-model")
        result = jobs.run(query_samples(project, cfg))
        assert all(isinstance(m["content"], str) for b in server.requests for m in b["messages"])
    assert result.skipped == 2 and result.asked == 2
    rows = project.query("SELECT * FROM llm_requests WHERE status = 'skipped'")
    assert {r["modality"] for r in rows} == {"multimodal"}
    assert all("cannot take images" in r["error"] for r in rows)
    assert all("vlm_model, vlm_mmproj" in r["error"] for r in rows)  # the offline route
    assert all(r["response_text"] is None for r in rows)
    again = jobs.run(query_samples(project, cfg))
    assert again.skipped == 2
    assert project.query_one("SELECT count(*) FROM llm_requests")[0] == 4  # not re-logged


def test_sample_without_scenario_is_skipped(project, tmp_path):
    from harlab.llm.scenarios import load_scenarios

    add_samples(project, [("JumpingJack", "JumpingJack", "Biking")])
    paper_only = tmp_path / "sc"
    paper_only.mkdir()
    from harlab.llm.scenarios import BUNDLED_DIR
    for name in ("smart_home_security.yaml", "road_safety_monitoring.yaml"):
        (paper_only / name).write_text((BUNDLED_DIR / name).read_text())
    with FakeLLMServer() as server:
        result = jobs.run(query_samples(project, _config(server),
                                        scenarios=load_scenarios(paper_only)))
        assert server.requests == []
    assert result.skipped == 4
    row = project.query_one("SELECT error FROM llm_requests")
    assert "no scenario for class 'JumpingJack'" in row["error"]


def test_noise_floor_repeats_the_clean_request(project):
    ids = add_samples(project, PAIRS[:1])
    with FakeLLMServer() as server:
        result = jobs.run(query_samples(project, _config(server), modalities="unimodal",
                                        noise_floor=3))
        bodies = [json.dumps(b["messages"]) for b in server.requests]
    assert result.asked == 5
    assert sum("BabyCrawling, can you" in b for b in bodies) == 4
    assert len(noise_responses(project, ids[0], "unimodal")) == 4


def test_cancel_keeps_finished_requests_and_resume_skips_them(project):
    add_samples(project, [(f"Class{i}", f"Class{i}", f"Adv{i}") for i in range(6)])
    with FakeLLMServer(latency_s=0.2) as server:
        cfg = _config(server, concurrency=2)
        job = query_samples(project, cfg, modalities="unimodal")
        for step in job:
            if step.done >= 3:
                break
        job.close()  # what the GUI runner does on Cancel
        stored = project.query_one("SELECT count(*) FROM llm_requests")[0]
        sent = len(server.requests)
        assert 3 <= stored < 12 and sent == stored  # in-flight requests were stored too
        run = project.runs("query")[-1]
        assert run["status"] == "cancelled"
        result = jobs.run(query_samples(project, cfg, modalities="unimodal"))
        assert (result.asked, result.cached) == (12 - sent, sent)
        assert len(server.requests) == 12  # nothing finished was asked twice
        assert len({json.dumps(b) for b in server.requests}) == 12


def test_missing_api_key_names_the_variable(project, monkeypatch):
    add_samples(project, PAIRS[:1])
    monkeypatch.delenv("HARLAB_TEST_KEY", raising=False)
    with FakeLLMServer() as server:
        cfg = _config(server, api_key_env="HARLAB_TEST_KEY")
        with pytest.raises(Exception, match="HARLAB_TEST_KEY.*not set"):
            jobs.run(query_samples(project, cfg))
    assert project.runs("query")[-1]["status"] == "failed"


def test_api_key_is_sent_but_never_stored(project, monkeypatch):
    add_samples(project, PAIRS[:1])
    monkeypatch.setenv("HARLAB_TEST_KEY", "sk-secret-123")
    with FakeLLMServer() as server:
        jobs.run(query_samples(project, _config(server, api_key_env="HARLAB_TEST_KEY")))
    project.close()
    blob = (project.root / "project.sqlite").read_bytes()
    wal = project.root / "project.sqlite-wal"
    blob += wal.read_bytes() if wal.exists() else b""
    assert b"sk-secret-123" not in blob and b"HARLAB_TEST_KEY" in blob


def test_bad_arguments_are_rejected(project):
    add_samples(project, PAIRS[:1])
    cfg = LLMConfig(provider="openai", base_url="http://127.0.0.1:9/v1", api_key_env="")
    with pytest.raises(InputError, match="modality must be one or more of"):
        plan_requests(project, cfg, modalities=["video"])
    with pytest.raises(InputError, match="noise_floor must be a whole number"):
        plan_requests(project, cfg, noise_floor=-1)
    with pytest.raises(InputError, match="no sample with id 99"):
        plan_requests(project, cfg, sample_ids=[99])
    with pytest.raises(InputError, match="config must be an LLMConfig"):
        next(query_samples(project, {"provider": "openai"}))


def test_usage_summary_counts_sent_requests_only(project):
    add_samples(project, [PAIRS[1], PAIRS[1]])
    with FakeLLMServer() as server:
        jobs.run(query_samples(project, _config(server), modalities="unimodal"))
    summary = usage_summary(project)
    (model,) = summary["models"]
    assert model["requests"] == 4 and model["cost_usd"] > 0  # every answer was asked for
    assert "estimate" in summary["note"]


def test_an_unexpected_client_error_is_stored_not_raised(project, monkeypatch):
    from harlab.llm import client as llm_client

    add_samples(project, PAIRS[:1])

    def broken(*args, **kwargs):
        raise TypeError("odd body")

    monkeypatch.setattr(llm_client, "chat", broken)
    with FakeLLMServer() as server:
        result = jobs.run(query_samples(project, _config(server), modalities="unimodal"))
    assert result.failed == 2
    row = project.query_one("SELECT error FROM llm_requests")
    assert row["error"] == "unexpected TypeError: odd body"
