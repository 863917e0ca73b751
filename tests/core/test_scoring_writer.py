"""The one writer of score rows, shared by the scoring job and the robustness curves."""

from __future__ import annotations

import json

from harlab.scoring import plan_pairs
from harlab.scoring.job import score_row, write_scores
from harlab.scoring.metrics import Scored
from tests.core.test_scoring_fixtures import make_project

COLUMNS = ("run_id", "sample_id", "modality", "pair", "metric", "scorer", "value", "reason",
           "response_a_id", "response_b_id", "details_json")


def _stored(project):
    return [tuple(r) for r in project.query(f"SELECT {', '.join(COLUMNS)} FROM scores "
                                            "ORDER BY id")]


def test_rows_are_stored_once_and_counted(tmp_path):
    project, _ = make_project(tmp_path / "p")
    run_id = project.start_run("score", {})
    a, b = plan_pairs(project, scenario_of=lambda label: None)[:2]
    rows = [score_row(run_id, a, "syntactic_cosine", "sk", Scored(0.25, None, {"z": 1, "a": 2})),
            score_row(run_id, b, "syntactic_cosine", "sk", Scored(None, None, {}))]
    assert write_scores(project, rows) == 2
    assert _stored(project) == [
        (run_id, a.sample_id, a.modality, a.pair, "syntactic_cosine", "sk", 0.25, None, a.a_id,
         a.b_id, '{"a": 2, "z": 1}'),
        (run_id, b.sample_id, b.modality, b.pair, "syntactic_cosine", "sk", None, "undefined",
         b.a_id, b.b_id, "{}")]
    # the same metric, scorer and response pair again (even another run): nothing added
    again = score_row(run_id + 1, a, "syntactic_cosine", "sk", Scored(0.5, None, {}))
    assert write_scores(project, [again]) == 0
    assert len(_stored(project)) == 2
    # another scorer of the same pair is another row
    assert write_scores(project, [score_row(run_id, a, "syntactic_cosine", "other",
                                            Scored(0.5, None, {}))]) == 1


def test_a_reason_is_kept_and_details_keep_their_text(tmp_path):
    project, _ = make_project(tmp_path / "p")
    pair = plan_pairs(project, scenario_of=lambda label: None)[0]
    row = score_row(7, pair, "decision_changed", "rules", Scored(None, "unclear",
                                                                  {"note": "café"}))
    assert row[6:8] == (None, "unclear")
    assert json.loads(row[10]) == {"note": "café"} and "café" in row[10]
    assert isinstance(row[11], float)
