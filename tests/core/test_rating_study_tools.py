"""Issue 19 core: commit-reveal of the blind key, position bias, adjudication, skips and
flags, the unblinded mark, the sample-size planner, pending answers under a held lock."""

from __future__ import annotations

import csv
import json
import sqlite3
import time

import pytest

from harlab.errors import InputError
from harlab.rating import export_ratings, get_annotator, items, load_rubric, record_answer
from harlab.rating.adjudication import adjudicate
from harlab.rating.answers import next_unrated
from harlab.rating.bias import position_bias
from harlab.rating.commitment import commitment_root, verify_reveal
from harlab.rating.itemlog import add_time, item_log, set_blind_policy, set_flag, set_skip
from harlab.rating.pending import AnswerQueue
from harlab.rating.planner import plan_alpha, plan_difference
from harlab.rating.session import blind_order, commit_orders
from harlab.rating.tables import ratings_long
from harlab.rating.transfer import key_path
from harlab.study.export import export_study
from harlab.study.verify import VerifyReport, check_commitment
from tests.core.test_rating_fixtures import make_project


@pytest.fixture
def project(tmp_path):
    with make_project(tmp_path / "p", n_samples=3) as proj:
        yield proj


def test_commitment_verifies_and_a_tampered_key_fails(project, tmp_path):
    ada = get_annotator(project, "Ada")
    listed = items(project)
    assert commit_orders(project, ada, listed) == len(listed)
    root = commitment_root(project)
    assert root.n_keys == len(listed)
    record_answer(project, ada, listed[0], "meaning_change", "3")
    out = tmp_path / "ada.jsonl"
    export_ratings(project, out)
    revealed = json.loads(key_path(out).read_text(encoding="utf-8"))
    assert revealed["root"] == root.sha256 and verify_reveal(revealed, root.sha256) == []
    paths = export_study(project, tmp_path / "study")
    assert root.sha256 in paths["summary.md"].read_text(encoding="utf-8")
    report = VerifyReport()
    check_commitment(project, report)
    assert report.ok
    # a key changed after the commitment: the reveal and the store both fail verify
    revealed["keys"][0]["a_is"] = ("attacked" if revealed["keys"][0]["a_is"] == "original"
                                   else "original")
    assert any("does not match its commitment" in p for p in verify_reveal(revealed,
                                                                           root.sha256))
    first = listed[0]
    project.execute("UPDATE blind_orders SET a_is = CASE a_is WHEN 'original' THEN 'attacked' "
                    "ELSE 'original' END WHERE sample_id = ? AND modality = ?",
                    (first.sample_id, first.modality))
    check_commitment(project, report)
    assert not report.ok and "does not match its commitment" in report.differences[0]


def test_position_bias_per_annotator_with_exact_ci(project):
    ada = get_annotator(project, "Ada")
    for item in items(project):
        a_is = blind_order(project, ada, item)
        record_answer(project, ada, item, "better_fit", "A", a_is=a_is)  # always A
    (row,) = position_bias(project, load_rubric())
    assert row.annotator == "Ada" and row.n == 6 and row.n_a == 6 and row.share_a == 1.0
    assert row.ci_low == pytest.approx(0.5407, abs=1e-3) and row.ci_high == 1.0
    assert row.p_value == pytest.approx(2 / 64)
    assert "Clopper-Pearson" in row.method


def test_adjudicated_value_is_used_and_marked(project, tmp_path):
    rubric = load_rubric()
    item = items(project)[0]
    for name, value in (("Ada", "2"), ("Bob", "5")):
        record_answer(project, get_annotator(project, name), item, "meaning_change", value,
                      rubric)
    with pytest.raises(InputError, match="is not an answer"):
        adjudicate(project, rubric, sample_id=item.sample_id, modality=item.modality,
                   original_id=item.original_id, attacked_id=item.attacked_id,
                   item="meaning_change", value="9", adjudicator="Cy")
    adjudicate(project, rubric, sample_id=item.sample_id, modality=item.modality,
               original_id=item.original_id, attacked_id=item.attacked_id,
               item="meaning_change", value="4", adjudicator="Cy", reason="B reads as panic")
    paths = export_study(project, tmp_path / "out")
    with open(paths["evaluation.csv"], encoding="utf-8") as fh:
        row = next(csv.DictReader(fh))
    assert row["rating_meaning_change"] == "4" and row["rating_status"] == "adjudicated"
    assert row["rating_adjudicated"] == "meaning_change" and row["rating_n_annotators"] == "2"


def test_unblinded_ratings_are_marked_in_the_export(project):
    ada = get_annotator(project, "Ada")
    first, second = items(project)[:2]
    record_answer(project, ada, first, "meaning_change", "3")
    record_answer(project, ada, second, "meaning_change", "3", unblinded=True)
    marks = {r["sample_id"] * 10 + (r["modality"] == "multimodal"): r["unblinded"]
             for r in ratings_long(project)}
    assert sorted(marks.values()) == [False, True]
    set_blind_policy(project, "optional")
    with pytest.raises(InputError, match="blind policy must be one of locked, optional"):
        set_blind_policy(project, "off")


