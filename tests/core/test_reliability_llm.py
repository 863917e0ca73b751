"""Issue 14: the built-in LLM server dies mid-study.

The "built-in server" here is the fake OpenAI-compatible server run as a real child process, so
killing it (SIGKILL) closes its sockets the way a crashed llama.cpp server would. The runner
must notice, restart it once, and otherwise store failed rows that a later run asks again;
it must never hang.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import harlab.llm.runner as runner
from harlab.errors import LLMError
from harlab.llm.config import LLMConfig
from harlab.store import Project
from tests.llm_server import add_samples

REPO = Path(__file__).resolve().parents[2]
PAIRS = [("BabyCrawling", "BabyCrawling", "CuttingInKitchen"),
         ("Biking", "Biking", "HandstandWalking"),
         ("Biking", "Biking", "BabyCrawling")]
SERVE = ("import time; from tests.llm_server import FakeLLMServer; "
         "s = FakeLLMServer(latency_s={latency}).start(); print(s.base_url, flush=True); "
         "time.sleep(600)")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL")


class Servers:
    """Starts a fake server process per ``ensure_builtin_server`` call, as a restart would."""

    def __init__(self, latency_s: float = 0.3, fail_after: int | None = None):
        self.latency_s, self.fail_after = latency_s, fail_after
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, config=None) -> str:
        if self.fail_after is not None and len(self.procs) >= self.fail_after:
            raise LLMError("the built-in model server exited with code 1 while starting")
        proc = subprocess.Popen([sys.executable, "-c", SERVE.format(latency=self.latency_s)],
                                cwd=REPO, stdout=subprocess.PIPE, text=True)
        self.procs.append(proc)
        assert proc.stdout is not None
        return proc.stdout.readline().strip()

    def kill_latest(self) -> None:
        self.procs[-1].send_signal(signal.SIGKILL)
        self.procs[-1].wait(timeout=10)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
            if proc.stdout:
                proc.stdout.close()


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "proj") as proj:
        add_samples(proj, PAIRS)
        yield proj


@pytest.fixture
def servers(monkeypatch):
    made = Servers()
    monkeypatch.setattr(runner, "ensure_builtin_server", made.start)
    yield made
    made.close()


def _config(**kw) -> LLMConfig:
    return LLMConfig(provider="builtin", backoff_s=0.05, max_backoff_s=0.2, timeout_s=5.0,
                     max_retries=2, **kw)


def _run_killing(project, servers, kills: int):
    """Run the query, killing the newest server after each of the first ``kills`` answers."""
    job = runner.query_samples(project, _config(), modalities="unimodal")
    started = time.monotonic()
    killed = 0
    try:
        while True:
            next(job)
            answered = project.query_one("SELECT count(*) FROM llm_requests "
                                         "WHERE status = 'ok'")[0]
            if killed < kills and answered > killed * 2 and len(servers.procs) > killed:
                servers.kill_latest()
                killed += 1
            assert time.monotonic() - started < 60, "the query hung"
    except StopIteration as stop:
        return stop.value, time.monotonic() - started


def _statuses(project) -> list[str]:
    return [r["status"] for r in project.query(
        "SELECT status FROM llm_requests WHERE id IN (SELECT max(id) FROM llm_requests "
        "GROUP BY sample_id, modality, variant)")]


def test_server_killed_mid_run_is_restarted_once_and_the_run_completes(project, servers):
    result, elapsed = _run_killing(project, servers, kills=1)
    assert len(servers.procs) == 2  # started, then restarted once
    assert result.failed == 0 and sorted(_statuses(project)) == ["ok"] * 6
    assert elapsed < 30


def test_server_that_dies_again_leaves_failed_rows_that_resume(project, servers, monkeypatch):
    result, elapsed = _run_killing(project, servers, kills=2)
    assert len(servers.procs) == 2  # one restart only
    statuses = _statuses(project)
    assert result.failed >= 1 and "failed" in statuses and "ok" in statuses
    failed = project.query("SELECT error FROM llm_requests WHERE status = 'failed'")
    assert any("stopped again after a restart" in r["error"] for r in failed)
    assert elapsed < 30
    # space for the lab to fix it: the next run asks only what is still unanswered
    ok_before = statuses.count("ok")
    again = runner.query_samples(project, _config(), modalities="unimodal")
    while True:
        try:
            next(again)
        except StopIteration as stop:
            resumed = stop.value
            break
    assert resumed.failed == 0 and resumed.cached == ok_before
    assert resumed.asked == 6 - ok_before
    assert sorted(_statuses(project)) == ["ok"] * 6


def test_server_that_will_not_restart_fails_the_rest_at_once(project, monkeypatch):
    made = Servers(fail_after=1)
    monkeypatch.setattr(runner, "ensure_builtin_server", made.start)
    try:
        result, elapsed = _run_killing(project, made, kills=1)
    finally:
        made.close()
    failed = project.query("SELECT error, attempts FROM llm_requests WHERE status = 'failed'")
    assert failed and result.failed == len(failed)
    assert all("did not restart" in r["error"] and "run the query again" in r["error"]
               for r in failed)
    assert elapsed < 30
