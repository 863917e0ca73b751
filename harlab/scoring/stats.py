"""Statistics for Table 3 and beyond, from scipy and statsmodels.

Every undefined figure is ``None`` with a ``note`` saying why; nothing returns a bare NaN.
Variances use ``ddof=1`` (the sample variance) unless configured otherwise, and ``std`` is
always ``sqrt(var)``, as in the paper (whose figures are consistent with std² = var).
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
                metric: str = "") -> PairedTest:
    """Wilcoxon signed-rank test of ``a`` vs ``b`` (same samples, in the same order)."""
    if len(a) != len(b):
        raise InputError(f"paired values must have the same length, got {len(a)} and {len(b)}; "
                         "pair them by sample first")
    keep = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    x, y = _clean([k[0] for k in keep]), _clean([k[1] for k in keep])
    n = len(x)
    if n == 0:
        return PairedTest(metric, 0, None, None, None, None, None, None, None, None, None,
                          "no sample has both values")
    d = x - y
    low, high, _method, note = bootstrap_ci((x, y), _diff_mean, config, paired=True)
    stat = p = None
    if np.all(d == 0):
        note = "all differences are zero: no test"
        low = high = 0.0 if n >= 2 else None
    else:
        res = stats.wilcoxon(x, y)
        stat, p = _num(res.statistic), _num(res.pvalue)
    return PairedTest(metric, n, float(np.mean(x)), float(np.mean(y)), float(np.mean(d)),
                      low, high, stat, p, None, rank_biserial(d), note)


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
    """
    if drift is None:
        return None, "no drift value"
    floor = _clean(noise)
    if len(floor) < 2:
        return None, f"{len(floor)} noise draw(s): need at least 2"
    sd = float(np.std(floor, ddof=1))
    if sd == 0:
        return None, "the noise draws do not vary: z undefined"
    return (drift - float(np.mean(floor))) / sd, ""


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
