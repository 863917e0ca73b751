"""Issue 20: exact p-values for 0/1 metrics, named test and CI methods, a calibrated drift
share, and no bare NaN. Each test failed on the code before the fix."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar

from harlab.scoring import StatsConfig
from harlab.scoring.results import NoiseRow, PairScore, summarise_drift, truncation_counts
from harlab.scoring.stats import describe, drift_z, null_share_below, paired_test

FAST = StatsConfig(n_resamples=2000)


def _binary_pairs(b: int, c: int, both: int, neither: int) -> tuple[list[float], list[float]]:
    """b pairs (1, 0), c pairs (0, 1), then concordant ones."""
    a = [1.0] * b + [0.0] * c + [1.0] * both + [0.0] * neither
    m = [0.0] * b + [1.0] * c + [1.0] * both + [0.0] * neither
    return a, m


def _mcnemar_reference(a, m) -> float:
    table = [[sum(x == 1 and y == 1 for x, y in zip(a, m, strict=True)),
              sum(x == 1 and y == 0 for x, y in zip(a, m, strict=True))],
             [sum(x == 0 and y == 1 for x, y in zip(a, m, strict=True)),
              sum(x == 0 and y == 0 for x, y in zip(a, m, strict=True))]]
    return float(mcnemar(table, exact=True).pvalue)


def test_nine_vs_two_discordant_pairs_of_thirty_give_the_exact_p():
    a, m = _binary_pairs(9, 2, 10, 9)
    t = paired_test(a, m, FAST, metric="decision_changed", binary=True)
    assert t.p_value == pytest.approx(sps.binomtest(9, 11, 0.5).pvalue, abs=1e-12)
    assert t.p_value == pytest.approx(_mcnemar_reference(a, m), abs=1e-12)
    assert t.p_value == pytest.approx(0.0654296875)  # the old code said 0.0348
    assert t.test == "McNemar exact" and "11 discordant" in t.p_method
    assert "9 unimodal only, 2 multimodal only" in t.note


@pytest.mark.parametrize("seed", range(8))
def test_binary_p_values_equal_statsmodels_exact_mcnemar(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(14, 60))
    a = list(rng.integers(0, 2, n).astype(float))
    m = list(rng.integers(0, 2, n).astype(float))
    t = paired_test(a, m, FAST)  # detected as 0/1 from the values
    if a == m:
        pytest.skip("no discordant pair")
    assert t.test == "McNemar exact"
    assert t.p_value == pytest.approx(_mcnemar_reference(a, m), abs=1e-12)


def _signed_rank_enumeration(d: np.ndarray) -> float:
    """Two-sided p of Wilcoxon's T+ over every sign pattern (zeros dropped, mean ranks)."""
    d = np.round(d, 12)  # equal differences of floats are ties
    d = d[d != 0]
    ranks = sps.rankdata(np.abs(d))
    observed = ranks[d > 0].sum()
    totals = np.array([sum(r for r, s in zip(ranks, signs, strict=True) if s)
                       for signs in itertools.product((0, 1), repeat=len(d))])
    low, high = np.mean(totals <= observed + 1e-9), np.mean(totals >= observed - 1e-9)
    return min(1.0, 2 * min(low, high))


def test_continuous_with_ties_and_zeros_uses_the_exact_permutation_p():
    a = np.array([0.91, 0.85, 0.80, 0.77, 0.93, 0.88, 0.70, 0.82, 0.90, 0.86, 0.75, 0.95])
    b = np.array([0.88, 0.85, 0.75, 0.74, 0.90, 0.80, 0.72, 0.79, 0.90, 0.83, 0.70, 0.92])
    t = paired_test(list(a), list(b), FAST, metric="semantic_cosine", binary=False)
    assert t.p_value == pytest.approx(_signed_rank_enumeration(a - b), abs=1e-9)
    assert t.test == "Wilcoxon signed-rank"
    assert t.p_method == ("exact permutation, all 2^10 sign flips (ties and 2 zero "
                          "difference(s) dropped)")


