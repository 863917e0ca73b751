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
    assert capsys.readouterr().err == ""  # disable=True: nothing at all


def staged_job():
    for message in ("data: indexing", "reading 12 videos", "train: epoch 1", "train: epoch 2",
                    "attack: fgsm"):
        yield Progress(1, 2, message)
    return "ok"


def test_run_cli_logs_one_line_per_stage_when_stderr_is_not_a_terminal(capsys):
    """A CI log or a pipe gets no bar but a time-stamped line per stage and one at the end."""
    assert jobs.run_cli(staged_job(), "study") == "ok"
    lines = capsys.readouterr().err.splitlines()
    assert [line.split("] ", 1)[1] for line in lines] == [
        "study: data: indexing (1/2)", "study: train: epoch 1 (1/2)",
        "study: attack: fgsm (1/2)", "study: done"]
    assert all(line.startswith("[  0:0") for line in lines)


def test_run_cli_repeats_a_long_stage_every_log_every_s(capsys):
    jobs.run_cli(staged_job(), "study", log_every_s=0.0)
    assert "train: epoch 2" in capsys.readouterr().err


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
