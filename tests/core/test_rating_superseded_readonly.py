"""A superseded pair's ratings are read-only: they stay exactly those given while it was
current, whatever the API, a stale item or the pending journal tries."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from harlab import jobs
from harlab.errors import InputError
from harlab.llm.runner import query_samples
from harlab.rating import answers_for, get_annotator, items, load_rubric, record_answer
from harlab.rating.pending import JOURNAL, REJECTED, AnswerQueue
from harlab.rating.supersede import (
    PairSuperseded,
    choose_pair,
    follow_newest,
    keep_current,
    require_current,
)
from harlab.store import Project
from tests.core.test_rating_fixtures import add_answer, make_project
from tests.core.test_rating_reask import _config, rate_fully, seeded_reply
from tests.llm_server import FakeLLMServer, add_samples


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "proj") as proj:
        yield proj


def _stored(project, annotator):
    return [tuple(r) for r in project.query(
        "SELECT item, value, original_response_id, attacked_response_id, updated_at "
        "FROM ratings WHERE annotator_id = ? ORDER BY id", (annotator.id,))]


def _reask(project, item):
    """What a re-ask leaves in the store: a newer draw of both answers."""
    for variant in ("original", "attacked"):
        add_answer(project, item.sample_id, item.modality, variant, f"new {variant}")


def test_changing_a_rating_after_a_reask_that_uses_the_new_answers_is_refused(project):
    add_samples(project, [("Biking", "Biking", "Drumming")])
    rubric = load_rubric()
    with FakeLLMServer(reply=seeded_reply) as server:
        jobs.run(query_samples(project, _config(server), modalities="unimodal"))
        old = items(project)[0]
        ada = rate_fully(project, "Ada", old, rubric)
        before = _stored(project, ada)
        follow_newest(project, old.sample_id, "unimodal")  # "Ask again, use the new answers"
        jobs.run(query_samples(project, _config(server), modalities="unimodal", refresh=True))
    listed = items(project, ada)
    assert [i.superseded for i in listed] == [False, True]
    gone = listed[1]
    expected = (rf"answers {old.original_id} / {old.attacked_id} of sample #{old.sample_id} "
                r"\(unimodal\) were replaced by a re-ask")
    for key, value in (("meaning_change", "1"), ("meaning_change", None), ("notes", "later")):
        with pytest.raises(PairSuperseded, match=expected) as caught:
            record_answer(project, ada, gone, key, value, rubric)
        assert isinstance(caught.value, InputError)
    message = str(caught.value)
    assert "Rate the current pair" in message
    assert (f"harlab rate use-pair --project PROJECT --sample {old.sample_id} --modality "
            f"unimodal --original {old.original_id} --attacked {old.attacked_id}") in message
    assert f"now uses answers {listed[0].original_id} / {listed[0].attacked_id}" in message
    assert _stored(project, ada) == before  # not one value, not one timestamp changed
    assert answers_for(project, ada, gone, rubric, shown=False)["meaning_change"] == "4"
    record_answer(project, ada, listed[0], "meaning_change", "2", rubric)  # the current pair
    assert answers_for(project, ada, listed[0], rubric, shown=False) == {"meaning_change": "2"}


def test_the_store_decides_not_the_items_flag(tmp_path):
    rubric = load_rubric()
    with make_project(tmp_path / "p", n_samples=1, modalities=("unimodal",)) as project:
        ada = get_annotator(project, "Ada")
        listed_before = items(project, ada)[0]  # listed while current
        record_answer(project, ada, listed_before, "meaning_change", "3", rubric)
        _reask(project, listed_before)
        assert not listed_before.superseded  # a stale listing still says current
        with pytest.raises(PairSuperseded, match="replaced by a re-ask"):
            record_answer(project, ada, listed_before, "meaning_change", "5", rubric)
        # the study goes back to the rated pair: an item listed as superseded is rateable
        stale = replace(listed_before, superseded=True)
        choose_pair(project, stale.sample_id, "unimodal", stale.original_id, stale.attacked_id)
        require_current(project, stale)
        record_answer(project, ada, stale, "meaning_change", "5", rubric)
        assert answers_for(project, ada, stale, rubric, shown=False) == {"meaning_change": "5"}


def test_keeping_the_rated_pair_at_a_reask_keeps_it_rateable(tmp_path):
    rubric = load_rubric()
    with make_project(tmp_path / "p", n_samples=1, modalities=("unimodal",)) as project:
        ada = get_annotator(project, "Ada")
        rated = items(project, ada)[0]
        record_answer(project, ada, rated, "meaning_change", "3", rubric)
        keep_current(project, rated.sample_id, "unimodal")  # "Ask again, keep the rated pair"
        _reask(project, rated)
        assert [i.original_id for i in items(project, ada)] == [rated.original_id]
        record_answer(project, ada, rated, "meaning_change", "4", rubric)
        assert answers_for(project, ada, rated, rubric, shown=False) == {"meaning_change": "4"}


def test_a_journalled_answer_for_a_pair_superseded_since_is_set_aside_not_lost(tmp_path):
    rubric = load_rubric()
    with make_project(tmp_path / "p", n_samples=1, modalities=("unimodal",)) as project:
        ada = get_annotator(project, "Ada")
        item = items(project, ada)[0]
        record_answer(project, ada, item, "meaning_change", "3", rubric)
        AnswerQueue(project).put(ada, item, "meaning_change", "5", "original")  # then a kill
        _reask(project, item)
        before = _stored(project, ada)
        queue = AnswerQueue(project)  # the next start replays the journal
        stored, failed = queue.flush(rubric)
        assert stored == [] and queue.pending == []
        assert len(failed) == 1 and isinstance(failed[0][1], PairSuperseded)
        assert _stored(project, ada) == before
        assert not (project.root / JOURNAL).exists()
        (kept,) = [json.loads(line) for line in
                   (project.root / REJECTED).read_text(encoding="utf-8").splitlines()]
        assert (kept["key"], kept["value"], kept["original_id"]) == (
            "meaning_change", "5", item.original_id)
        assert "replaced by a re-ask" in kept["reason"] and "use-pair" in kept["reason"]


def test_skip_and_flag_refuse_a_superseded_pair_in_the_core(tmp_path):
    from harlab.rating.itemlog import set_flag, set_skip

    with make_project(tmp_path / "p", n_samples=1, modalities=("unimodal",)) as project:
        ada = get_annotator(project, "Ada")
        item = items(project, ada)[0]
        set_flag(project, ada, item, "check the label")  # current: allowed
        _reask(project, item)
        log = project.query("SELECT * FROM item_log ORDER BY rowid")
        for call in (lambda: set_skip(project, ada, item, "unclear"),
                     lambda: set_flag(project, ada, item, None)):
            with pytest.raises(PairSuperseded, match="replaced by a re-ask"):
                call()
        assert [dict(r) for r in project.query("SELECT * FROM item_log ORDER BY rowid")] == [
            dict(r) for r in log]


def test_cli_use_pair_makes_a_replaced_pair_current_and_rateable(tmp_path, capsys):
    from harlab.cli import main

    rubric = load_rubric()
    with make_project(tmp_path / "p", n_samples=1, modalities=("unimodal",)) as project:
        ada = get_annotator(project, "Ada")
        item = items(project, ada)[0]
        record_answer(project, ada, item, "meaning_change", "3", rubric)
        _reask(project, item)
        root = str(project.root)
    base = ["rate", "use-pair", "--project", root, "--sample", str(item.sample_id),
            "--modality", "unimodal"]
    assert main([*base, "--original", "999", "--attacked", str(item.attacked_id)]) == 2
    assert "request 999 is not an ok original unimodal answer" in capsys.readouterr().err
    assert main([*base, "--original", str(item.original_id), "--attacked",
                 str(item.attacked_id)]) == 0
    assert f"now uses answers {item.original_id} / {item.attacked_id}" in capsys.readouterr().out
    from harlab.store import Project

    with Project.open(root) as project:
        ada = get_annotator(project, "Ada")
        record_answer(project, ada, item, "meaning_change", "5", rubric)
        assert answers_for(project, ada, item, rubric, shown=False) == {"meaning_change": "5"}
