"""``harlab query`` end to end against the fake server."""

from __future__ import annotations

from harlab.cli import main
from harlab.llm.config import draw_seed
from harlab.store import Project
from tests.llm_server import FakeLLMServer, add_samples


def _project(tmp_path):
    project = Project.create(tmp_path / "p")
    add_samples(project, [("Biking", "Biking", "HandstandWalking")])
    project.close()
    return str(tmp_path / "p")


def test_query_then_rerun_from_the_store(tmp_path, capsys):
    path = _project(tmp_path)
    with FakeLLMServer() as server:
        args = ["query", "--project", path, "--provider", "vllm", "--base-url",
                server.base_url, "--model", "text-model", "--seed", "3", "--noise-floor", "0"]
        assert main(args) == 0
        out = capsys.readouterr().out
        assert "2 asked, 0 from the store, 0 failed, 2 skipped" in out
        assert "cannot take images" in out and "cost ~$0.0000 (estimate)" in out
        assert main(args) == 0
        assert "0 asked, 2 from the store" in capsys.readouterr().out
        with Project.open(path) as project:
            asked = project.query("SELECT sample_id, variant FROM llm_requests "
                                  "WHERE status = 'ok'")
        assert len(server.requests) == 2  # in flight together: compare as sets, not in order
        assert {b["seed"] for b in server.requests} == {
            draw_seed(3, r["sample_id"], r["variant"]) for r in asked}


def test_failures_give_exit_status_1(tmp_path, capsys):
    path = _project(tmp_path)
    with FakeLLMServer(faults=["500"] * 4) as server:
        code = main(["query", "--project", path, "--provider", "vllm", "--base-url",
                     server.base_url, "--modality", "unimodal", "--max-retries", "1",
                     "--concurrency", "1"])
    assert code == 1
    assert "2 requests failed" in capsys.readouterr().out


def test_bad_options_are_reported(tmp_path, capsys):
    path = _project(tmp_path)
    assert main(["query", "--project", path, "--temperature", "5"]) == 2
    assert "temperature must be a number in [0, 2]" in capsys.readouterr().err
    assert main(["query", "--project", path, "--modality", "audio"]) == 2
    assert "modality must be one or more of unimodal, multimodal" in capsys.readouterr().err
    assert main(["query", "--project", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err
