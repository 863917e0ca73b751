"""``harlab rate export|import|agreement`` through ``harlab.cli.main``."""

from __future__ import annotations

import json
import shutil

from harlab.cli import main
from harlab.rating import ratings_long
from harlab.store import Project
from tests.core.test_rating_fixtures import make_project
from tests.core.test_rating_transfer import rate_all


def test_export_import_agreement(tmp_path, capsys):
    make_project(tmp_path / "ada", n_samples=3).close()
    shutil.copytree(tmp_path / "ada", tmp_path / "bob")
    with Project.open(tmp_path / "ada") as ada:
        rate_all(ada, "Ada", {"meaning_change": lambda n: 1 + n % 5})
    with Project.open(tmp_path / "bob") as bob:
        rate_all(bob, "Bob", {"meaning_change": lambda n: 1 + (n * 2) % 5})
    out = tmp_path / "bob.jsonl"
    assert main(["rate", "export", "--project", str(tmp_path / "bob"), "--annotator", "Bob",
                 "--out", str(out)]) == 0
    assert "exported 42 ratings (Bob)" in capsys.readouterr().out
    assert len(out.read_text().splitlines()) == 42
    assert main(["rate", "import", "--project", str(tmp_path / "ada"), str(out)]) == 0
    assert "42 rows, 42 imported, 0 replaced, 0 duplicates" in capsys.readouterr().out
    assert main(["rate", "import", "--project", str(tmp_path / "ada"),
                 str(tmp_path / "bob")]) == 0
    printed = capsys.readouterr().out
    assert "0 imported" in printed and "42 duplicates" in printed
    assert "bob rating 1: duplicate: Bob / " in printed
    assert main(["rate", "agreement", "--project", str(tmp_path / "ada"), "--boot", "50"]) == 0
    table = capsys.readouterr().out
    assert "annotators: Ada, Bob" in table and "meaning_change" in table and "overall" in table
    assert "most disagreement (adjudicate first):" in table
    assert "every rating is the same category" in table  # e.g. action_change: all 'minor'
    assert main(["rate", "agreement", "--project", str(tmp_path / "ada"), "--item", "hazard",
                 "--boot", "0"]) == 0
    table = capsys.readouterr().out
    assert "hazard.original" in table and "meaning_change" not in table
    with Project.open(tmp_path / "ada") as ada:
        assert {r["annotator"] for r in ratings_long(ada)} == {"Ada", "Bob"}


def test_errors_exit_2_with_the_message(tmp_path, capsys):
    make_project(tmp_path / "p", n_samples=1).close()
    assert main(["rate", "export", "--project", str(tmp_path / "p"), "--annotator", "Zed",
                 "--out", str(tmp_path / "z.jsonl")]) == 2
    assert "no annotator named 'Zed'" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"annotator": "x"}) + "\n")
    assert main(["rate", "import", "--project", str(tmp_path / "p"), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "1 of 1 rows cannot be imported" in err and "line 1: garbage: missing video" in err
    assert main(["rate", "agreement", "--project", str(tmp_path / "p"), "--item", "x"]) == 2
    assert "no comparable rubric item 'x'" in capsys.readouterr().err
    assert main(["rate"]) == 2
