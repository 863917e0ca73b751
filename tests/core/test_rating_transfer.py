"""Two annotators rate copies of one project blind, then merge: duplicates, conflicts, errors."""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harlab.errors import InputError
from harlab.rating import (
    LONG_COLUMNS,
    RatingImportError,
    export_ratings,
    get_annotator,
    import_ratings,
    items,
    load_rubric,
    meaning_change,
    rating_summary,
    ratings_long,
    record_answer,
)
from harlab.store import Project
from tests.core.test_rating_fixtures import add_answer, make_project

ANSWERS = {"action_correct.A": "yes", "action_correct.B": "no", "hazard.A": 2, "hazard.B": 4,
           "action_change": "minor", "meaning_change": 4, "better_fit": "tie"}


def rate_all(project, name, overrides=None, note=None):
    rubric = load_rubric()
    ann = get_annotator(project, name)
    for n, item in enumerate(items(project)):
        for key, value in {**ANSWERS, **(overrides or {})}.items():
            record_answer(project, ann, item, key, value(n) if callable(value) else value,
                          rubric)
        if note is not None:
            record_answer(project, ann, item, "notes", note, rubric)


@pytest.fixture
def two_copies(tmp_path):
    """``(ada_project, bob_project_dir)``: one study, copied, rated by Ada and by Bob."""
    make_project(tmp_path / "ada", n_samples=2).close()
    shutil.copytree(tmp_path / "ada", tmp_path / "bob")
    with Project.open(tmp_path / "bob") as bob:
        rate_all(bob, "Bob", {"meaning_change": lambda n: 1 + n})
    ada = Project.open(tmp_path / "ada")
    rate_all(ada, "Ada")
    yield ada, tmp_path / "bob"
    ada.close()


def note_all(project, name, note):
    """``name`` writes only a note, ``note``, on every item."""
    rubric = load_rubric()
    ann = get_annotator(project, name)
    for item in items(project):
        record_answer(project, ann, item, "notes", note, rubric)


def notes_of(project):
    return {(r["annotator"], r["sample_id"], r["modality"]): r["value"]
            for r in ratings_long(project) if r["item"] == "notes"}


def count(project):
    return project.query_one("SELECT count(*) FROM ratings")[0]


def test_export_is_long_form_with_the_blind_order_revealed(two_copies, tmp_path):
    ada, _ = two_copies
    assert export_ratings(ada, tmp_path / "ada.jsonl", "Ada") == 4 * 7
    rows = [json.loads(line) for line in (tmp_path / "ada.jsonl").read_text().splitlines()]
    assert set(rows[0]) == set(LONG_COLUMNS) and rows[0]["annotator"] == "Ada"
    assert {r["a_is"] for r in rows} <= {"original", "attacked"}
    assert {r["item"] for r in rows} >= {"hazard.original", "hazard.attacked", "better_fit"}
    better = [r for r in rows if r["item"] == "better_fit"]
    assert {r["value"] for r in better} == {"tie"}
    hazard = {(r["sample_id"], r["modality"], r["item"]): r["value"] for r in rows}
    for r in rows:  # "hazard.A" = 2 was stored under whichever answer A was
        if r["item"] == "hazard.original":
            assert r["value"] == ("2" if r["a_is"] == "original" else "4")
    assert len(hazard) == len(rows)
    assert rows == ratings_long(ada, "Ada")


def test_merge_from_file_then_duplicates_and_conflicts(two_copies, tmp_path):
    ada, bob_dir = two_copies
    with Project.open(bob_dir) as bob:
        export_ratings(bob, tmp_path / "bob.jsonl", "Bob")
    rubric = load_rubric()
    report = import_ratings(ada, tmp_path / "bob.jsonl", rubric)
    assert (report.rows, report.imported, len(report.duplicates)) == (28, 28, 0)
    assert count(ada) == 56
    assert {r["annotator"] for r in ratings_long(ada)} == {"Ada", "Bob"}
    again = import_ratings(ada, tmp_path / "bob.jsonl", rubric)
    assert again.imported == 0 and len(again.duplicates) == 28
    assert str(again.duplicates[0]).startswith("line 1: duplicate: Bob / ")
    with Project.open(bob_dir) as bob:  # Bob changes one answer in his copy
        rate_all(bob, "Bob", {"meaning_change": lambda n: 5})
    kept = import_ratings(ada, bob_dir, rubric)  # straight from the project copy
    assert kept.imported == 0 and len(kept.conflicts) == 4 and kept.replaced == 0
    assert "here '2', imported '5'; kept the value here" in str(kept.conflicts[0])
    assert bob_dir.name in kept.conflicts[0].row
    replaced = import_ratings(ada, bob_dir, rubric, on_conflict="replace")
    assert replaced.replaced == 4
    bob_meaning = [r["value"] for r in ratings_long(ada, "Bob") if r["item"] == "meaning_change"]
    assert bob_meaning == ["5"] * 4


