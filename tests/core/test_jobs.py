import pytest

from harlab import jobs
from harlab.jobs import Progress


def counting_job(n, log):
    try:
        for i in range(n):
            yield Progress(i + 1, n, f"step {i + 1}")
        return n * 10
    finally:
        log.append("finally")


def test_run_returns_result_and_reports_progress():
    log, seen = [], []
    assert jobs.run(counting_job(3, log), seen.append) == 30
    assert [p.done for p in seen] == [1, 2, 3] and seen[-1].fraction == 1.0
    assert log == ["finally"]


def test_run_cli_returns_result(capsys):
    log = []
    assert jobs.run_cli(counting_job(4, log), "count", disable=True) == 40
    assert log == ["finally"]


def test_closing_a_job_runs_its_finally():
    log = []
    job = counting_job(10, log)
    next(job)
    job.close()
    assert log == ["finally"]


def test_progress_fraction_unknown_total():
    assert Progress(3, 0).fraction is None


def test_errors_propagate_from_run():
    def failing():
        yield Progress(0, 1)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        jobs.run(failing())