def test_skip_flag_and_time_per_item(project):
    ada = get_annotator(project, "Ada")
    listed = items(project)
    assert add_time(project, ada, listed[0], 2.5) and add_time(project, ada, listed[0], 1.0)
    set_skip(project, ada, listed[0], "answer cut off")
    set_flag(project, ada, listed[1], "A is in French")
    log = item_log(project, ada, listed[0])
    assert log.seconds == 3.5 and log.skipped and log.flag == "answer cut off"
    assert item_log(project, ada, listed[1]).flag == "A is in French"
    assert next_unrated(project, ada, listed, load_rubric()) == 1  # the skipped one is passed
    with pytest.raises(InputError, match="needs a reason"):
        set_flag(project, ada, listed[1], "  ")


def test_planner_alpha_by_simulation_and_difference_by_formula():
    rows = plan_alpha(0.7, 0.15, annotators=(2, 3), n_sim=60)
    assert [r.annotators for r in rows] == [2, 3] and all(r.items for r in rows)
    assert rows[1].items <= rows[0].items and "simulation" in rows[0].method
    diff = plan_difference(0.25, 1.0, 0.8, annotators=(2,))
    assert diff[0].items == 104 and diff[0].half_width <= 0.25 and "t(0.975" in diff[0].method
    with pytest.raises(InputError, match="expected alpha must be a number in"):
        plan_alpha(1.5, 0.1)


def test_a_held_lock_keeps_the_answer_pending_then_stores_it(project):
    ada = get_annotator(project, "Ada")
    item = items(project)[0]
    blind_order(project, ada, item)
    rubric = load_rubric()
    other = sqlite3.connect(project.db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    queue = AnswerQueue(project)
    queue.put(ada, item, "meaning_change", "3", "original")
    started = time.monotonic()
    stored, failed = queue.flush(rubric)
    assert time.monotonic() - started < 1.0 and not stored and len(failed) == 1
    assert AnswerQueue(project).pending  # journalled on disk: a kill would not lose it
    other.execute("COMMIT")
    other.close()
    stored, failed = AnswerQueue(project).flush(rubric)
    assert len(stored) == 1 and not failed
    assert project.query_one("SELECT value FROM ratings")["value"] == "3"
    assert not AnswerQueue(project).pending


def test_unblinded_marks_travel_with_an_export(project, tmp_path):
    from harlab.rating import import_ratings

    ada = get_annotator(project, "Ada")
    record_answer(project, ada, items(project)[0], "meaning_change", "3", unblinded=True)
    export_ratings(project, tmp_path / "ada.csv")
    with make_project(tmp_path / "other", n_samples=3) as other:
        report = import_ratings(other, tmp_path / "ada.csv", load_rubric())
        assert report.imported == 1
        assert [r["unblinded"] for r in ratings_long(other)] == [True]


def test_cli_setup_plan_and_verify_key(project, tmp_path, capsys):
    from harlab.cli import main

    root = str(project.root)
    ada = get_annotator(project, "Ada")
    commit_orders(project, ada, items(project))
    record_answer(project, ada, items(project)[0], "better_fit", "A")
    export_ratings(project, tmp_path / "r.jsonl")
    published = commitment_root(project).sha256
    assert main(["rate", "setup", "--project", root, "--blind", "optional"]) == 0
    assert main(["rate", "verify-key", str(key_path(tmp_path / "r.jsonl")), "--root",
                 published]) == 0
    assert main(["rate", "agreement", "--project", root, "--boot", "0"]) == 0
    assert "position bias" in capsys.readouterr().out
    revealed = json.loads(key_path(tmp_path / "r.jsonl").read_text(encoding="utf-8"))
    revealed["keys"][1]["a_is"] = ("attacked" if revealed["keys"][1]["a_is"] == "original"
                                   else "original")
    key_path(tmp_path / "t.jsonl").write_text(json.dumps(revealed), encoding="utf-8")
    assert main(["rate", "verify-key", str(key_path(tmp_path / "t.jsonl")), "--root",
                 published]) == 1
    assert "does not match its commitment" in capsys.readouterr().out
    assert main(["rate", "plan", "--target", "difference", "--half-width", "0.25"]) == 0
    out = capsys.readouterr().out
    assert "t(0.975" in out and "104" in out


def test_a_refused_pending_answer_is_set_aside_not_lost(project):
    from harlab.rating.pending import REJECTED

    ada = get_annotator(project, "Ada")
    item = items(project)[0]
    queue = AnswerQueue(project)
    queue.put(ada, item, "meaning_change", "9", "original")  # not a point of the scale
    stored, failed = queue.flush(load_rubric())
    assert not stored and len(failed) == 1 and not queue.pending
    kept = [json.loads(line) for line in
            (project.root / REJECTED).read_text(encoding="utf-8").splitlines()]
    assert kept[0]["value"] == "9" and "is not an answer" in kept[0]["reason"]
