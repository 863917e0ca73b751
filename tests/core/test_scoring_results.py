"""Table 3, the paired tests, the drift z-scores, effective n, the exports and the CLI."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from scipy import stats as sps

from harlab import jobs
from harlab.cli import main
from harlab.errors import InputError
from harlab.scoring import (
    ScoreConfig,
    StatsConfig,
    drift_vs_noise,
    format_results,
    pair_scores,
    results_job,
    results_table,
    score_project,
)
from harlab.scoring.tables import TABLE3_COLUMNS
from tests.core.test_scoring_fixtures import make_project

CHEAP = ("syntactic_cosine", "true_label_mentioned", "adv_label_mentioned", "decision_changed")
FAST = StatsConfig(n_resamples=500)
NOISE = {(0, "unimodal"): ["The baby crawling is normal; no danger at all.",
                           "The baby is crawling, a normal activity, not in danger.",
                           "Crawling babies are safe."]}


@pytest.fixture
def scored(tmp_path):
    project, ids = make_project(tmp_path / "p", noise=NOISE)
    jobs.run(score_project(project, ScoreConfig(metrics=CHEAP)))
    yield project, ids
    project.close()


def test_table3_rows_per_modality_and_metric(scored):
    project, _ids = scored
    res = results_table(project, config=FAST, metrics=CHEAP)
    rows = {(r.modality, r.metric): r for r in res.rows}
    assert len(rows) == 8
    syn = [s.values["syntactic_cosine"] for s in pair_scores(project) if s.modality == "unimodal"]
    r = rows[("unimodal", "syntactic_cosine")]
    assert r.n == 3 and r.mean == pytest.approx(np.mean(syn))
    assert r.var == pytest.approx(np.var(syn, ddof=1)) and r.ddof == 1
    assert r.ci_low <= r.mean <= r.ci_high
    # decision: sample 1 multimodal and sample 0 multimodal are clear
    assert rows[("multimodal", "decision_changed")].n >= 1


def test_paired_tests_use_the_same_samples_with_holm(scored):
    project, _ids = scored
    res = results_table(project, config=FAST, metrics=CHEAP)
    paired = {t.metric: t for t in res.paired}
    by = {(s.sample_id, s.modality): s.values["syntactic_cosine"] for s in pair_scores(project)}
    uni = [by[(sid, "unimodal")] for sid, m in sorted(by) if m == "unimodal"]
    multi = [by[(sid, "multimodal")] for sid, m in sorted(by) if m == "multimodal"]
    t = paired["syntactic_cosine"]
    assert t.n == 3 and t.p_value == pytest.approx(sps.wilcoxon(uni, multi).pvalue)
    assert t.p_holm >= t.p_value


def test_drift_z_against_the_noise_floor(scored):
    project, ids = scored
    rows = {(r.sample_id, r.modality): r for r in drift_vs_noise(project, "syntactic_cosine")}
    row = rows[(ids[0], "unimodal")]
    assert len(row.noise) == 3
    assert row.z == pytest.approx((row.drift - np.mean(row.noise)) / np.std(row.noise, ddof=1))
    assert rows[(ids[1], "unimodal")].z is None
    assert "0 noise draw(s)" in rows[(ids[1], "unimodal")].note
    res = results_table(project, config=FAST, metrics=CHEAP)
    drift = {(d.modality, d.metric): d for d in res.drift}
    assert drift[("unimodal", "syntactic_cosine")].n == 1
    assert drift[("unimodal", "syntactic_cosine")].noise_draws == 3
    assert "no noise floor" in drift[("multimodal", "syntactic_cosine")].note


def test_effective_n_counts_distinct_prompts(scored):
    project, _ids = scored
    res = results_table(project, config=FAST, metrics=CHEAP)
    # unimodal prompts carry only the labels: 2 BabyCrawling samples, 2 distinct adversarial
    assert res.by_class["unimodal"]["BabyCrawling"] == (2, 2)
    assert res.distinct_prompts == {"unimodal": 3, "multimodal": 3}


def test_exports_follow_the_table3_contract(scored):
    project, _ids = scored
    res = results_table(project, config=FAST, metrics=CHEAP)
    rows = list(csv.DictReader(io.StringIO(format_results(res, "csv"))))
    assert tuple(rows[0]) == TABLE3_COLUMNS
    for col in ("modality", "metric", "n", "mean", "var", "std", "median", "ci_low", "ci_high",
                "ddof"):
        assert col in rows[0]
    uni = next(r for r in rows if (r["modality"], r["metric"]) == ("unimodal",
                                                                    "syntactic_cosine"))
    assert uni["paper_mean"] == "0.7019" and uni["ddof"] == "1"
    assert "nan" not in format_results(res, "csv").lower()
    md = format_results(res, "md")
    assert "| modality | metric |" in md and "Wilcoxon" in md
    tex = format_results(res, "latex")
    assert "\\begin{tabular}" in tex and "syntactic\\_cosine" in tex
    assert "effective n, unimodal" in format_results(res, "table")
    with pytest.raises(InputError, match="unknown format 'xls'; valid formats: table, csv"):
        format_results(res, "xls")


def test_results_job_and_an_empty_project(tmp_path):
    project, _ids = make_project(tmp_path / "p")
    out = jobs.run(results_job(project, config=FAST))
    assert out["scores"] and all(not s.values for s in out["scores"])  # answers, no scores yet
    rows = out["table"].rows
    assert all(r.n == 0 and "no values" in r.note for r in rows)
    from harlab.scoring.metrics import METRICS

    assert format_results(out["table"], "csv").count("\n") == 1 + 2 * len(METRICS)


def test_cli_score_and_results(tmp_path, capsys):
    project, _ids = make_project(tmp_path / "p", noise=NOISE)
    project.close()
    root = str(tmp_path / "p")
    assert main(["score", "--project", root, "--metrics", ",".join(CHEAP)]) == 0
    out = capsys.readouterr().out
    assert "9 pairs, 36 scores added, 0 already stored" in out
    assert main(["score", "--project", root, "--metrics", "syntactic_cosine"]) == 0
    assert "0 scores added, 9 already stored" in capsys.readouterr().out
    assert main(["results", "--project", root, "--resamples", "500"]) == 0
    out = capsys.readouterr().out
    assert "Table 3" in out and "paper_mean" in out and "Wilcoxon" in out
    dest = tmp_path / "t3.csv"
    assert main(["results", "--project", root, "--format", "csv", "--out", str(dest),
                 "--resamples", "500"]) == 0
    assert dest.read_text().startswith("modality,metric,n,")


def test_cli_errors(tmp_path, capsys):
    project, _ids = make_project(tmp_path / "p")
    project.close()
    root = str(tmp_path / "p")
    assert main(["score", "--project", root, "--metrics", "bleu"]) == 2
    assert "unknown metric 'bleu'" in capsys.readouterr().err
    assert main(["results", "--project", root, "--resamples", "5"]) == 2
    assert "n_resamples must be" in capsys.readouterr().err
    assert main(["results", "--project", root, "--out", str(tmp_path / "no" / "x.csv"),
                 "--resamples", "500"]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert main(["score", "--project", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
