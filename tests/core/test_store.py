import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass

import pytest

from harlab import store
from harlab.errors import InputError, StoreError
from harlab.store import Project


def test_create_makes_layout_and_schema(tmp_path):
    with Project.create(tmp_path / "p") as project:
        for sub in ("frames", "checkpoints", "exports"):
            assert (project.root / sub).is_dir()
        assert project.schema_version == store.SCHEMA_VERSION
        mode = project.query_one("PRAGMA journal_mode")[0]
        assert mode == "wal"
        tables = {r[0] for r in project.query("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"runs", "samples", "llm_requests", "scores", "annotators", "ratings"} <= tables


def test_create_refuses_existing_project(tmp_path):
    Project.create(tmp_path).close()
    with pytest.raises(InputError, match="already a HARLab project"):
        Project.create(tmp_path)


def test_create_refuses_a_file(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    with pytest.raises(InputError, match="is a file"):
        Project.create(f)


def test_open_missing_and_non_project(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        Project.open(tmp_path / "nope")
    with pytest.raises(InputError, match="not a HARLab project"):
        Project.open(tmp_path)


def test_open_corrupt_database_leaves_it_untouched(tmp_path):
    (tmp_path / store.DB_NAME).write_bytes(b"this is not sqlite at all" * 100)
    before = (tmp_path / store.DB_NAME).read_bytes()
    with pytest.raises(StoreError, match="not a readable SQLite database"):
        Project.open(tmp_path)
    assert (tmp_path / store.DB_NAME).read_bytes() == before


def test_open_foreign_sqlite_database(tmp_path):
    conn = sqlite3.connect(tmp_path / store.DB_NAME)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a HARLab project"):
        Project.open(tmp_path)


def test_newer_schema_is_refused(tmp_path):
    Project.create(tmp_path).close()
    conn = sqlite3.connect(tmp_path / store.DB_NAME)
    conn.execute(f"PRAGMA user_version = {store.SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this HARLab understands"):
        Project.open(tmp_path)


def test_forward_migration_runs_on_open(tmp_path, monkeypatch):
    Project.create(tmp_path).close()
    extra = "CREATE TABLE extra_things (id INTEGER PRIMARY KEY, note TEXT);"
    migrations = [*store.MIGRATIONS, extra]
    monkeypatch.setattr(store, "MIGRATIONS", migrations)
    monkeypatch.setattr(store, "SCHEMA_VERSION", len(migrations))
    with Project.open(tmp_path) as project:
        assert project.schema_version == store.SCHEMA_VERSION
        project.insert("extra_things", note="kept")
    with Project.open(tmp_path) as project:
        assert project.query_one("SELECT note FROM extra_things")["note"] == "kept"


def test_failed_migration_changes_nothing(tmp_path, monkeypatch):
    Project.create(tmp_path).close()
    bad = "CREATE TABLE half (id INTEGER); THIS IS NOT SQL;"
    migrations = [*store.MIGRATIONS, bad]
    monkeypatch.setattr(store, "MIGRATIONS", migrations)
    monkeypatch.setattr(store, "SCHEMA_VERSION", len(migrations))
    with pytest.raises(StoreError, match="Nothing was changed"):
        Project.open(tmp_path)
    conn = sqlite3.connect(tmp_path / store.DB_NAME)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(store.MIGRATIONS) - 1
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "half" not in names
    conn.close()


def test_runs_record_config_and_result(tmp_path):
    @dataclass(frozen=True)
    class Cfg:
        eps: float = 0.03
        name: str = "fgsm"

    with Project.create(tmp_path) as project:
        run_id = project.start_run("attack", Cfg(), name="demo")
        project.finish_run(run_id, "done", result={"found": 3})
        row = project.runs("attack")[0]
        assert '"eps": 0.03' in row["config_json"]
        assert row["status"] == "done" and '"found": 3' in row["result_json"]
        with pytest.raises(InputError, match="run status must be"):
            project.finish_run(run_id, "finished")


def test_insert_rejects_bad_identifiers(tmp_path):
    with Project.create(tmp_path) as project, pytest.raises(InputError, match="SQL identifier"):
        project.insert("runs; DROP TABLE runs", kind="x")


def test_concurrent_writer_threads(tmp_path):
    project = Project.create(tmp_path)
    project.insert("annotators", name="seed", created_at=0.0)
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for i in range(50):
                project.insert("annotators", name=f"w{k}-{i}", created_at=float(i))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert project.query_one("SELECT count(*) FROM annotators")[0] == 201
    project.close()


def test_every_write_survives_a_killed_process(tmp_path):
    """A writer killed without closing anything loses nothing it had committed."""
    code = (
        "import os, sys\n"
        "from harlab.store import Project\n"
        f"p = Project.create({str(tmp_path)!r})\n"
        "p.insert('annotators', name='alice', created_at=1.0)\n"
        "aid = p.query_one('SELECT id FROM annotators')[0]\n"
        "p.insert('samples', video='a.avi', true_label='A', true_index=0, keyframes_json='[]',"
        " timestamps_json='[]', attack='fgsm', eps=0.1, clean_pred='A', clean_conf=0.9,"
        " adv_pred='B', adv_conf=0.8, clean_top5_json='[]', adv_top5_json='[]',"
        " clean_frames_json='[]', adv_frames_json='[]', created_at=1.0)\n"
        "for v in ('original', 'attacked'):\n"
        "    p.insert('llm_requests', cache_key=v, sample_id=1, modality='unimodal', variant=v,"
        " provider='builtin', model='m', request_json='{}', status='ok', created_at=1.0)\n"
        "p.insert('ratings', sample_id=1, modality='unimodal', annotator_id=aid, item='harm',"
        " value='4', original_response_id=1, attacked_response_id=2, rubric_version='1',"
        " created_at=1.0, updated_at=1.0)\n"
        "os._exit(9)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    with Project.open(tmp_path) as project:
        row = project.query_one("SELECT value FROM ratings")
        assert row["value"] == "4"