def test_continuous_without_ties_uses_the_exact_distribution():
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0, 1, 25), rng.uniform(0, 1, 25)
    t = paired_test(list(a), list(b), FAST, binary=False)
    assert t.p_value == pytest.approx(sps.wilcoxon(a, b, method="exact").pvalue)
    assert t.p_method == "exact (no ties or zeros)"
    assert t.ci_method == "paired bootstrap BCa"


def test_many_tied_differences_get_a_seeded_monte_carlo_p():
    rng = np.random.default_rng(2)
    a = np.round(rng.uniform(0.6, 1, 40), 2)
    b = np.round(a - rng.normal(0.02, 0.03, 40), 2)
    t = paired_test(list(a), list(b), FAST, binary=False)
    assert "Monte Carlo permutation, 2000 sign flips, seed 0" in t.p_method
    assert t == paired_test(list(a), list(b), FAST, binary=False)


def test_a_binary_metric_with_other_values_is_refused():
    from harlab.errors import InputError

    with pytest.raises(InputError, match="tested as a 0/1 outcome"):
        paired_test([0.5, 1.0], [0.0, 1.0], FAST, metric="x", binary=True)


def test_the_expected_share_below_minus_two_depends_on_the_draws():
    assert null_share_below(-2.0, 2) == pytest.approx(0.175, abs=0.002)
    assert null_share_below(-2.0, 1) is None
    assert null_share_below(-2.0, 1000) == pytest.approx(sps.norm.cdf(-2), abs=0.002)
    rng = np.random.default_rng(0)
    draws = rng.normal(size=(200_000, 3))  # drift + 2 noise draws, no effect
    floor = draws[:, 1:]
    z = (draws[:, 0] - floor.mean(axis=1)) / floor.std(axis=1, ddof=1)
    assert np.mean(z < -2) == pytest.approx(null_share_below(-2.0, 2), abs=0.004)


def test_the_drift_summary_shows_the_share_expected_under_no_effect():
    rows = [NoiseRow(i, "unimodal", "semantic_cosine", 0.9, (0.95, 0.97), -1.0 - i / 10)
            for i in range(5)]
    d = summarise_drift(rows, "unimodal", "semantic_cosine")
    assert d.expected_share_null == pytest.approx(null_share_below(-2.0, 2))
    assert "expect 0.175 of z < -2 with no effect" in d.note
    assert "Student's t with k - 1 df" in d.z_reference


def test_a_nan_drift_gives_none_with_a_reason():
    z, note = drift_z(float("nan"), [0.8, 0.9])
    assert z is None and "not a finite number" in note


def test_a_bootstrap_ci_of_two_values_is_flagged():
    s = describe([0.2, 0.9], FAST)
    assert s.ci_low is not None and "n = 2" in s.note and "unreliable" in s.note
    assert "unreliable" not in describe(list(np.linspace(0, 1, 30)), FAST).note


def test_truncated_semantic_pairs_are_counted_per_modality():
    def pair(sid, modality, details):
        return PairScore(sid, modality, "attacked", 1, 2, "t", "a",
                         values={"semantic_cosine": 0.9},
                         details={"semantic_cosine": details})

    cut = {"truncated_a": True, "tokens_a": 300, "max_seq_length": 256}
    scores = [pair(1, "unimodal", cut), pair(2, "unimodal", {}), pair(1, "multimodal", {})]
    counts = truncation_counts(scores)
    assert (counts["unimodal"].truncated, counts["unimodal"].pairs) == (1, 2)
    assert counts["unimodal"].describe().startswith("1 of 2 pairs truncated at 256 word pieces")
    assert counts["multimodal"].truncated == 0
    assert math.isfinite(counts["unimodal"].max_seq_length)


def test_an_arm_without_pairs_says_so_not_that_the_noise_floor_is_missing():
    d = summarise_drift([], "multimodal", "semantic_cosine")
    assert d.n == 0 and "no scored multimodal answer pairs" in d.note
    rows = [NoiseRow(0, "unimodal", "semantic_cosine", 0.9, (), None, "no noise floor")]
    assert "ask with a noise floor" in summarise_drift(rows, "unimodal", "semantic_cosine").note
