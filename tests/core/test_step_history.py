"""The per-step training curve stays bounded and keeps the mean loss."""

from __future__ import annotations

import pytest

from harlab.train.step_history import StepHistory


def test_thinning_keeps_at_most_max_points_and_the_mean():
    h = StepHistory(max_points=10)
    for step in range(1, 1001):
        h.add(step, float(step), 0.1 * step)
    assert len(h) <= 10
    assert h.steps == sorted(h.steps) and h.steps[-1] <= 1000
    # each stored loss is the mean of the steps since the previous point
    gaps = {b - a for a, b in zip(h.steps, h.steps[1:], strict=False)}
    assert gaps == {h.stride}
    assert h.losses[1] == pytest.approx((h.steps[0] + 1 + h.steps[1]) / 2)
    assert h.lrs[-1] == pytest.approx(0.1 * h.steps[-1])


def test_round_trip_and_old_runs():
    h = StepHistory(max_points=4)
    for step in range(1, 12):
        h.add(step, 1.0, 0.5)
    again = StepHistory.from_dict(h.to_dict())
    assert again == h
    assert len(StepHistory.from_dict(None)) == 0
