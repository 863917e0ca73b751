"""What the Overview and Results say about a study: items, skips, the LLM used, the dataset."""

from __future__ import annotations

from harlab.study.views import (
    arm_items,
    dataset_problem,
    llm_used,
    query_state,
    rated_items,
    scored_items,
    study_overview,
)
from tests.core.test_scoring_fixtures import add_answer, make_project


def test_items_count_pairs_and_say_what_was_skipped(tmp_path):
    project, ids = make_project(tmp_path / "p")
    for sid in ids:  # the multimodal arm skipped (e.g. a text-only model)
        for variant in ("original", "attacked"):
            add_answer(project, sid, "multimodal", variant, None, status="skipped")
    arms = arm_items(project)
    assert (arms["unimodal"].ok, arms["unimodal"].samples) == (3, 3)
    assert arms["multimodal"].skipped == 3 and arms["multimodal"].reasons == {"boom": 3}
    assert arms["multimodal"].describe() == "multimodal: 0 of 3 answered (3 skipped)"
    assert query_state("done", arms) == "done, multimodal all skipped"
    # one line, with the reason (the skip reason says how to enable the arm)
    assert arms["multimodal"].skipped_line() == "multimodal: not asked (3 of 3 skipped): boom"
    assert arms["unimodal"].skipped_line() is None
    assert study_overview(project).skipped_arms == [arms["multimodal"].skipped_line()]
    assert query_state("stale", arms) == "stale"
    assert scored_items(project) == 0 and rated_items(project) == (0, 0)
    project.close()


def test_llm_used_names_model_and_where_its_settings_came_from(tmp_path):
    project, ids = make_project(tmp_path / "p")
    with project.run("study", {}, name="demo study"):
        with project.run("query", {}) as query:
            for variant in ("original", "attacked"):
                rid = add_answer(project, ids[0], "unimodal", variant, "text")
                project.execute("UPDATE llm_requests SET run_id = ?, temperature = 0.7, "
                                "response_model = 'm-2024' WHERE id = ?", (query.id, rid))
    used = {u.modality: u for u in llm_used(project)}
    text = used["unimodal"].describe()
    assert "test:m" in text and "snapshot m-2024" in text and "temperature 0.7" in text
    assert "the study config 'demo study'" in text
    assert "no run recorded" in used["multimodal"].source
    project.close()


def test_a_missing_dataset_is_a_problem_a_present_one_is_not(tmp_path, monkeypatch):
    monkeypatch.setenv("HARLAB_DATA_DIR", str(tmp_path / "data"))
    project, _ids = make_project(tmp_path / "p")
    assert dataset_problem(project, "demo") is None  # none recorded
    project.set_meta("dataset_root", str(tmp_path / "gone" / "demo-ucf101"))
    problem = dataset_problem(project, "demo")
    assert problem is not None and problem.is_demo and not problem.demo_here
    assert "Nothing has been regenerated" in problem.message()
    project.set_meta("dataset_root", str(tmp_path))
    assert dataset_problem(project, "demo") is None
    project.close()
