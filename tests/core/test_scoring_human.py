"""The automatic metrics against the human "meaning changed" rating (Spearman's rho)."""

from __future__ import annotations

import pytest
from scipy import stats as sps

from harlab import jobs
from harlab.rating import get_annotator, items, record_answer
from harlab.scoring import ScoreConfig, score_project
from harlab.scoring.human import metrics_vs_ratings
from tests.core.test_scoring_fixtures import SAMPLES, add_answer, add_sample, make_project


def test_rho_equals_scipy_on_the_rated_pairs(tmp_path):
    project, _ids = make_project(tmp_path / "p")
    for n, (true, adv, uo, ua, *_rest) in enumerate(SAMPLES * 2, start=len(SAMPLES)):
        sid = add_sample(project, true, adv, n)
        add_answer(project, sid, "unimodal", "original", uo)
        add_answer(project, sid, "unimodal", "attacked", ua + " extra words" * (n % 3))
    jobs.run(score_project(project, ScoreConfig(metrics=("syntactic_cosine",),
                                                modalities=("unimodal",))))
    alice = get_annotator(project, "alice")
    listed = [i for i in items(project, alice) if i.modality == "unimodal"]
    ratings = {}
    for k, item in enumerate(listed):
        ratings[item.sample_id] = 1 + k % 5
        record_answer(project, alice, item, "meaning_change", 1 + k % 5)
    rows = {(r["modality"], r["metric"]): r for r in metrics_vs_ratings(project)}
    row = rows[("unimodal", "syntactic_cosine")]
    sims = {r["sample_id"]: r["value"] for r in project.query(
        "SELECT sample_id, value FROM scores WHERE metric = 'syntactic_cosine'")}
    keys = sorted(ratings)
    expected = sps.spearmanr([sims[k] for k in keys], [ratings[k] for k in keys]).statistic
    assert row["n"] == len(keys) and row["rho"] == pytest.approx(expected)
    assert row["ci_low"] <= row["rho"] <= row["ci_high"]
    assert rows[("multimodal", "syntactic_cosine")]["n"] == 0  # no multimodal ratings
    assert "need at least 3" in rows[("multimodal", "syntactic_cosine")]["note"]
    project.close()
