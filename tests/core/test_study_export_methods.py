"""Issue 20: the exports say when the semantic cosine saw cut text, carry
semantic_cosine_full, name their test and CI methods, and the demo study has a noise floor."""

from __future__ import annotations

import csv

import pytest

from harlab import jobs
from harlab.scoring import ScoreConfig, score_project
from harlab.study.config import StudyConfig
from harlab.study.export import TRUNCATION, export_study
from tests.core.test_scoring_fixtures import (
    SAMPLES,
    add_answer,
    make_project,
    minilm,  # noqa: F401 - fixture
)
from tests.core.test_scoring_whole_text import HEAD, TAIL_ALARM, TAIL_SAFE

# Two clean re-draws per sample and modality, as the demo study now asks.
NOISE = {(i, m): [f"{SAMPLES[i][2 if m == 'unimodal' else 4]} Nothing else to add.",
                  f"Again: {SAMPLES[i][2 if m == 'unimodal' else 4]}"]
         for i in range(len(SAMPLES)) for m in ("unimodal", "multimodal")}


@pytest.fixture
def exported(tmp_path, minilm):  # noqa: F811
    project, ids = make_project(tmp_path / "p", noise=NOISE)
    # sample 0, unimodal: long answers that differ only in their tails (the new answers win)
    add_answer(project, ids[0], "unimodal", "original", HEAD + TAIL_SAFE)
    add_answer(project, ids[0], "unimodal", "attacked", HEAD + TAIL_ALARM)
    jobs.run(score_project(project, ScoreConfig(device="cpu"), models=minilm))
    paths = export_study(project, tmp_path / "out")
    yield paths, ids
    project.close()


def test_evaluation_csv_flags_each_truncated_side_with_its_word_pieces(exported):
    paths, ids = exported
    rows = list(csv.DictReader(open(paths["evaluation.csv"], encoding="utf-8")))
    assert set(TRUNCATION) <= set(rows[0]) and "semantic_cosine_full" in rows[0]
    long = next(r for r in rows if r["sample_id"] == str(ids[0]) and r["modality"] == "unimodal")
    assert long["semantic_truncated_original"] == "True"
    assert long["semantic_truncated_attacked"] == "True"
    assert int(long["semantic_tokens_original"]) > 256
    assert float(long["semantic_cosine"]) > 0.999 > float(long["semantic_cosine_full"])
    short = next(r for r in rows if r["sample_id"] == str(ids[1]))
    assert short["semantic_truncated_original"] == "False"
    assert short["semantic_tokens_original"] == ""
    assert short["semantic_cosine"] == short["semantic_cosine_full"]


def test_table3_has_the_full_cosine_and_a_truncation_note(exported):
    paths, _ids = exported
    table = {(r["modality"], r["metric"]): r
             for r in csv.DictReader(open(paths["table3.csv"], encoding="utf-8"))}
    assert ("unimodal", "semantic_cosine_full") in table
    note = table[("unimodal", "semantic_cosine")]["note"]
    assert "1 of 3 pairs truncated at 256 word pieces" in note
    assert "truncated" not in table[("multimodal", "semantic_cosine")]["note"]


def test_summary_states_truncation_methods_and_a_filled_drift_table(exported):
    paths, _ids = exported
    text = paths["summary.md"].read_text(encoding="utf-8")
    assert "1 of 6 semantic cosines (17%) were computed on truncated answers" in text
    assert "McNemar's exact binomial test on the discordant pairs" in text
    assert "| p_method |" in text and "| ci_method |" in text
    assert "drift vs noise floor, unimodal: 3 samples, 2 draws (median)" in text
    assert "expected 0.175 with no effect" in text


def test_the_demo_study_asks_two_noise_draws_and_the_paper_preset_none():
    assert StudyConfig.demo().noise_floor == 2 and StudyConfig().noise_floor == 2
    paper = StudyConfig.paper("/data/ucf")
    assert paper.noise_floor == 0
    assert "paper preset asks none unless noise_floor is set" in (
        paper.chosen_settings()["noise floor"])
    assert StudyConfig.paper("/data/ucf", noise_floor=3).noise_floor == 3
    assert "z uses a std of 2 values" in StudyConfig.demo().chosen_settings()["noise floor"]


@pytest.mark.slow
def test_the_demo_default_fills_the_drift_table_from_two_draws(tmp_path):
    from harlab.data.demo_data import generate_demo_dataset
    from harlab.store import Project
    from harlab.study.runner import run_study
    from tests.core.test_study import _config
    from tests.llm_server import FakeLLMServer, default_reply

    words = ["calm", "safe", "normal", "fine", "quiet", "usual", "ordinary", "steady"]

    def reply(body):  # each draw (its own seed) words its answer a little differently
        seed = int(body.get("seed") or 0)
        return (f"{default_reply(body)} The scene looks {words[seed % 8]} and "
                f"{words[(seed // 8) % 8]}; nothing else.")

    root = str(jobs.run(generate_demo_dataset(tmp_path / "demo", classes=["BabyCrawling",
                                                                         "Biking"],
                                              groups=4, clips_per_group=2, seconds=0.4)))
    with FakeLLMServer(reply=reply) as server, Project.create(tmp_path / "p") as project:
        config = _config(root, server)
        assert config.noise_floor == 2
        jobs.run(run_study(project, config))
        variants = {r["variant"] for r in project.query("SELECT variant FROM llm_requests")}
        assert {"noise-1", "noise-2"} <= variants
        text = export_study(project, tmp_path / "out", config)["summary.md"].read_text()
    assert "2 draws (median); share of z < -2" in text
    assert "- asked: 2 extra clean draw(s) per sample" in text


def test_summary_gives_the_run_times_of_the_latest_study_that_did_work(tmp_path):
    """summary.md says how long each stage took here, from the run records, with the LLM's
    tokens per second; a later study run that reused every stage does not hide them."""
    from harlab.store import Project
    from harlab.study.export import summary_markdown

    with Project.create(tmp_path / "p") as project:
        with project.run("study", {}, name="s") as study:
            with project.run("train", {}, name="resnet18 64px"):
                pass
            with project.run("query", {"modalities": ["unimodal"]}, name="builtin:m") as q:
                q.result = {"asked": 3, "completion_tokens": 900}
            with project.run("query", {"modalities": ["multimodal"]}, name="builtin:m") as q:
                q.result = {"asked": 0, "skipped": 3}
        with project.run("study", {}, name="s"):
            pass  # every stage reused: nothing ran
        t0 = 1_000_000.0
        for run_id, start, end in ((study.id, 0, 700), (study.id + 1, 10, 180),
                                   (study.id + 2, 180, 480), (study.id + 3, 480, 480.5)):
            project.execute("UPDATE runs SET created_at = ?, updated_at = ? WHERE id = ?",
                            (t0 + start, t0 + end, run_id))
        text = summary_markdown(project, None, [], _empty_results(project))
    times = text.split("## Run times", 1)[1]
    assert f"study run {study.id}: 700 s (11.7 min) wall clock" in times
    assert "- train (resnet18 64px): 170 s (2.8 min)" in times
    assert ("- query (unimodal, builtin:m): 300 s (5.0 min): 3 answers, 900 completion tokens "
            "(3 tokens/s)") in times
    assert "- query (multimodal, builtin:m): 0.5 s: nothing asked" in times


def _empty_results(project):
    from harlab.scoring.results import results_table

    return results_table(project)
