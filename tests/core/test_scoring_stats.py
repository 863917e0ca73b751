"""The statistics agree with scipy / statsmodels called directly; undefined figures have notes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from harlab.errors import InputError
from harlab.scoring import PAPER_TABLE3, StatsConfig, spearman_ci
from harlab.scoring.stats import describe, drift_z, holm, paired_test, rank_biserial

FAST = StatsConfig(n_resamples=2000)


@pytest.fixture
def values():
    return np.random.default_rng(3).beta(8, 2, size=40)


def test_describe_matches_numpy_and_scipy(values):
    s = describe(list(values), FAST, modality="unimodal", metric="semantic_cosine")
    assert s.n == 40 and s.ddof == 1 and s.ci_method == "BCa"
    assert s.mean == pytest.approx(np.mean(values))
    assert s.var == pytest.approx(np.var(values, ddof=1))
    assert s.std == pytest.approx(math.sqrt(s.var))  # std² = var, as in the paper
    assert s.median == pytest.approx(np.median(values))
    ref = sps.bootstrap((values,), np.mean, n_resamples=2000, rng=0, vectorized=True)
    assert (s.ci_low, s.ci_high) == pytest.approx((ref.confidence_interval.low,
                                                   ref.confidence_interval.high))
    assert s.ci_low < s.mean < s.ci_high


def test_ddof_zero_is_the_population_variance(values):
    s = describe(values, StatsConfig(n_resamples=500, ddof=0))
    assert s.var == pytest.approx(np.var(values)) and s.ddof == 0


def test_describe_is_reproducible_and_the_seed_matters(values):
    assert describe(values, FAST) == describe(values, FAST)
    other = describe(values, StatsConfig(n_resamples=2000, seed=1))
    assert other.ci_low != describe(values, FAST).ci_low


@pytest.mark.parametrize(("data", "n", "note"), [
    ([], 0, "no values"),
    ([None, None], 0, "no values"),
    ([0.5], 1, "n < 2: no confidence interval"),
    ([0.7, 0.7, 0.7], 3, "all values equal"),
])
def test_describe_edge_cases_have_notes(data, n, note):
    s = describe(data, FAST)
    assert s.n == n and note in s.note
    for field in ("mean", "var", "std", "median", "ci_low", "ci_high"):
        value = getattr(s, field)
        assert value is None or math.isfinite(value)


def test_binary_metric_with_few_distinct_values():
    s = describe([0.0] * 18 + [1.0] * 2, FAST)
    assert s.mean == 0.1 and s.ci_low is not None and 0 <= s.ci_low <= 0.1 <= s.ci_high


def test_nan_is_refused():
    with pytest.raises(InputError, match="finite numbers or None, got NaN"):
        describe([0.1, float("nan")])


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"n_resamples": 10}, "n_resamples must be a whole number in \\[100, 1000000\\]"),
    ({"confidence": 95}, "confidence must be in \\(0, 1\\), got 95 \\(did you mean 0.95\\?\\)"),
    ({"ddof": 2}, "ddof must be 0 \\(population\\) or 1"),
    ({"ci_method": "bca"}, "ci_method must be one of BCa, percentile, basic"),
])
def test_stats_config_is_validated(kwargs, match):
    with pytest.raises(InputError, match=match):
        StatsConfig(**kwargs)


def test_paired_test_matches_wilcoxon_and_bootstrap():
    rng = np.random.default_rng(5)
    a = rng.uniform(0.6, 0.9, 30)
    b = a + rng.normal(0.05, 0.05, 30)
    t = paired_test(list(a), list(b), FAST, metric="syntactic_cosine")
    ref = sps.wilcoxon(a, b)
    assert t.p_value == pytest.approx(ref.pvalue) and t.statistic == pytest.approx(ref.statistic)
    assert t.mean_diff == pytest.approx(np.mean(a - b))
    assert t.ci_low < t.mean_diff < t.ci_high < 0
    assert -1 <= t.rank_biserial < 0
    assert t.n == 30 and t.p_holm is None


def test_paired_test_drops_incomplete_pairs_and_handles_ties():
    t = paired_test([0.5, None, 0.7], [0.4, 0.3, None], FAST)
    assert t.n == 1
    same = paired_test([0.5, 0.6, 0.7], [0.5, 0.6, 0.7], FAST)
    assert same.p_value is None and "all differences are zero" in same.note
    assert paired_test([None], [0.1], FAST).note == "no sample has both values"
    with pytest.raises(InputError, match="same length, got 2 and 1"):
        paired_test([0.1, 0.2], [0.1], FAST)


def test_rank_biserial_extremes():
    assert rank_biserial(np.array([1.0, 2.0, 3.0])) == 1.0
    assert rank_biserial(np.array([-1.0, -2.0])) == -1.0
    assert rank_biserial(np.array([0.0, 0.0])) is None
    # R+ = 1 + 3, R- = 2 for d = [1, -2, 3]
    assert rank_biserial(np.array([1.0, -2.0, 3.0])) == pytest.approx((4 - 2) / 6)


def test_holm_matches_statsmodels():
    rng = np.random.default_rng(1)
    tests = [paired_test(list(rng.uniform(0, 1, 12)), list(rng.uniform(0, 1, 12) + shift), FAST)
             for shift in (0.0, 0.3, 0.6)]
    tests.append(paired_test([0.1, 0.2], [0.1, 0.2], FAST))  # no p-value: left out
    corrected = holm(tests)
    expected = multipletests([t.p_value for t in tests[:3]], method="holm")[1]
    assert [t.p_holm for t in corrected[:3]] == pytest.approx(list(expected))
    assert corrected[3].p_holm is None


def test_drift_z():
    z, note = drift_z(0.5, [0.8, 0.9, 1.0])
    assert z == pytest.approx((0.5 - 0.9) / np.std([0.8, 0.9, 1.0], ddof=1)) and note == ""
    assert drift_z(0.5, [0.8])[1] == "1 noise draw(s): need at least 2"
    assert drift_z(0.5, [0.8, 0.8])[1].startswith("the noise draws do not vary")
    assert drift_z(None, [0.8, 0.9])[0] is None


def test_spearman_ci_matches_scipy():
    rng = np.random.default_rng(2)
    x = rng.normal(size=50)
    y = x + rng.normal(scale=0.8, size=50)
    r = spearman_ci(list(x), list(y), FAST)
    ref = sps.spearmanr(x, y)
    assert r.rho == pytest.approx(ref.statistic) and r.p_value == pytest.approx(ref.pvalue)
    assert r.ci_low < r.rho < r.ci_high and r.n == 50
    assert spearman_ci([1, 2], [1, 2], FAST).note == "n = 2: need at least 3 pairs"
    assert "constant" in spearman_ci([1, 1, 1], [1, 2, 3], FAST).note
    with pytest.raises(InputError, match="same length"):
        spearman_ci([1, 2, 3], [1, 2], FAST)


def test_paper_table3_is_consistent_with_std_squared_equals_var():
    assert PAPER_TABLE3[("unimodal", "syntactic_cosine")]["mean"] == 0.7019
    for row in PAPER_TABLE3.values():
        assert row["std"] ** 2 == pytest.approx(row["var"], abs=0.0006)
