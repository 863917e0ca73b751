"""Annotators, items, blind orders and answers: validated, committed at once, never lost."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from harlab.errors import InputError
from harlab.rating import (
    ItemFilter,
    RubricError,
    answers_for,
    blind_order,
    class_names,
    find_annotator,
    get_annotator,
    item_status,
    items,
    load_rubric,
    progress,
    record_answer,
    validate_name,
)
from harlab.rating.session import draw_order
from harlab.store import DB_NAME
from tests.core.test_rating_fixtures import add_answer, make_project

REPO = Path(__file__).resolve().parents[2]
FULL = {"action_correct.A": "yes", "action_correct.B": "no", "hazard.A": 1, "hazard.B": 4,
        "action_change": "major", "meaning_change": 5, "better_fit": "A"}


@pytest.fixture
def project(tmp_path):
    with make_project(tmp_path / "p") as p:
        yield p


def rate_fully(project, annotator, item, rubric, answers=FULL):
    for key, value in answers.items():
        record_answer(project, annotator, item, key, value, rubric)


def test_annotator_names_are_validated_and_reused(project):
    ann = get_annotator(project, "  Ada ")
    assert ann.name == "Ada" and get_annotator(project, "Ada") == ann
    assert find_annotator(project, "Ada") == ann
    for bad, message in (("", "1 to 64 characters"), ("x" * 65, "1 to 64"),
                         ("a\tb", "control characters"), (3, "must be text")):
        with pytest.raises(InputError, match=message):
            validate_name(bad)
    with pytest.raises(InputError, match="no annotator named 'Bob'.*known: Ada"):
        find_annotator(project, "Bob")


def test_items_and_filters(project):
    all_items = items(project)
    assert [(i.sample_id, i.modality) for i in all_items][:2] == [(1, "unimodal"),
                                                                  (1, "multimodal")]
    assert len(all_items) == 6 and class_names(project) == ["BabyCrawling", "Biking",
                                                            "CuttingInKitchen"]
    assert len(items(project, filters=ItemFilter(true_label="Biking"))) == 2
    assert {i.modality for i in items(project, filters=ItemFilter(modality="multimodal"))} == {
        "multimodal"}
    add_answer(project, 1, "unimodal", "attacked", "", status="failed")  # newest is failed
    assert len(items(project)) == 5
    with pytest.raises(InputError, match="modality filter must be one of"):
        ItemFilter(modality="audio")
    with pytest.raises(InputError, match="status filter 'rated' needs an annotator"):
        items(project, filters=ItemFilter(status="rated"))


def test_blind_order_is_seeded_stored_and_balanced(project):
    ann = get_annotator(project, "Ada")
    item = items(project)[0]
    first = blind_order(project, ann, item)
    assert first == draw_order(0, "Ada", item.sample_id, item.modality)[0]
    project.set_meta("study_seed", "99")  # a stored order is never redrawn
    assert blind_order(project, ann, item) == first
    draws = [draw_order(0, "Ada", s, m)[0] for s in range(400) for m in ("unimodal",
                                                                        "multimodal")]
    assert draws == [draw_order(0, "Ada", s, m)[0] for s in range(400) for m in ("unimodal",
                                                                               "multimodal")]
    assert 0.42 < draws.count("original") / len(draws) < 0.58
    other = [draw_order(0, "Bob", s, "unimodal")[0] for s in range(400)]
    assert other != draws[::2]
    assert [draw_order(1, "Ada", s, "unimodal")[0] for s in range(400)] != draws[::2]


def test_answers_are_unblinded_validated_and_committed(project):
    rubric = load_rubric()
    ann = get_annotator(project, "Ada")
    item = items(project)[0]
    a_is = blind_order(project, ann, item)
    b_is = "attacked" if a_is == "original" else "original"
    record_answer(project, ann, item, "hazard.A", 2, rubric)
    answer = record_answer(project, ann, item, "better_fit", "B", rubric)
    assert answer.item == "better_fit" and answer.value == b_is
    # another connection sees it at once: it is committed
    with contextlib.closing(sqlite3.connect(project.root / DB_NAME)) as other:
        stored = dict(other.execute("SELECT item, value FROM ratings").fetchall())
    assert stored == {f"hazard.{a_is}": "2", "better_fit": b_is}
    assert answers_for(project, ann, item, rubric) == {"hazard.A": "2", "better_fit": "B"}
    record_answer(project, ann, item, "hazard.A", 3, rubric)  # changing updates the same row
    assert answers_for(project, ann, item, rubric, shown=False)[f"hazard.{a_is}"] == "3"
    assert project.query_one("SELECT count(*) FROM ratings")[0] == 2
    record_answer(project, ann, item, "hazard.A", None, rubric)  # clearing deletes
    assert "hazard.A" not in answers_for(project, ann, item, rubric)
    with pytest.raises(RubricError, match="hazard: 9 is not an answer; expected one of 1, 2, 3"):
        record_answer(project, ann, item, "hazard.B", 9, rubric)
    with pytest.raises(RubricError, match="unknown rubric item 'colour'"):
        record_answer(project, ann, item, "colour", "red", rubric)


def test_status_and_progress(project):
    rubric = load_rubric()
    ann = get_annotator(project, "Ada")
    first, second = items(project)[:2]
    assert item_status(project, ann, first, rubric) == "unrated"
    rate_fully(project, ann, first, rubric)
    record_answer(project, ann, second, "meaning_change", 2, rubric)
    assert item_status(project, ann, first, rubric) == "rated"
    assert item_status(project, ann, second, rubric) == "partial"
    done = progress(project, ann, rubric)
    assert (done.rated, done.partial, done.total) == (1, 1, 6) and str(done) == "1 / 6 rated"
    keys = rubric.required_keys()
    assert items(project, ann, ItemFilter(status="rated"), keys) == [first]
    assert items(project, ann, ItemFilter(status="partial"), keys) == [second]
    assert len(items(project, ann, ItemFilter(status="unrated"), keys)) == 4
    with pytest.raises(InputError, match="progress counts every status"):
        progress(project, ann, rubric, ItemFilter(status="rated"))


def test_asking_again_makes_a_new_item_and_keeps_old_ratings(project):
    rubric = load_rubric()
    ann = get_annotator(project, "Ada")
    old = items(project)[0]
    rate_fully(project, ann, old, rubric)
    add_answer(project, old.sample_id, old.modality, "attacked", "a brand new answer")
    new = items(project)[0]
    assert new.key == old.key and new.attacked_id != old.attacked_id
    assert item_status(project, ann, new, rubric) == "unrated"
    assert len(answers_for(project, ann, old, rubric)) == len(FULL)
    assert project.query_one("SELECT count(*) FROM ratings WHERE attacked_response_id = ?",
                             (old.attacked_id,))[0] == len(FULL)


CHILD = """
import sys, time
from harlab.rating import get_annotator, items, load_rubric, record_answer
from harlab.store import Project

