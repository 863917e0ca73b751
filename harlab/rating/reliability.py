"""The agreement report: every item's κ and α with bootstrap CIs, and the worst disagreements.

:func:`agreement_job` is a job (a generator yielding :class:`harlab.jobs.Progress` every few
bootstrap replications); :func:`compute_agreement` runs it to the end.
"""

from __future__ import annotations

from statistics import fmean

import numpy as np

from harlab import jobs
from harlab.jobs import Job, Progress
from harlab.rating.agreement import (
    STATS,
    AgreementConfig,
    AgreementResult,
    Disagreement,
    ItemAgreement,
    Stat,
    _ItemData,
    alpha,
    cohen,
    collect,
    fleiss,
)
from harlab.rating.rubric import Rubric
from harlab.store import Project

Values = dict[str, tuple[float | None, str, int | None]]


def compute_agreement(project: Project, rubric: Rubric, config: AgreementConfig | None = None,
                      item: str | None = None) -> AgreementResult:
    """Agreement over every comparable item (or one, by stored key or rubric id)."""
    return jobs.run(agreement_job(project, rubric, config or AgreementConfig(), item))


def agreement_job(project: Project, rubric: Rubric, config: AgreementConfig,
                  item: str | None = None) -> Job[AgreementResult]:
    data = collect(project, rubric, item)
    annotators = tuple(sorted({a for d in data for c in d.codes.values() for a in c}))
    units = sorted({u for d in data for u in d.codes})
    point = [_item_values(d, list(d.codes), config.weights) for d in data]
    draws: list[list[Values]] = []
    rng = np.random.default_rng(config.seed)
    step = max(1, config.n_boot // 50)
    for b in range(config.n_boot if len(units) > 1 else 0):
        picked = [units[i] for i in rng.integers(0, len(units), len(units))]
        draws.append([_item_values(d, [u for u in picked if u in d.codes], config.weights)
                      for d in data])
        if b % step == 0:
            yield Progress(b, config.n_boot, f"bootstrap {b}/{config.n_boot}")
    no_ci = ("no CI: n_boot = 0" if config.n_boot == 0 else
             f"no CI: {len(units)} unit(s), a bootstrap needs at least two")
    per_item = tuple(
        ItemAgreement(d.key, d.level, len(d.codes), len({a for c in d.codes.values()
                                                          for a in c}),
                      **{s: _stat(point[i][s], [draw[i][s][0] for draw in draws], config,
                                  no_ci) for s in STATS})
        for i, d in enumerate(data))
    overall = ItemAgreement(
        "overall", "mixed", len(units), len(annotators),
        **{s: _stat(_mean([p[s] for p in point]),
                    [_mean([v[s] for v in draw])[0] for draw in draws], config, no_ci)
           for s in STATS})
    yield Progress(config.n_boot, config.n_boot, "agreement done")
    return AgreementResult(annotators, per_item, overall,
                           tuple(disagreements(data)[:config.top_disagreements]), config)


def _item_values(d: _ItemData, units: list[tuple], weights: str) -> Values:
    """Per statistic: (value, reason, units it was computed on)."""
    raters = sorted({a for u in units for a in d.codes[u]})
    if len(raters) < 2:
        why = "no ratings" if not raters else f"only one annotator ({raters[0]}) rated it"
        return {s: (None, why, 0) for s in STATS}
    mat = np.full((len(raters), len(units)), np.nan)
    for j, u in enumerate(units):
        for a, code in d.codes[u].items():
            mat[raters.index(a), j] = code
    complete = ~np.isnan(mat).any(axis=0)
    if len(raters) == 2:
        kappa = (*cohen(mat[0, complete].astype(int), mat[1, complete].astype(int), d.k,
                        d.level, weights), int(complete.sum()))
    else:
        kappa = (None, f"Cohen's kappa needs exactly two annotators, {len(raters)} rated "
                       "it; see Fleiss' kappa and alpha", 0)
    pairable = int(((~np.isnan(mat)).sum(axis=0) >= 2).sum())
    return {"cohen": kappa, "fleiss": (*fleiss(mat[:, complete].T, d.k), int(complete.sum())),
            "alpha": (*alpha(mat, d.k, d.level), pairable)}


def _mean(values: list[tuple]) -> tuple[float | None, str, int | None]:
    defined = [v[0] for v in values if v[0] is not None]
    if not defined:
        return None, "undefined for every item", None
    return fmean(defined), f"mean over {len(defined)} of {len(values)} items", None


def _stat(point: tuple, draws: list[float | None], config: AgreementConfig,
          no_ci: str = "no CI: fewer than two units") -> Stat:
    value, reason, n_units = point
    defined = [v for v in draws if v is not None]
    dropped = len(draws) - len(defined)
    if value is None:
        return Stat(value, None, None, reason, n_units)
    if not draws:
        return Stat(value, None, None, "; ".join(x for x in (reason, no_ci) if x), n_units)
    if len(defined) < len(draws) / 2:
        return Stat(value, None, None, f"{reason}; no CI: undefined in {dropped} of "
                    f"{len(draws)} resamples".lstrip("; "), n_units, len(defined), dropped)
    tail = (1 - config.ci) / 2
    low, high = np.quantile(defined, [tail, 1 - tail])
    if dropped:
        reason = "; ".join(x for x in (reason, f"CI from {len(defined)} of {len(draws)} "
                                               f"resamples ({dropped} undefined, left out)") if x)
    return Stat(value, float(low), float(high), reason, n_units, len(defined), dropped)


def disagreements(data: list[_ItemData]) -> list[Disagreement]:
    """Units and items with at least two ratings that differ, the widest apart first.

    The score is in (0, 1]: for ordinal items the range of the codes over the scale's range,
    for nominal ones the share outside the most common category over its largest possible
    value (so two annotators who disagree on a nominal item score 1).
    """
    out = []
    for d in data:
        for unit, codes in d.codes.items():
            if len(codes) < 2 or len(set(codes.values())) == 1:
                continue
            values = list(codes.values())
            if d.level == "ordinal":
                score = (max(values) - min(values)) / (d.k - 1)
            else:
                score = _nominal_spread(values, d.k)
            out.append(Disagreement(unit[0], unit[1], d.key, round(float(score), 4),
                                    {a: d.values[c] for a, c in sorted(codes.items())},
                                    unit[2], unit[3]))
    out.sort(key=lambda x: (-x.score, -len(x.values), x.sample_id, x.modality, x.item))
    return out


def _nominal_spread(values: list[int], k: int) -> float:
    """Share of ratings outside the most common category, scaled so that 1 is the widest
    spread ``len(values)`` annotators can reach over ``k`` categories (two who disagree: 1)."""
    n = len(values)
    modal = max(values.count(v) for v in set(values))
    least_modal = -(-n // min(k, n))  # ceil(n / categories usable): the most even spread
    widest = 1 - least_modal / n
    return (1 - modal / n) / widest if widest > 0 else 0.0
