"""The automatic metrics against people's judgement: Spearman's rho with the human ratings.

Each metric of the original/attacked pairs is set against the mean "overall meaning change"
rating (1-5) of the same sample and modality, across annotators. A cosine that tracks human
judgement correlates *negatively* (more similar answers, less change).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harlab.errors import InputError
from harlab.jobs import Job, Progress
from harlab.rating.tables import meaning_change
from harlab.scoring import similarity, stats
from harlab.scoring.job import METRICS
from harlab.scoring.results import PairScore, pair_scores, results_job
from harlab.store import Project

COLUMNS = ("modality", "metric", "n", "rho", "p_value", "ci_low", "ci_high", "note")


def metrics_vs_ratings(project: Project, *, semantic_model: str = similarity.DEFAULT_MODEL,
                       config: stats.StatsConfig = stats.StatsConfig(n_resamples=2000),
                       scores: Sequence[PairScore] | None = None) -> list[dict[str, Any]]:
    """One record per modality (and both together) and metric: n, rho, p, CI, note."""
    try:
        ratings = meaning_change(project)
    except InputError as exc:
        return [{"modality": "all", "metric": "", "n": 0, "note": str(exc)}]
    scores = scores if scores is not None else pair_scores(project,
                                                           semantic_model=semantic_model)
    out = []
    for modality in ("unimodal", "multimodal", "all"):
        rows = [s for s in scores if modality in ("all", s.modality)
                and (s.sample_id, s.modality) in ratings]
        for metric in METRICS:
            x = [s.values.get(metric) for s in rows]
            y = [ratings[(s.sample_id, s.modality)] for s in rows]
            c = stats.spearman_ci(x, y, config)
            out.append({"modality": modality, "metric": metric, "n": c.n, "rho": c.rho,
                        "p_value": c.p_value, "ci_low": c.ci_low, "ci_high": c.ci_high,
                        "note": c.note})
    return out


def results_with_ratings_job(project: Project, *, semantic_model: str = similarity.DEFAULT_MODEL
                             ) -> Job[dict[str, Any]]:
    """:func:`~harlab.scoring.results.results_job`, plus the metrics against the ratings."""
    results = yield from results_job(project, semantic_model=semantic_model)
    yield Progress(3, 4, "metrics vs human ratings")
    results["human"] = metrics_vs_ratings(project, semantic_model=semantic_model,
                                          scores=results["scores"])
    return results
