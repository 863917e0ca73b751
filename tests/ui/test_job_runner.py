import threading
import time

import pytest
from PySide6.QtCore import QThread

from harlab.errors import HarlabError, InputError
from harlab.jobs import Progress
from ui.job_runner import JobRunner


@pytest.fixture
def runner(qtbot):
    r = JobRunner()
    yield r
    r.shutdown()


def job(n, log, *, delay_s=0.0, fail_at=None, thread_ids=None):
    try:
        for i in range(n):
            if thread_ids is not None:
                thread_ids.append(threading.get_ident())
            if fail_at == i:
                raise InputError(f"bad value at step {i}; expected fewer steps")
            if delay_s:
                time.sleep(delay_s)
            yield Progress(i + 1, n, f"step {i + 1}")
        return "result"
    finally:
        log.append("finally")


def test_progress_and_success_reach_the_gui_thread(qtbot, runner):
    log, got, threads = [], [], []
    gui_thread = threading.get_ident()
    runner.progress.connect(lambda p: got.append((p.done, threading.get_ident())))
    results = []
    with qtbot.waitSignal(runner.finished, timeout=5000):
        runner.start(job(3, log, thread_ids=threads), "count", on_success=results.append)
    assert results == ["result"]
    assert [d for d, _ in got] == [1, 2, 3]
    assert all(t == gui_thread for _, t in got)
    assert threads and all(t != gui_thread for t in threads)
    assert log == ["finally"] and not runner.busy


def test_cancel_runs_finally_and_returns_quickly(qtbot, runner):
    log = []
    cancelled = []
    runner.cancelled.connect(lambda: cancelled.append(True))
    with qtbot.waitSignal(runner.progress, timeout=5000):
        runner.start(job(1000, log, delay_s=0.05), "slow")
    start = time.monotonic()
    with qtbot.waitSignal(runner.finished, timeout=5000):
        runner.cancel()
    assert time.monotonic() - start < 1.0
    assert cancelled == [True] and log == ["finally"]


def test_errors_reach_the_gui_thread(qtbot, runner):
    log, errors = [], []
    with qtbot.waitSignal(runner.failed, timeout=5000) as blocker:
        runner.start(job(5, log, fail_at=2), "failing", on_error=lambda m, tb: errors.append(m))
    message, tb = blocker.args
    assert "bad value at step 2" in message and "InputError" in tb
    qtbot.waitUntil(lambda: not runner.busy, timeout=5000)
    assert errors == [message] and log == ["finally"]


def test_unexpected_exceptions_are_named(qtbot, runner):
    def broken():
        yield Progress(0, 1)
        raise ZeroDivisionError("division by zero")

    with qtbot.waitSignal(runner.failed, timeout=5000) as blocker:
        runner.start(broken(), "broken")
    assert blocker.args[0].startswith("ZeroDivisionError")
    qtbot.waitUntil(lambda: not runner.busy, timeout=5000)


def test_one_job_at_a_time(qtbot, runner):
    log = []
    runner.start(job(1000, log, delay_s=0.02), "first")
    second_log = []
    second = job(1, second_log)
    with pytest.raises(HarlabError, match="'first' is still running"):
        runner.start(second, "second")
    with qtbot.waitSignal(runner.finished, timeout=5000):
        runner.cancel()


def test_shutdown_mid_job_stops_the_thread(qtbot):
    runner = JobRunner()
    log = []
    with qtbot.waitSignal(runner.progress, timeout=5000):
        runner.start(job(10_000, log, delay_s=0.01), "long")
    thread = runner._thread
    assert isinstance(thread, QThread)
    assert runner.shutdown(5000)
    assert log == ["finally"] and not runner.busy


def test_enqueue_waits_for_the_running_job_and_latest_request_wins(qtbot, runner):
    log, results = [], []
    runner.start(job(5, log, delay_s=0.02), "first", on_success=results.append)
    stale_log = []
    label = {"now": "stale"}

    def on_view(_result):  # one requester asking twice: the same callback
        results.append(label["now"])

    runner.enqueue(job(1, stale_log), "load view", on_success=on_view)
    label["now"] = "view"
    runner.enqueue(job(2, log), "load view", on_success=on_view)
    assert runner.queued == ["load view"]
    assert stale_log == []  # replaced (closed) before it ever ran
    qtbot.waitUntil(lambda: results == ["result", "view"], timeout=5000)
    qtbot.waitUntil(lambda: not runner.busy, timeout=5000)
    assert runner.queued == []


def test_enqueue_starts_at_once_when_idle(qtbot, runner):
    results = []
    with qtbot.waitSignal(runner.finished, timeout=5000):
        runner.enqueue(job(1, []), "now", on_success=results.append)
    assert results == ["result"]


def test_shutdown_drops_queued_jobs(qtbot):
    runner = JobRunner()
    running_log, queued_log = [], []
    with qtbot.waitSignal(runner.progress, timeout=5000):
        runner.start(job(10_000, running_log, delay_s=0.01), "long")
    runner.enqueue(job(3, queued_log), "later")
    assert runner.shutdown(5000)
    assert running_log == ["finally"] and queued_log == []  # dropped, never started
    assert runner.queued == []


def test_enqueue_keeps_the_same_request_from_two_requesters(qtbot, runner):
    got = []

    class Requester:
        def __init__(self, tag):
            self.tag = tag

        def done(self, result):
            got.append(self.tag)

    a, b = Requester("a"), Requester("b")
    runner.start(job(3, [], delay_s=0.02), "first")
    runner.enqueue(job(1, []), "index dataset", on_success=a.done)
    runner.enqueue(job(1, []), "index dataset", on_success=b.done)
    assert runner.queued == ["index dataset", "index dataset"]
    qtbot.waitUntil(lambda: sorted(got) == ["a", "b"], timeout=5000)
    qtbot.waitUntil(lambda: not runner.busy, timeout=5000)
