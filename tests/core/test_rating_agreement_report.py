"""Issue 20: the agreement report says how it was computed and on how many units. Each test
failed on the code before the fix."""

from __future__ import annotations

import pytest

from harlab.rating.agreement import AgreementConfig
from harlab.rating.reliability import _nominal_spread, _stat, compute_agreement, disagreements
from tests.core.test_rating_agreement import MEANING, rate, rated  # noqa: F401 - fixture


def test_no_bootstrap_says_n_boot_is_zero_not_too_few_units(rated):  # noqa: F811
    rubric = rate(rated, ["Ada", "Bob"])
    result = compute_agreement(rated, rubric, AgreementConfig(n_boot=0), item="meaning_change")
    stat = result.items[0].cohen
    assert stat.value is not None and stat.ci_low is None
    assert "n_boot = 0" in stat.reason and "fewer than two units" not in stat.reason
    assert "n_boot = 0" in result.overall.cohen.reason


def test_each_statistic_counts_the_units_it_used(rated):  # noqa: F811
    rubric = rate(rated, ["Ada", "Bob", "Carol"])  # Carol left one meaning_change unrated
    result = compute_agreement(rated, rubric, AgreementConfig(n_boot=0), item="meaning_change")
    item = result.items[0]
    assert item.n_units == 8
    assert item.fleiss.n_units == 7  # units every annotator rated
    assert item.alpha.n_units == 8  # units two or more rated
    assert item.cohen.value is None  # three annotators: no Cohen's kappa


def test_the_report_names_the_weights_and_the_ci_method(rated):  # noqa: F811
    rubric = rate(rated, ["Ada", "Bob"])
    result = compute_agreement(rated, rubric, AgreementConfig(n_boot=50, weights="linear"),
                               item="meaning_change")
    line = result.methods()
    assert "linear-weighted for ordinal items, unweighted for nominal" in line
    assert "percentile bootstrap over rated units" in line and "50 resamples, seed 0" in line


def test_undefined_resamples_are_counted_not_silently_dropped():
    config = AgreementConfig(n_boot=10)
    stat = _stat((0.5, "", 10), [0.4, None, 0.6, 0.5, None, 0.55, 0.45, 0.5, 0.52, 0.48],
                 config)
    assert (stat.ci_resamples, stat.ci_dropped) == (8, 2)
    assert "CI from 8 of 10 resamples (2 undefined, left out)" in stat.reason


def test_two_annotators_who_disagree_on_a_nominal_item_score_one():
    assert _nominal_spread([0, 1], 4) == pytest.approx(1.0)
    assert _nominal_spread([0, 1, 2], 4) == pytest.approx(1.0)
    assert _nominal_spread([0, 0, 1], 4) == pytest.approx((1 / 3) / (2 / 3))
    assert _nominal_spread([0, 1, 0, 1], 2) == pytest.approx(1.0)


def test_nominal_disagreements_reach_one(rated):  # noqa: F811
    from harlab.rating.agreement import collect

    rubric = rate(rated, ["Ada", "Bob"])
    worst = disagreements(collect(rated, rubric, "better_fit"))
    assert worst and all(d.score == pytest.approx(1.0) for d in worst)
    assert len(MEANING["Ada"]) == 8


def test_the_cli_prints_methods_and_units_per_statistic(rated, capsys):  # noqa: F811
    from harlab.cli import main

    rate(rated, ["Ada", "Bob"])
    root = str(rated.root)
    rated.close()
    assert main(["rate", "agreement", "--project", root, "--boot", "50",
                 "--item", "meaning_change"]) == 0
    out = capsys.readouterr().out
    assert "methods: Cohen's kappa: quadratic-weighted for ordinal items" in out
    assert "percentile bootstrap over rated units (pairs of answers), 50 resamples, seed 0" in out
    assert "n=8" in out
