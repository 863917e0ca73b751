"""Statistics for Table 3 and beyond, from scipy and statsmodels.

Every undefined figure is ``None`` with a ``note`` saying why; nothing returns a bare NaN.
Variances use ``ddof=1`` (the sample variance) unless configured otherwise, and ``std`` is
always ``sqrt(var)``, as in the paper (whose figures are consistent with std² = var).

Every figure names its method: the CI method (``ci_method``) and, for the paired tests, the
test and how its p-value was computed (``test``, ``p_method``):

* 0/1 outcomes: McNemar's exact test, the two-sided binomial test of the discordant pairs
  (``scipy.stats.binomtest``; equal to statsmodels' ``mcnemar(exact=True)``).
* other values: the Wilcoxon signed-rank test (zero differences dropped, ties given mean
  ranks) with its exact null distribution when there are no ties or zeros and n <= 50, else a
  sign-flip permutation p-value: exact (every sign pattern) when ``2**n <= n_resamples``, else
  Monte Carlo with ``n_resamples`` flips from ``seed``. scipy's default (a normal approximation
  without continuity correction once there are ties) gave 0.47-0.73x the exact p on 0/1 data.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests

from harlab.errors import InputError

CI_METHODS = ("BCa", "percentile", "basic")
#: Below this many values a bootstrap CI is flagged: it is too narrow to trust.
SMALL_N = 10
BINARY_TEST = "McNemar exact"
SIGNED_RANK_TEST = "Wilcoxon signed-rank"

# The paper's Table 3 (mean, variance, std per modality and metric), for a side-by-side column.
PAPER_TABLE3: dict[tuple[str, str], dict[str, float]] = {
    ("unimodal", "syntactic_cosine"): {"mean": 0.7019, "var": 0.0123, "std": 0.111},
    ("unimodal", "semantic_cosine"): {"mean": 0.9543, "var": 0.0002, "std": 0.01377},
    ("multimodal", "syntactic_cosine"): {"mean": 0.8517, "var": 0.003, "std": 0.0552},
    ("multimodal", "semantic_cosine"): {"mean": 0.9595, "var": 0.0005, "std": 0.0226},
}


@dataclass(frozen=True)
class StatsConfig:
    """How the summaries are computed.

    Attributes:
        n_resamples: bootstrap resamples per confidence interval.
        confidence: confidence level of every interval, in (0, 1).
        seed: seeds every bootstrap, so a table is reproducible.
        ddof: delta degrees of freedom of the variance (1: sample variance).
        ci_method: scipy's bootstrap method: BCa (default), percentile or basic.
    """

    n_resamples: int = 10_000
    confidence: float = 0.95
    seed: int = 0
    ddof: int = 1
    ci_method: str = "BCa"

    def __post_init__(self) -> None:
        if isinstance(self.n_resamples, bool) or not isinstance(self.n_resamples, int) or not (
                100 <= self.n_resamples <= 1_000_000):
            raise InputError(f"n_resamples must be a whole number in [100, 1000000], got "
                             f"{self.n_resamples!r} (10000 is the usual choice)")
        if not 0 < self.confidence < 1:
            raise InputError(f"confidence must be in (0, 1), got {self.confidence!r} (did you "
                             f"mean {self.confidence / 100:g}?)")
        if self.ddof not in (0, 1):
            raise InputError(f"ddof must be 0 (population) or 1 (sample variance), got "
                             f"{self.ddof!r}")
        if self.ci_method not in CI_METHODS:
            raise InputError(f"ci_method must be one of {', '.join(CI_METHODS)}, got "
                             f"{self.ci_method!r}")


@dataclass(frozen=True)
class Summary:
    """One row of Table 3: one modality and metric."""

    modality: str
    metric: str
    n: int
    mean: float | None
    var: float | None
    std: float | None
    median: float | None
    ci_low: float | None
    ci_high: float | None
    ddof: int
    ci_method: str
    note: str = ""


@dataclass(frozen=True)
class PairedTest:
    """Unimodal vs multimodal on the same samples, for one metric (difference = a - b)."""

    metric: str
    n: int
    mean_a: float | None
    mean_b: float | None
    mean_diff: float | None
    ci_low: float | None
    ci_high: float | None
    statistic: float | None
    p_value: float | None
    p_holm: float | None
    rank_biserial: float | None
    note: str = ""
    test: str = ""
    p_method: str = ""
    ci_method: str = ""


@dataclass(frozen=True)
class Correlation:
    """Spearman's rho with its p-value and a bootstrap CI."""

    n: int
    rho: float | None
    p_value: float | None
    ci_low: float | None
    ci_high: float | None
    note: str = ""


