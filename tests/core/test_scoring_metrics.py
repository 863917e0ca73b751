"""The metric registry: every metric the job, the tables, the exports and the CLI name has one
spec; a name without one is refused everywhere instead of being scored by another metric."""

from __future__ import annotations

import pytest

from harlab.errors import InputError
from harlab.scoring import job, metrics
from harlab.scoring.judgments import load_decision_rules
from harlab.scoring.metrics import METRIC_SPECS, MetricContext, PairToScore
from harlab.study import export


def _context() -> MetricContext:
    return MetricContext("all-MiniLM-L6-v2", "cpu", 8, load_decision_rules())


def _pair(b_text: str = "The baby is crawling, no alert needed.") -> PairToScore:
    return PairToScore(1, "unimodal", "attacked", 10, 11, "A baby crawling, all is safe.",
                       b_text, "BabyCrawling", "Biking", None)


def test_every_metric_name_has_a_spec():
    assert job.METRICS == metrics.METRICS == tuple(METRIC_SPECS)
    assert job.ScoreConfig().metrics == metrics.METRICS
    for name in job.ScoreConfig().metrics:
        spec = metrics.metric(name)
        assert spec.name == name and spec.kind in metrics.KINDS and spec.description
        low, high = spec.value_range
        assert low < high
    assert set(export.EXTRA_SCORES) | {"syntactic_cosine", "semantic_cosine"} == set(
        metrics.METRICS)


def test_a_metric_name_without_a_spec_is_refused():
    with pytest.raises(InputError, match="unknown metric 'bleu'; valid metric names: "
                                         "syntactic_cosine, semantic_cosine"):
        metrics.metric("bleu")
    with pytest.raises(InputError, match="unknown metric 'bleu'"):
        job.ScoreConfig(metrics=("syntactic_cosine", "bleu"))
    with pytest.raises(InputError, match=r"unknown metric \(none given\)"):
        metrics.check_metrics(())


def test_a_job_metric_tuple_grown_without_a_spec_fails(monkeypatch, tmp_path):
    from tests.core.test_scoring_fixtures import make_project

    project, _ids = make_project(tmp_path / "p")
    pairs = job.plan_pairs(project, scenario_of=lambda _label: None)
    with pytest.raises(InputError, match="unknown metric 'new_metric'"):
        list(job._metric_steps(project, 1, pairs, "new_metric", _context()))


@pytest.mark.parametrize("name", [n for n, s in METRIC_SPECS.items() if not s.needs_model])
def test_each_cheap_metric_scores_a_batch_in_its_range(name):
    spec = metrics.metric(name)
    pairs = [_pair(), _pair("Someone is biking on the road: alert!"), _pair("   ")]
    scored = spec.compute(pairs, _context())
    assert len(scored) == len(pairs)
    low, high = spec.value_range
    for s in scored:
        assert (s.value is None and s.reason) or low <= s.value <= high
    assert isinstance(spec.scorer(pairs[0], _context()), str)


def test_kinds_pick_the_similarities_for_the_drift():
    assert metrics.of_kind(metrics.SIMILARITY) == ("syntactic_cosine", "semantic_cosine",
                                                   "semantic_cosine_full")
    assert metrics.needs_model("semantic_cosine") and not metrics.needs_model("syntactic_cosine")
    with pytest.raises(InputError, match="metric kind must be one of similarity, judgment"):
        metrics.MetricSpec("x", "vibes", lambda p, c: "", lambda ps, c: [], (0, 1), "x")
