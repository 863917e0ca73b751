"""A project database that SQLite finds damaged in the middle of a command gives one line that
names the file and what to do, never "unexpected error: DatabaseError"."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from harlab.cli import main
from tests.core.test_rating_fixtures import make_project


def _damage_table(db: Path, table: str) -> None:
    """Overwrite the root pages of ``table`` and its indexes with garbage (the schema page
    stays readable)."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        roots = [r[0] for r in conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE tbl_name = ? AND rootpage > 0", (table,))]
    conn.close()
    data = bytearray(db.read_bytes())
    for root in roots:  # the table and its indexes (a count may read an index alone)
        start = (root - 1) * page_size
        data[start:start + page_size] = bytes((i * 37 + 11) % 256 for i in range(page_size))
    db.write_bytes(bytes(data))


@pytest.mark.parametrize("argv", [["project", "info", "{p}"], ["results", "--project", "{p}"],
                                  ["score", "--project", "{p}"]])
def test_damaged_table_is_named_with_the_fix(tmp_path: Path, capsys, argv):
    project = make_project(tmp_path / "p", n_samples=3)
    project.close()
    db = tmp_path / "p" / "project.sqlite"
    _damage_table(db, "samples")
    rc = main([a.format(p=tmp_path / "p") for a in argv])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "unexpected error" not in err
    assert f"'{db}' is damaged" in err and "Restore it from a backup" in err
