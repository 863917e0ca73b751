"""Hostile rating imports (issue 17): every bad row is listed by number, nothing is imported,
the source is never written, and bad ``harlab rate`` options are refused with a clear message.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import shutil
import sqlite3

import pytest

from harlab.cli import main
from harlab.errors import InputError
from harlab.rating import RatingImportError, import_ratings, load_rubric, ratings_long
from harlab.store import DB_NAME, Project
from tests.core.test_rating_fixtures import make_project
from tests.core.test_rating_transfer import rate_all


@pytest.fixture
def study(tmp_path):
    """``(ada_dir, bob_dir, bob_rows)``: one study copied twice; Bob rated his copy."""
    make_project(tmp_path / "ada", n_samples=1).close()
    shutil.copytree(tmp_path / "ada", tmp_path / "bob")
    with Project.open(tmp_path / "bob") as bob:
        rate_all(bob, "Bob", note="looks fine")
        rows = ratings_long(bob, "Bob")
    return tmp_path / "ada", tmp_path / "bob", rows


def ratings_in(project_dir):
    with Project.open(project_dir) as project:
        return project.query_one("SELECT count(*) FROM ratings")[0]


def import_cli(project_dir, source, capsys):
    """``(exit status, stderr)`` of ``harlab rate import``."""
    status = main(["rate", "import", "--project", str(project_dir), str(source)])
    return status, capsys.readouterr().err


# ---------------------------------------------------------------------- hostile rows
def test_hostile_json_rows_are_listed_by_number_and_nothing_is_imported(study, tmp_path,
                                                                         capsys):
    ada_dir, _, rows = study
    good = rows[0]
    lines = [
        json.dumps(good),                                         # 1: fine on its own
        json.dumps({**good, "video": {"path": "x.avi"}}),         # 2: an object
        json.dumps({**good, "attack": ["fgsm", "pgd"]}),          # 3: a list
        json.dumps({**good, "eps": 0}).replace('"eps": 0', '"eps": ' + "9" * 5000),  # 4
        '{"video": ' + "[" * 100_000 + "]" * 100_000 + "}",      # 5: 100,000 deep
        json.dumps({**good, "eps": 10 ** 400}),                   # 6: overflows a float
        json.dumps({**good, "video": "v" * 200_000}),             # 7: a 200 KB string
        json.dumps({**good, "created_at": 10 ** 400}),            # 8: overflows a float
        json.dumps({**good, "value": [[[[1]]]]}),                 # 9: nested, shallow
        json.dumps({**good, "original_sha256": "not a hash"}),    # 10
        json.dumps({**good, "annotator": True}),                  # 11
    ]
    source = tmp_path / "hostile.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = ratings_in(ada_dir)
    status, err = import_cli(ada_dir, source, capsys)
    assert status == 2 and "unexpected error" not in err
    assert "10 of 11 rows cannot be imported, so nothing was imported" in err
    assert "line 1:" not in err
    assert "line 2: garbage: video: expected text, got an object" in err
    assert "line 3: garbage: attack: expected text, got a list" in err
    assert "line 4: garbage: eps: expected a number of at most 40 characters, got a number " \
           "of 5000 characters" in err
    assert "line 5: garbage: JSON nested more than 20 levels deep" in err
    assert "line 6: garbage: eps: expected a number of at most 40 characters, got a number " \
           "of 401 characters" in err
    assert "line 7: garbage: video: expected text of at most 500 characters, got text of " \
           "200000 characters" in err
    assert "line 8: garbage: created_at: expected a number of at most 40 characters" in err
    assert "line 9: garbage: value: expected text or a number, got a list" in err
    assert "line 10: garbage: original_sha256: expected 64 hexadecimal digits (a SHA-256), " \
           "got 'not a hash'" in err
    assert "line 11: garbage: annotator: expected text, got true/false" in err
    assert len(err) < 10_000  # no 200 KB value echoed back
    assert ratings_in(ada_dir) == before


def test_every_problem_of_a_row_is_named(study, tmp_path):
    ada_dir, _, rows = study
    source = tmp_path / "two.jsonl"
    source.write_text(json.dumps({**rows[0], "video": {}, "attack": [], "eps": "x"}) + "\n",
                      encoding="utf-8")
    with Project.open(ada_dir) as ada, pytest.raises(RatingImportError) as info:
        import_ratings(ada, source, load_rubric())
    (note,) = info.value.report.errors
    assert note.row == "line 1" and note.kind == "garbage"
    assert note.message == ("video: expected text, got an object; attack: expected text, got "
                            "a list; eps: expected a finite number, got 'x'")


def write_csv(path, rows):
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_a_200_kb_csv_cell_is_reported_by_row(study, tmp_path, capsys):
    ada_dir, _, rows = study
    source = tmp_path / "big.csv"
    write_csv(source, [rows[0], {**rows[1], "value": "x" * 200_000}, rows[2]])
    before = ratings_in(ada_dir)
    status, err = import_cli(ada_dir, source, capsys)
    assert status == 2 and "unexpected error" not in err
    assert "1 of 2 rows cannot be imported" in err
    assert ("row 3: garbage: not readable as CSV (field larger than field limit (131072)); "
            "a cell holds at most 131072 characters. Reading stopped at this row") in err
    assert ratings_in(ada_dir) == before


def test_long_csv_cells_under_the_csv_limit_are_bounded_too(study, tmp_path, capsys):
    ada_dir, _, rows = study
    note = next(r for r in rows if r["item"] == "notes")
    source = tmp_path / "long.csv"
    write_csv(source, [{**rows[0], "video": "v" * 100_000}, {**note, "value": "n" * 100_000},
                       {**rows[1], "eps": "9" * 5000}])
    status, err = import_cli(ada_dir, source, capsys)
    assert status == 2 and "unexpected error" not in err
    assert "row 2: garbage: video: expected text of at most 500 characters, got text of " \
           "100000 characters" in err
    assert "row 3: garbage: value: expected text of at most 10000 characters, got text of " \
           "100000 characters" in err
    assert "row 4: garbage: eps: expected a number of at most 40 characters, got text of " \
           "5000 characters" in err
    assert len(err) < 10_000


def test_a_csv_row_with_more_cells_than_the_header_is_garbage(study, tmp_path):
    ada_dir, _, rows = study
    source = tmp_path / "extra.csv"
    write_csv(source, [rows[0]])
    with source.open("a", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerow([*rows[1].values(), "surprise"])
    with Project.open(ada_dir) as ada, pytest.raises(RatingImportError) as info:
        import_ratings(ada, source, load_rubric())
    assert [str(e) for e in info.value.report.errors] == [
        f"row 3: garbage: {len(rows[1]) + 1} cells; the header names {len(rows[1])} columns"]


# ---------------------------------------------------------------------- the source is read only
def snapshot(folder):
    """Every file and folder under ``folder`` with its size and SHA-256."""
    return {p.relative_to(folder).as_posix(): (p.is_dir(), p.is_file() and p.stat().st_size,
                                              p.is_file() and hashlib.sha256(
                                                  p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*"))}


def test_an_empty_project_database_in_the_source_is_left_empty(study, tmp_path):
    ada_dir, _, _ = study
    source = tmp_path / "unfinished"
    source.mkdir()
    (source / DB_NAME).touch()
    with Project.open(ada_dir) as ada, pytest.raises(InputError) as info:
        import_ratings(ada, source, load_rubric())
    assert str(source) in str(info.value) and "is not a HARLab project" in str(info.value)
    assert "empty" in str(info.value)
    assert snapshot(source) == {DB_NAME: (False, 0, hashlib.sha256(b"").hexdigest())}


def test_importing_from_a_project_copy_writes_nothing_there(study):
    ada_dir, bob_dir, rows = study
    before = snapshot(bob_dir)
    with Project.open(ada_dir) as ada:
        assert import_ratings(ada, bob_dir, load_rubric()).imported == len(rows)
    assert snapshot(bob_dir) == before


def write_garbage(db):
    db.write_bytes(b"this is not a database" * 100)


def write_foreign(db):
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.executescript("CREATE TABLE t (x); PRAGMA user_version = 3;")


@pytest.mark.parametrize("make, expected", [
    (write_garbage, "is not a readable SQLite database"),
    (write_foreign, "is an SQLite database but not a HARLab project"),
])
def test_a_source_that_is_not_a_project_is_refused_untouched(study, tmp_path, make, expected):
    ada_dir, _, _ = study
    source = tmp_path / "foreign"
    source.mkdir()
    make(source / DB_NAME)
    before = snapshot(source)
    with Project.open(ada_dir) as ada, pytest.raises(InputError, match=expected) as info:
        import_ratings(ada, source, load_rubric())
    assert str(source / DB_NAME) in str(info.value)
    assert snapshot(source) == before


def test_a_source_from_a_newer_harlab_is_refused(study):
    ada_dir, bob_dir, _ = study
    with Project.open(bob_dir) as bob:
        newer = bob.schema_version + 1
        bob.execute(f"PRAGMA user_version = {newer}")
    with Project.open(ada_dir) as ada, pytest.raises(
            InputError, match=f"has schema version {newer}, newer than this HARLab"):
        import_ratings(ada, bob_dir, load_rubric())


# ---------------------------------------------------------------------- options
@pytest.mark.parametrize("option, value, expected", [
    ("--seed", "-1", "--seed must be an integer in [0, 2**63 - 1], got -1"),
    ("--seed", str(2 ** 63), f"--seed must be an integer in [0, 2**63 - 1], got {2 ** 63}"),
    ("--boot", "-5", "--boot must be an integer in [0, 100000] (0: no CI), got -5"),
    ("--boot", "1000001", "--boot must be an integer in [0, 100000] (0: no CI), got 1000001"),
    ("--top", "-1", "--top must be an integer in [0, 10000], got -1"),
])
def test_bad_numeric_options_are_refused_clearly(study, capsys, option, value, expected):
    ada_dir, _, _ = study
    status = main(["rate", "agreement", "--project", str(ada_dir), option, value])
    err = capsys.readouterr().err
    assert status == 2 and "unexpected error" not in err
    assert expected in err
