"""Agreement between annotators, per rubric item and overall, with bootstrap CIs.

Per item: Cohen's κ for exactly two annotators (``sklearn``; weighted, linear or quadratic,
for ordinal items), Fleiss' κ over the units every annotator rated (``statsmodels``), and
Krippendorff's α with missing ratings (``krippendorff``; ordinal for scales and ordered
choices, nominal otherwise). Free text is not compared. A *unit* is one rated pair of answers.
*Overall* is the mean of the items' defined values. CIs are percentile bootstraps over units
(seeded); every replication recomputes every item, so the overall CI comes from the same draws.

A statistic that cannot be computed is ``None`` with a reason (one annotator, no shared units,
every rating in one category...), never an exception or a NaN.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import krippendorff
import numpy as np
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from harlab.errors import InputError
from harlab.rating.rubric import Rubric
from harlab.rating.tables import ratings_long

WEIGHTS = ("linear", "quadratic")
STATS = ("cohen", "fleiss", "alpha")


@dataclass(frozen=True)
class AgreementConfig:
    """How to compute agreement: bootstrap size, CI level, seed, Cohen weights."""

    n_boot: int = 1000
    ci: float = 0.95
    seed: int = 0
    weights: str = "quadratic"
    top_disagreements: int = 20

    def __post_init__(self) -> None:
        if not isinstance(self.n_boot, int) or not 0 <= self.n_boot <= 100_000:
            raise InputError(f"n_boot must be an integer in [0, 100000] (0: no CI), got "
                             f"{self.n_boot!r}")
        if not 0.5 <= self.ci < 1:
            raise InputError(f"ci must be in [0.5, 1), e.g. 0.95, got {self.ci!r}")
        if self.weights not in WEIGHTS:
            raise InputError(f"weights must be one of {', '.join(WEIGHTS)} (for ordinal "
                             f"items), got {self.weights!r}")
        if (isinstance(self.seed, bool) or not isinstance(self.seed, int)
                or not 0 <= self.seed < 2**63):
            raise InputError(f"seed must be a whole number in [0, 2**63 - 1] (it seeds the "
                             f"bootstrap), got {self.seed!r}")
        if self.top_disagreements < 0:
            raise InputError(f"top_disagreements must be >= 0, got {self.top_disagreements}")


#: How every agreement CI is made (shown with every report).
CI_METHOD = "percentile bootstrap over rated units (pairs of answers)"


def cohen_method(level: str, weights: str) -> str:
    """Which Cohen's kappa an item gets: weighted for ordinal items, plain for nominal ones."""
    return f"{weights}-weighted" if level == "ordinal" else "unweighted"


@dataclass(frozen=True)
class Stat:
    """One agreement value with its CI; ``value`` None means undefined, see ``reason``.

    Attributes:
        n_units: the units the value was computed on (Cohen: rated by both annotators;
            Fleiss: rated by every annotator; alpha: rated by two or more).
        ci_resamples: bootstrap resamples the CI was taken from (those where the value is
            defined); ``ci_dropped``: resamples left out because it was undefined there.
    """

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    reason: str = ""
    n_units: int | None = None
    ci_resamples: int = 0
    ci_dropped: int = 0


@dataclass(frozen=True)
class ItemAgreement:
    item: str
    level: str
    n_units: int
    n_annotators: int
    cohen: Stat
    fleiss: Stat
    alpha: Stat

    def stat(self, name: str) -> Stat:
        return getattr(self, name)


@dataclass(frozen=True)
class Disagreement:
    """One unit and item the annotators disagree on, for adjudication."""

    sample_id: int
    modality: str
    item: str
    score: float  # 0 = all agree, 1 = as far apart as the item allows (for these annotators)
    values: dict[str, str] = field(default_factory=dict)  # annotator -> stored value
    original_id: int | None = None  # the pair of answers rated, for adjudication
    attacked_id: int | None = None


