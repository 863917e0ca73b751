"""Plan a rating study: how many items and annotators a target CI half-width needs.

Two targets:

- **Krippendorff's alpha** (``plan_alpha``), by *simulation*: items have a latent value
  ``N(0, 1)``; each annotator sees it plus independent noise ``N(0, (1 - alpha) / alpha)``
  (so the true interval-level reliability is ``alpha``), cut into a 5-point ordinal scale at
  equally spaced thresholds. For each (items, annotators) on the grid, ``n_sim`` studies are
  simulated and alpha computed (``krippendorff``, ordinal); the half-width is half the
  distance between the 2.5 and 97.5 percentiles of those alphas (the spread a bootstrap CI of
  one study would show). Seeded, so a plan is repeatable.
- **Paired difference in meaning change** (``plan_difference``), by formula: the mean of
  per-item differences (e.g. multimodal minus unimodal meaning change of the same sample)
  has a t-based CI of half-width ``t(0.975, n - 1) * sd / sqrt(n)``, where an item's
  k-annotator mean difference has ``sd**2 = sd_item**2 + 2 * sd_rater**2 / k`` (each side
  averaged over k annotators with independent rater noise). The smallest n meeting the
  target is found by search.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import krippendorff
import numpy as np
from scipy.stats import t as student_t

from harlab import jobs
from harlab.errors import InputError
from harlab.jobs import Job, Progress

ITEM_GRID = (10, 20, 30, 40, 50, 75, 100, 150, 200, 300, 500)
ANNOTATOR_GRID = (2, 3, 4, 5)
ALPHA_METHOD = ("simulation: latent N(0,1) + rater noise N(0,(1-a)/a), 5-point ordinal; "
                "half-width = half the 95% percentile range of simulated alphas")
DIFF_METHOD = ("formula: t(0.975, n-1) * sqrt(sd_item^2 + 2 sd_rater^2 / k) / sqrt(n) "
               "(t-based CI of a mean paired difference)")


@dataclass(frozen=True)
class PlanRow:
    annotators: int
    items: int | None      # None: not reached on the grid
    half_width: float | None
    method: str


def _check(name: str, value: float, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            low < value < high):
        raise InputError(f"{name} must be a number in ({low}, {high}), got {value!r}")
    return float(value)


def simulated_half_width(alpha: float, n_items: int, n_annotators: int, n_sim: int = 200,
                         seed: int = 0) -> float:
    """Half the 95 % percentile range of alpha over ``n_sim`` simulated studies."""
    rng = np.random.default_rng(seed)
    noise = math.sqrt((1 - alpha) / alpha)
    cuts = np.array([-1.5, -0.5, 0.5, 1.5]) * math.sqrt(1 + noise ** 2) / 1.5
    values = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(n_sim):
            latent = rng.normal(size=n_items)
            seen = latent[None, :] + rng.normal(scale=noise, size=(n_annotators, n_items))
            codes = np.digitize(seen, cuts).astype(float) + 1
            if len(np.unique(codes)) < 2:
                continue
            values.append(krippendorff.alpha(reliability_data=codes,
                                             level_of_measurement="ordinal"))
    low, high = np.percentile(values, [2.5, 97.5])
    return float(high - low) / 2


def plan_alpha(alpha: float, half_width: float, *, annotators: tuple[int, ...] = ANNOTATOR_GRID,
               n_sim: int = 200, seed: int = 0) -> list[PlanRow]:
    """Per annotator count, the fewest grid items whose simulated CI half-width <= target."""
    return jobs.run(plan_alpha_job(alpha, half_width, annotators=annotators, n_sim=n_sim,
                                   seed=seed))


def plan_alpha_job(alpha: float, half_width: float, *,
                   annotators: tuple[int, ...] = ANNOTATOR_GRID, n_sim: int = 200,
                   seed: int = 0) -> Job[list[PlanRow]]:
    """:func:`plan_alpha` as a job: yields Progress per grid point (for the GUI's runner)."""
    alpha = _check("expected alpha", alpha, 0.0, 1.0)
    target = _check("target half-width", half_width, 0.0, 1.0)
    if not 20 <= n_sim <= 5000:
        raise InputError(f"n_sim must be in [20, 5000], got {n_sim}")
    rows = []
    for step, k in enumerate(annotators):
        found, width = None, None
        for n in ITEM_GRID:
            yield Progress(step, len(annotators), f"{k} annotators, {n} items: simulating")
            width = simulated_half_width(alpha, n, k, n_sim, seed)
            if width <= target:
                found = n
                break
        rows.append(PlanRow(k, found, width, ALPHA_METHOD))
    yield Progress(len(annotators), len(annotators), "plan done")
    return rows


def plan_difference(half_width: float, sd_item: float, sd_rater: float, *,
                    annotators: tuple[int, ...] = ANNOTATOR_GRID, max_items: int = 100_000
                    ) -> list[PlanRow]:
    """Per annotator count, the fewest items whose t-based CI half-width <= target."""
    target = _check("target half-width", half_width, 0.0, 100.0)
    sd_item = _check("sd of item differences", sd_item, -1e-12, 100.0)
    sd_rater = _check("sd of rater noise", sd_rater, -1e-12, 100.0)
    rows = []
    for k in annotators:
        sd = math.sqrt(sd_item ** 2 + 2 * sd_rater ** 2 / k)
        n = max(2, math.ceil((1.96 * sd / target) ** 2))
        while n <= max_items and student_t.ppf(0.975, n - 1) * sd / math.sqrt(n) > target:
            n += 1
        width = student_t.ppf(0.975, n - 1) * sd / math.sqrt(n)
        rows.append(PlanRow(k, n if n <= max_items else None, float(width), DIFF_METHOD))
    return rows