def test_summary_and_meaning_change_use_current_answers(two_copies, tmp_path):
    ada, bob_dir = two_copies
    rubric = load_rubric()
    import_ratings(ada, bob_dir, rubric)
    summary = rating_summary(ada, rubric)
    first = summary[(1, "unimodal")]
    assert first["rating_n_annotators"] == 2
    assert first["rating_meaning_change"] == pytest.approx((4 + 1) / 2)
    assert first["rating_action_change"] == "minor" and first["rating_better_fit"] == "tie"
    assert "rating_notes" not in first
    assert meaning_change(ada, rubric)[(2, "multimodal")] == pytest.approx((4 + 4) / 2)
    add_answer(ada, 1, "unimodal", "attacked", "asked again")  # old ratings no longer current
    assert (1, "unimodal") not in rating_summary(ada, rubric)
    assert sum(not r["current"] for r in ratings_long(ada)) == 14


def test_csv_round_trip_keeps_formula_like_text(two_copies, tmp_path):
    ada, bob_dir = two_copies
    with Project.open(bob_dir) as bob:
        rate_all(bob, "Bob", note="=HYPERLINK(\"x\")")
        rate_all(bob, "Carol", note="'quoted")
        export_ratings(bob, tmp_path / "bob.csv")
    with (tmp_path / "bob.csv").open(newline="", encoding="utf-8") as fh:
        notes = {r["value"] for r in csv.DictReader(fh) if r["item"] == "notes"}
    assert notes == {"'=HYPERLINK(\"x\")", "''quoted"}
    report = import_ratings(ada, tmp_path / "bob.csv", load_rubric())
    assert report.imported == 2 * 4 * 8
    notes = {r["value"] for r in ratings_long(ada) if r["item"] == "notes"}
    assert notes == {"=HYPERLINK(\"x\")", "'quoted"}


def test_bad_rows_are_reported_row_by_row_and_nothing_is_imported(two_copies, tmp_path):
    ada, bob_dir = two_copies
    with Project.open(bob_dir) as bob:
        rows = ratings_long(bob, "Bob")[:3]
    bad = [
        json.dumps(rows[0]),
        "{not json",
        json.dumps({**rows[1], "rubric_version": "0"}),
        json.dumps({**rows[2], "video": "Nowhere/v_x.avi"}),
        json.dumps({**rows[0], "value": "11"}),
        json.dumps({**rows[0], "attacked_sha256": "0" * 64}),
        json.dumps([1, 2]),
        json.dumps({k: v for k, v in rows[0].items() if k != "annotator"}),
    ]
    (tmp_path / "bad.jsonl").write_text("\n".join(bad) + "\n")
    before = count(ada)
    with pytest.raises(RatingImportError, match="7 of 8 rows cannot be imported") as info:
        import_ratings(ada, tmp_path / "bad.jsonl", load_rubric())
    message = str(info.value)
    assert "line 2: garbage: not JSON" in message
    assert "line 3: version: rated under rubric version '0'; this project uses version '1'" \
        in message
    assert "line 4: unknown: no multimodal answers of 'Nowhere/v_x.avi'" in message
    assert "line 5: garbage: " in message and "is not an answer" in message
    assert "line 6: unknown:" in message and "line 7: garbage: expected an object" in message
    assert "line 8: garbage: missing annotator" in message and "line 1:" not in message
    assert [e.row for e in info.value.report.errors][:2] == ["line 2", "line 3"]
    assert count(ada) == before and ada.query_one(
        "SELECT count(*) FROM annotators WHERE name = 'Bob'")[0] == 0


