"""Position bias: does an annotator pick whichever answer is shown as A?

For each annotator, the pairwise item's answers that chose a side (A or B; ties and
"both bad" are left out) are mapped back to what was on screen with the stored blind order.
Reported: the share of A choices, a 95 % Clopper-Pearson (exact) CI, and the two-sided exact
binomial test against 0.5 (``scipy.stats.binomtest``).
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy.stats import binomtest

from harlab.rating.rubric import Rubric
from harlab.rating.tables import ratings_long
from harlab.store import Project

CI_METHOD = "Clopper-Pearson exact 95% CI; two-sided exact binomial test against 0.5"


@dataclass(frozen=True)
class PositionBias:
    annotator: str
    n: int                 # side choices (A or B)
    n_a: int
    share_a: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    method: str = CI_METHOD


def position_bias(project: Project, rubric: Rubric, item: str | None = None
                  ) -> list[PositionBias]:
    """One row per annotator for the rubric's (first) pairwise item, or ``item``."""
    pairwise = [i.id for i in rubric.items if i.kind.names_sides]
    item = item or (pairwise[0] if pairwise else None)
    if item is None:
        return []
    counts: dict[str, list[int]] = {}
    for row in ratings_long(project):
        if row["item"] != item or row["a_is"] is None:
            continue
        c = counts.setdefault(row["annotator"], [0, 0])
        if row["value"] in ("original", "attacked"):
            c[0] += 1
            c[1] += row["value"] == row["a_is"]
    out = []
    for name, (n, n_a) in sorted(counts.items()):
        if n == 0:
            out.append(PositionBias(name, 0, 0, None, None, None, None))
            continue
        test = binomtest(n_a, n, 0.5, alternative="two-sided")
        ci = test.proportion_ci(confidence_level=0.95, method="exact")
        out.append(PositionBias(name, n, n_a, n_a / n, float(ci.low), float(ci.high),
                                float(test.pvalue)))
    return out