def _clean(values: Sequence[float | None]) -> np.ndarray:
    arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise InputError("values must be finite numbers or None, got NaN or infinity; store "
                         "an undefined score as None with a reason")
    return arr


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def bootstrap_ci(data: tuple[np.ndarray, ...], statistic, config: StatsConfig, *,
                 paired: bool = False) -> tuple[float | None, float | None, str, str]:
    """``scipy.stats.bootstrap`` (vectorized, seeded): low, high, method used, note.

    Constant data gives the degenerate interval [v, v]; a BCa interval that cannot be computed
    (few distinct values) falls back to the percentile method, which is then named.
    """
    n = len(data[0])
    if n < 2:
        return None, None, "", "n < 2: no confidence interval"
    low, high, method, note = _bootstrap(data, statistic, config, paired)
    if n < SMALL_N and low is not None and low != high:
        note = "; ".join(x for x in (note, f"n = {n}: a {method} bootstrap CI from fewer than "
                                           f"{SMALL_N} values is unreliable (too narrow)") if x)
    return low, high, method, note


def _bootstrap(data: tuple[np.ndarray, ...], statistic, config: StatsConfig, paired: bool
               ) -> tuple[float | None, float | None, str, str]:
    if all(np.ptp(d) == 0 for d in data) and not paired:
        value = float(statistic(*data, axis=-1))
        return value, value, "", "all values equal: the interval is a point"
    method = config.ci_method
    for attempt in (method, "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", stats.DegenerateDataWarning)
            warnings.simplefilter("ignore", RuntimeWarning)  # BCa on near-constant data
            try:
                res = stats.bootstrap(data, statistic, n_resamples=config.n_resamples,
                                      vectorized=True, paired=paired,
                                      confidence_level=config.confidence, method=attempt,
                                      rng=config.seed)
            except stats.DegenerateDataWarning:
                continue
        low, high = _num(res.confidence_interval.low), _num(res.confidence_interval.high)
        if low is not None and high is not None:
            note = "" if attempt == method else f"{method} undefined here; percentile used"
            return low, high, attempt, note
    return None, None, "", "the bootstrap interval is undefined for these values"


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis)


def describe(values: Sequence[float | None], config: StatsConfig = StatsConfig(), *,
             modality: str = "", metric: str = "") -> Summary:
    """n, mean, var, std, median and the bootstrap CI of the mean (``None`` values dropped)."""
    x = _clean(values)
    n = len(x)
    if n == 0:
        return Summary(modality, metric, 0, None, None, None, None, None, None, config.ddof,
                       "", "no values")
    var = float(np.var(x, ddof=config.ddof)) if n > config.ddof else None
    low, high, method, note = bootstrap_ci((x,), _mean, config)
    if n <= config.ddof:
        note = f"n = {n}: no variance with ddof={config.ddof}; " + note
    return Summary(modality, metric, n, float(np.mean(x)), var,
                   None if var is None else math.sqrt(var), float(np.median(x)), low, high,
                   config.ddof, method, note)


def rank_biserial(diff: np.ndarray) -> float | None:
    """Matched-pairs rank-biserial correlation (Kerby 2014) of non-zero differences.

    ``(R+ - R-) / (R+ + R-)`` with ``R±`` the rank sums of |d| over positive / negative d; in
    [-1, 1], positive when the first sample tends to be larger.
    """
    d = diff[diff != 0]
    if len(d) == 0:
        return None
    ranks = stats.rankdata(np.abs(d))
    pos, neg = ranks[d > 0].sum(), ranks[d < 0].sum()
    return float((pos - neg) / (pos + neg))


