"""The one read-only opener: no side files beside a closed project, commits in a -wal read."""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from harlab.errors import InputError, StoreError
from harlab.rating.transfer import read_rows
from harlab.store import DB_NAME, Project, open_read_only

SIDE_FILES = ("-wal", "-shm", "-journal")


def _side_files(db: Path) -> list[str]:
    return [db.name + s for s in SIDE_FILES if db.with_name(db.name + s).exists()]


def _closed_project(root: Path) -> Path:
    with Project.create(root) as project:
        project.set_meta("note", "kept")
    db = root / DB_NAME
    assert _side_files(db) == []  # the last connection folded the WAL in and removed it
    return db


def test_a_closed_project_is_read_without_creating_side_files(tmp_path):
    db = _closed_project(tmp_path / "p")
    with closing(open_read_only(db)) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'note'").fetchone() == ("kept",)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("INSERT INTO meta (key, value) VALUES ('x', 'y')")
    assert _side_files(db) == []


def test_commits_still_in_the_wal_are_read(tmp_path):
    with Project.create(tmp_path / "p") as writer:
        writer.conn().execute("PRAGMA wal_autocheckpoint = 0")  # the commit stays in the -wal
        writer.set_meta("note", "only in the wal")
        db = writer.db_path
        assert db.with_name(db.name + "-wal").stat().st_size > 0
        with closing(open_read_only(db)) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'note'").fetchone()
        assert row == ("only in the wal",)


def test_a_missing_database_is_an_sqlite_error(tmp_path):
    with pytest.raises(sqlite3.OperationalError, match="unable to open"):
        open_read_only(tmp_path / "absent.sqlite")


def test_opening_a_foreign_wal_database_leaves_it_byte_for_byte(tmp_path):
    root = tmp_path / "other"
    root.mkdir()
    db = root / DB_NAME
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.commit()
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    with pytest.raises(StoreError, match="not a HARLab project"):
        Project.open(root)
    assert _side_files(db) == []
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_importing_from_a_project_folder_creates_no_side_files(tmp_path):
    db = _closed_project(tmp_path / "copy")
    assert read_rows(tmp_path / "copy") == []
    assert _side_files(db) == []


def test_an_unreadable_project_file_is_an_input_error_on_import(tmp_path):
    root = tmp_path / "copy"
    root.mkdir()
    (root / DB_NAME).write_bytes(b"not a database at all, just text" * 4)
    with pytest.raises(InputError, match="not a readable SQLite database"):
        read_rows(root)