project = Project.open(sys.argv[1])
rubric, ann = load_rubric(), get_annotator(project, "Ada")
n = 0
for item in items(project):  # each answer written once, so the store can be checked exactly
    for key in ("hazard.A", "hazard.B", "meaning_change"):
        value = 1 + n % 5
        record_answer(project, ann, item, key, value, rubric)
        print(item.original_id, item.attacked_id, key, value, flush=True)
        n += 1
time.sleep(600)
"""


def test_sigkill_in_the_middle_of_rating_loses_no_committed_answer(tmp_path):
    make_project(tmp_path / "k", n_samples=30).close()  # 60 items, 180 answers to give
    project_root = tmp_path / "k"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(project_root)],
                             stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    printed = []
    try:
        for line in child.stdout:
            printed.append(line.split())
            if len(printed) == 25:
                os.kill(child.pid, signal.SIGKILL)
                break
    finally:
        child.kill()
        child.wait(timeout=30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL and len(printed) == 25
    from harlab.store import Project

    with Project.open(project_root) as reopened:
        assert reopened.query_one("PRAGMA integrity_check")[0] == "ok"
        rubric = load_rubric()
        ann = find_annotator(reopened, "Ada")
        by_pair = {(i.original_id, i.attacked_id): i for i in items(reopened)}
        for orig, att, key, value in printed:
            answers = answers_for(reopened, ann, by_pair[(int(orig), int(att))], rubric)
            assert answers[key] == value, (orig, att, key)
        assert 25 <= reopened.query_one("SELECT count(*) FROM ratings")[0] < 180


def test_next_unrated_wraps_and_rubric_defaults_to_the_projects(project):
    ann = get_annotator(project, "Ada")
    listed = items(project)
    rate_fully(project, ann, listed[1], None)  # rubric=None: the project's (bundled) rubric
    from harlab.rating import next_unrated

    assert next_unrated(project, ann, listed, load_rubric(), start=0) == 2
    assert next_unrated(project, ann, listed, load_rubric(), start=5) == 0
    for item in listed:
        rate_fully(project, ann, item, load_rubric())
    assert next_unrated(project, ann, listed, load_rubric()) is None
    assert progress(project, ann).rated == 6


def test_rating_core_imports_no_qt():
    code = ("import sys, harlab.rating, harlab.rating.reliability, harlab.cli.rate; "
            "print([m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph', 'ui'))])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    assert out.stdout.strip() == "[]"
