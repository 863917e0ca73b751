"""JobControls: one way for a panel to run a job, with progress, Cancel and inline errors."""

from __future__ import annotations

import threading

from harlab.errors import InputError
from harlab.jobs import Progress
from ui.widgets.job_controls import JobControls


def _job(n, *, fail=False, gate=None):
    for i in range(n):
        if gate is not None:
            gate.wait(5)
        yield Progress(i + 1, n, f"step {i + 1} <of> {n}")
    if fail:
        raise InputError("eps must be in (0, 1], got 8 (did you mean 8/255?)")
    return n


def _controls(qtbot, ctx):
    controls = JobControls(ctx.runner)
    qtbot.addWidget(controls)
    return controls


def test_success_shows_progress_and_ends_idle(qtbot, ctx):
    controls = _controls(qtbot, ctx)
    results, busy = [], []
    controls.busy_changed.connect(busy.append)
    with qtbot.waitSignal(ctx.runner.finished, timeout=5000):
        assert controls.run(_job(3), "count", results.append)
        assert controls.cancel_button.isEnabled()
    assert results == [3] and busy == [True, False]
    assert controls.status.text() == "step 3 <of> 3"
    assert not controls.cancel_button.isEnabled() and not controls.progress.isVisible()


def test_error_is_shown_inline_and_escaped(qtbot, ctx):
    controls = _controls(qtbot, ctx)
    errors = []
    with qtbot.waitSignal(ctx.runner.finished, timeout=5000):
        controls.run(_job(1, fail=True), "attack", on_error=errors.append)
    assert errors == ["eps must be in (0, 1], got 8 (did you mean 8/255?)"]
    assert "#b00020" in controls.status.text() and "did you mean 8/255?" in controls.status.text()


def test_exclusive_run_is_refused_while_busy_and_cancel_stops(qtbot, ctx):
    controls = _controls(qtbot, ctx)
    gate = threading.Event()
    controls.run(_job(100, gate=gate), "long", None)
    assert not controls.run(_job(1), "other", None, exclusive=True)
    assert "cannot start other: 'long' is still running" in controls.status.text()
    with qtbot.waitSignal(ctx.runner.cancelled, timeout=5000):
        controls.cancel_button.click()
        gate.set()
    qtbot.waitUntil(lambda: not controls.busy, timeout=5000)


def test_exclusive_run_queues_behind_a_quiet_background_read(qtbot, ctx):
    """A view's quiet read (the Overview reading the study) finishes in moments; a user's
    action started meanwhile waits for it instead of being refused."""
    controls = _controls(qtbot, ctx)
    gate, results = threading.Event(), []
    controls.run(_job(2, gate=gate), "Read the view", None, quiet=True)
    assert controls.run(_job(1), "Estimate", results.append, exclusive=True)
    with qtbot.waitSignal(ctx.runner.finished, timeout=5000):
        gate.set()
    qtbot.waitUntil(lambda: results == [1], timeout=5000)