def test_a_failure_while_writing_rolls_back_every_row(two_copies, tmp_path):
    ada, bob_dir = two_copies
    before = count(ada)
    ada.execute("CREATE TRIGGER boom BEFORE INSERT ON ratings WHEN NEW.item = 'better_fit' "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    with pytest.raises(sqlite3.IntegrityError, match="disk full"):
        import_ratings(ada, bob_dir, load_rubric())
    assert count(ada) == before
    assert ada.query_one("SELECT count(*) FROM annotators WHERE name = 'Bob'")[0] == 0


def test_source_errors(two_copies, tmp_path):
    ada, _ = two_copies
    rubric = load_rubric()
    with pytest.raises(InputError, match="does not exist"):
        import_ratings(ada, tmp_path / "missing.jsonl", rubric)
    with pytest.raises(InputError, match=r"suffix '.txt'; expected .jsonl or .csv"):
        import_ratings(ada, tmp_path / "x.txt", rubric)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a HARLab project"):
        import_ratings(ada, tmp_path / "empty", rubric)
    with pytest.raises(InputError, match="is this project itself"):
        import_ratings(ada, ada.root, rubric)
    with pytest.raises(InputError, match="on_conflict must be one of keep, replace"):
        import_ratings(ada, ada.root, rubric, on_conflict="merge")
    with pytest.raises(InputError, match="suffix '.xlsx'"):
        export_ratings(ada, tmp_path / "out.xlsx")


def test_meaning_change_needs_a_likert_item(tmp_path):
    from harlab.rating import parse_rubric

    rubric = parse_rubric('version: "1"\nitems:\n  - {id: ok, type: yes_no, prompt: Fine}\n')
    with make_project(tmp_path / "p", n_samples=1) as project:
        with pytest.raises(InputError, match="no likert item 'meaning_change'"):
            meaning_change(project, rubric)
        assert rating_summary(project, rubric) == {}


# Characters str.splitlines() breaks lines at (and csv quotes), in the places a note holds them.
AWKWARD_NOTES = [
    "first line\nsecond line", "windows\r\nline end", "old mac\rline end", "ends in\n",
    "\nstarts with a newline", "line\u2028separator", "paragraph\u2029separator",
    "next\x85line", "form\x0cfeed", "vertical\x0btab", "file\x1cgroup\x1drecord\x1e",
    "a \"quoted\", comma", "'=formula\n+more", "  padded  ", "nul\x00byte",
    "brackets " + "[{" * 30 + " back\\slash\\\" \\", "digits " + "1234567890" * 10,
]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_round_trip_returns_every_note_byte_for_byte(tmp_path, suffix):
    make_project(tmp_path / "ada", n_samples=1).close()
    shutil.copytree(tmp_path / "ada", tmp_path / "bob")
    with Project.open(tmp_path / "bob") as bob:
        for n, note in enumerate(AWKWARD_NOTES):
            note_all(bob, f"Rater {n}", note)
        sent = notes_of(bob)
        assert export_ratings(bob, tmp_path / f"bob{suffix}") == 2 * len(AWKWARD_NOTES)
    with Project.open(tmp_path / "ada") as ada:
        report = import_ratings(ada, tmp_path / f"bob{suffix}", load_rubric())
        assert report.imported == 2 * len(AWKWARD_NOTES)
        assert notes_of(ada) == sent
        assert sorted(set(sent.values())) == sorted(AWKWARD_NOTES)


@pytest.fixture(scope="module")
def note_pair(tmp_path_factory):
    """``(ada, bob, folder)``: copies of one single-sample study; Bob only writes notes."""
    root = tmp_path_factory.mktemp("note_pair")
    make_project(root / "ada", n_samples=1).close()
    shutil.copytree(root / "ada", root / "bob")
    with Project.open(root / "ada") as ada, Project.open(root / "bob") as bob:
        yield ada, bob, root


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(note=st.text(min_size=1))
def test_any_note_survives_export_and_import_byte_for_byte(note_pair, note):
    ada, bob, root = note_pair
    rubric = load_rubric()
    ann = get_annotator(bob, "Bob")
    record_answer(bob, ann, items(bob)[0], "notes", note, rubric)
    for suffix in (".csv", ".jsonl"):
        export_ratings(bob, root / f"bob{suffix}", "Bob")
        import_ratings(ada, root / f"bob{suffix}", rubric, on_conflict="replace")
        got = [r["value"] for r in ratings_long(ada, "Bob") if r["item"] == "notes"]
        assert got == [note], suffix