def _diff_mean(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(a - b, axis=axis)


def paired_test(a: Sequence[float], b: Sequence[float], config: StatsConfig = StatsConfig(), *,
                metric: str = "", binary: bool | None = None) -> PairedTest:
    """Unimodal ``a`` vs multimodal ``b`` on the same samples (in the same order).

    0/1 outcomes (``binary``; None: when every value is 0 or 1) get McNemar's exact test, the
    rest the Wilcoxon signed-rank test with an exact or permutation p-value (see the module
    docstring); ``test`` and ``p_method`` say which.
    """
    if len(a) != len(b):
        raise InputError(f"paired values must have the same length, got {len(a)} and {len(b)}; "
                         "pair them by sample first")
    keep = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    x, y = _clean([k[0] for k in keep]), _clean([k[1] for k in keep])
    n = len(x)
    if n == 0:
        return PairedTest(metric, 0, None, None, None, None, None, None, None, None, None,
                          "no sample has both values")
    if binary is None:
        binary = bool(np.all(np.isin(x, (0.0, 1.0))) and np.all(np.isin(y, (0.0, 1.0))))
    if binary and not (np.all(np.isin(x, (0.0, 1.0))) and np.all(np.isin(y, (0.0, 1.0)))):
        raise InputError(f"metric {metric!r} is tested as a 0/1 outcome, but has values other "
                         "than 0 and 1; pass binary=False")
    d = x - y
    low, high, ci_method, note = bootstrap_ci((x, y), _diff_mean, config, paired=True)
    test = BINARY_TEST if binary else SIGNED_RANK_TEST
    stat = p = None
    p_method = ""
    if np.all(d == 0):
        note = "all differences are zero: no test"
        low = high = 0.0 if n >= 2 else None
        ci_method = ""
    elif binary:
        stat, p, p_method, extra = _mcnemar_exact(d)
        note = "; ".join(t for t in (extra, note) if t)
    else:
        stat, p, p_method = _signed_rank(d, config)
    return PairedTest(metric, n, float(np.mean(x)), float(np.mean(y)), float(np.mean(d)),
                      low, high, stat, p, None, rank_biserial(d), note, test, p_method,
                      f"paired bootstrap {ci_method}" if ci_method else "")


def _mcnemar_exact(d: np.ndarray) -> tuple[float, float, str, str]:
    """McNemar's exact test: statistic min(b, c), p of the two-sided binomial test."""
    b, c = int(np.sum(d > 0)), int(np.sum(d < 0))
    p = float(stats.binomtest(b, b + c, 0.5).pvalue)
    return (float(min(b, c)), p, f"exact binomial on {b + c} discordant pairs",
            f"discordant pairs: {b} unimodal only, {c} multimodal only")


def _signed_rank(d: np.ndarray, config: StatsConfig) -> tuple[float | None, float | None, str]:
    """Wilcoxon's signed-rank statistic with an exact or permutation p-value.

    Differences are rounded to 12 decimals first, so that equal differences of floats
    (0.91 - 0.88 and 0.93 - 0.90) are ties, and zeros are dropped before the test.
    """
    d = np.round(d, 12)
    nonzero = d[d != 0]
    m = len(nonzero)
    if m == 0:
        return None, None, "no test: every difference is below 1e-12"
    ties = len(np.unique(np.abs(nonzero))) < m
    if not ties and m == len(d) and m <= 50:
        res = stats.wilcoxon(d, method="exact")
        return _num(res.statistic), _num(res.pvalue), "exact (no ties or zeros)"
    method = stats.PermutationMethod(n_resamples=config.n_resamples, rng=config.seed)
    res = stats.wilcoxon(nonzero, method=method)
    why = ("ties" if ties else "") + (" and " if ties and m < len(d) else "") + (
        f"{len(d) - m} zero difference(s) dropped" if m < len(d) else "")
    how = (f"exact permutation, all 2^{m} sign flips" if 2 ** m <= config.n_resamples
           else f"Monte Carlo permutation, {config.n_resamples} sign flips, seed "
                f"{config.seed}")
    return _num(res.statistic), _num(res.pvalue), f"{how} ({why})"


def holm(tests: Sequence[PairedTest]) -> list[PairedTest]:
    """The tests with ``p_holm`` filled in: Holm's correction across those with a p-value."""
    index = [i for i, t in enumerate(tests) if t.p_value is not None]
    out = list(tests)
    if index:
        adjusted = multipletests([tests[i].p_value for i in index], method="holm")[1]
        for i, p in zip(index, adjusted, strict=True):
            t = tests[i]
            out[i] = PairedTest(**{**t.__dict__, "p_holm": float(p)})
    return out


def drift_z(drift: float | None, noise: Sequence[float | None]) -> tuple[float | None, str]:
    """``(drift - mean(noise)) / std(noise, ddof=1)``, or None with the reason.

    Negative z: the attacked answer is further from the original than clean re-draws are.
    With k draws this z is not standard normal under no effect; see :func:`null_share_below`.
    """
    if drift is None:
        return None, "no drift value"
    if not math.isfinite(drift):
        return None, f"the drift is not a finite number ({drift!r})"
    floor = _clean(noise)
    if len(floor) < 2:
        return None, f"{len(floor)} noise draw(s): need at least 2"
    sd = float(np.std(floor, ddof=1))
    if sd == 0:
        return None, "the noise draws do not vary: z undefined"
    return (drift - float(np.mean(floor))) / sd, ""


#: How the drift z is read against chance (shown beside every share of z < -2).
Z_REFERENCE = ("under no effect (the attacked answer is one more clean draw, normal "
               "errors) z * sqrt(k / (k + 1)) follows Student's t with k - 1 df")


def null_share_below(threshold: float, k: int) -> float | None:
    """Expected share of ``z < threshold`` when the attack changes nothing, with k draws.

    The drift and the k noise similarities are then k + 1 exchangeable normal values, so
    ``(drift - mean) / (sd * sqrt(1 + 1/k))`` is t-distributed with k - 1 degrees of freedom:
    for k = 2, P(z < -2) = 0.17, not the 0.023 of a standard normal.
    """
    if k < 2:
        return None
    return float(stats.t.cdf(threshold / math.sqrt(1 + 1 / k), df=k - 1))


def _spearman_stat(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    rx, ry = stats.rankdata(x, axis=axis), stats.rankdata(y, axis=axis)
    rx = rx - rx.mean(axis=axis, keepdims=True)
    ry = ry - ry.mean(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(axis=axis) / np.sqrt((rx**2).sum(axis=axis) * (ry**2).sum(axis=axis))


def spearman_ci(x: Sequence[float | None], y: Sequence[float | None],
                config: StatsConfig = StatsConfig()) -> Correlation:
    """Spearman's rho (``scipy.stats.spearmanr``) with a paired bootstrap CI; pairs with a
    None on either side are dropped."""
    if len(x) != len(y):
        raise InputError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    keep = [(a, b) for a, b in zip(x, y, strict=True) if a is not None and b is not None]
    xa, ya = _clean([k[0] for k in keep]), _clean([k[1] for k in keep])
    n = len(xa)
    if n < 3:
        return Correlation(n, None, None, None, None, f"n = {n}: need at least 3 pairs")
    if np.ptp(xa) == 0 or np.ptp(ya) == 0:
        return Correlation(n, None, None, None, None, "one side is constant: rho undefined")
    res = stats.spearmanr(xa, ya)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # constant resamples give NaN rho
        low, high, _m, note = bootstrap_ci((xa, ya), _spearman_stat,
                                           StatsConfig(**{**config.__dict__,
                                                          "ci_method": "percentile"}),
                                           paired=True)
    return Correlation(n, _num(res.statistic), _num(res.pvalue), low, high, note)