@dataclass(frozen=True)
class AgreementResult:
    annotators: tuple[str, ...]
    items: tuple[ItemAgreement, ...]
    overall: ItemAgreement
    disagreements: tuple[Disagreement, ...]
    config: AgreementConfig | None = None

    def methods(self) -> str:
        """One line naming every method: Cohen's weights, the CI method, resamples, seed."""
        c = self.config or AgreementConfig()
        ci = (f"{c.ci:.0%} CIs: {CI_METHOD}, {c.n_boot} resamples, seed {c.seed}"
              if c.n_boot else "no CIs (n_boot = 0)")
        return (f"Cohen's kappa: {c.weights}-weighted for ordinal items, unweighted for nominal "
                f"ones, on units rated by both annotators; Fleiss' kappa on units rated by "
                f"every annotator; Krippendorff's alpha (ordinal or nominal) with missing "
                f"ratings; {ci}")


# ---------------------------------------------------------------------- the three statistics
def cohen(codes_a: np.ndarray, codes_b: np.ndarray, k: int, level: str,
          weights: str = "quadratic") -> tuple[float | None, str]:
    """Cohen's κ of two annotators' codes (0..k-1) on the same units."""
    if len(codes_a) == 0:
        return None, "no unit rated by both annotators"
    if len(set(codes_a) | set(codes_b)) == 1:
        return None, "every rating is the same category; kappa is undefined"
    value = cohen_kappa_score(codes_a, codes_b, labels=list(range(k)),
                              weights=weights if level == "ordinal" else None)
    return float(value), ""


def fleiss(table: np.ndarray, k: int) -> tuple[float | None, str]:
    """Fleiss' κ of a ``(units, annotators)`` array of codes with no missing value."""
    if table.shape[0] == 0:
        return None, "no unit rated by every annotator"
    if table.shape[1] < 2:
        return None, "needs at least two annotators"
    if len(np.unique(table)) == 1:
        return None, "every rating is the same category; kappa is undefined"
    counts, _ = aggregate_raters(table.astype(int), n_cat=k)
    return float(fleiss_kappa(counts, method="fleiss")), ""


def alpha(data: np.ndarray, k: int, level: str) -> tuple[float | None, str]:
    """Krippendorff's α of an ``(annotators, units)`` array of codes, NaN where missing."""
    pairable = data[:, (~np.isnan(data)).sum(axis=0) >= 2]
    values = pairable[~np.isnan(pairable)]
    if values.size == 0:
        return None, "no unit rated by two or more annotators"
    if len(np.unique(values)) == 1:
        return None, "every rating is the same category; alpha is undefined"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # krippendorff's own 0/0 guards
        value = krippendorff.alpha(reliability_data=data, value_domain=list(range(k)),
                                   level_of_measurement=level)
    return (None, "alpha is undefined for these ratings") if np.isnan(value) else (
        float(value), "")


# ---------------------------------------------------------------------- the whole rubric
@dataclass
class _ItemData:
    key: str
    level: str
    k: int
    values: tuple[str, ...]
    codes: dict[tuple, dict[str, int]] = field(default_factory=dict)  # unit -> annotator -> code


def collect(project, rubric: Rubric, item: str | None = None) -> list[_ItemData]:
    """Codes per item, unit and annotator (this rubric's version; free text left out)."""
    keys = [k for k in rubric.keys() if rubric.item_for(k).level is not None]
    if item is not None:
        chosen = [k for k in keys if k == item or k.split(".", 1)[0] == item]
        if not chosen:
            raise InputError(f"no comparable rubric item {item!r}; choose from "
                             f"{', '.join(keys)}")
        keys = chosen
    data = {}
    for k in keys:
        ri = rubric.item_for(k)
        data[k] = _ItemData(k, ri.level, len(ri.values), ri.values)
    for row in ratings_long(project):
        d = data.get(row["item"])
        if d is None or row["rubric_version"] != rubric.version or row["value"] not in d.values:
            continue
        unit = (row["sample_id"], row["modality"], row["original_response_id"],
                row["attacked_response_id"])
        d.codes.setdefault(unit, {})[row["annotator"]] = d.values.index(row["value"])
    return list(data.values())
