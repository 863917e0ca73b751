"""The project store: one folder, one SQLite database, lossless frames and checkpoints.

A project folder holds ``project.sqlite`` (WAL mode), ``frames/``, ``checkpoints/``,
``exports/`` and ``harlab.log``. Every write is committed immediately, so nothing a user entered
is lost if the app is killed. Each thread gets its own connection.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harlab.errors import InputError, StoreError
from harlab.schema import MIGRATIONS

log = logging.getLogger(__name__)

DB_NAME = "project.sqlite"
SUBDIRS = ("frames", "checkpoints", "exports")
LOG_NAME = "harlab.log"

SCHEMA_VERSION = len(MIGRATIONS)
_APP_ID = 0x4841524C  # "HARL": marks a database as a HARLab project


def _now() -> float:
    return time.time()


@dataclass
class RunRecord:
    """The run being recorded by :meth:`Project.run`; set ``result`` to store an outcome."""

    id: int
    result: Any = None


class Project:
    """An open project folder.

    Use :meth:`create` for a new folder and :meth:`open` for an existing one. Connections are
    per thread (``sqlite3`` objects must not cross threads); :meth:`close` closes them all.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self.db_path = self.root / DB_NAME
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    # ------------------------------------------------------------------ opening
    @classmethod
    def create(cls, root: str | Path) -> Project:
        """Make a new project in ``root`` (created if missing; must not already be a project)."""
        root = Path(root).expanduser()
        if root.exists() and not root.is_dir():
            raise InputError(f"project path {str(root)!r} is a file; expected a folder. "
                             "Choose a new folder name.")
        if (root / DB_NAME).exists() and not _is_unfinished(root / DB_NAME):
            raise InputError(f"{str(root)!r} is already a HARLab project; open it instead of "
                             "creating it.")
        try:
            root.mkdir(parents=True, exist_ok=True)
            for sub in SUBDIRS:
                (root / sub).mkdir(exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create project folder {str(root)!r}: {exc.strerror}. "
                             "Choose a folder you can write to.") from exc
        project = cls(root)
        project._migrate(new=True)
        return project

    @classmethod
    def open(cls, root: str | Path) -> Project:
        """Open an existing project; never creates or overwrites anything that is not ours."""
        root = Path(root).expanduser()
        if not root.is_dir():
            raise InputError(f"project folder {str(root)!r} does not exist; expected a folder "
                             f"holding {DB_NAME}. Create a project with File > New project.")
        if not (root / DB_NAME).is_file():
            raise InputError(f"{str(root)!r} is not a HARLab project (no {DB_NAME} in it). "
                             "Pick the project folder itself, or create a new project.")
        project = cls(root)
        unfinished = _is_unfinished(project.db_path)
        if not unfinished:
            _check_ours(project.db_path)  # before conn(), which would switch it to WAL
        project._migrate(new=unfinished)
        for sub in SUBDIRS:
            (root / sub).mkdir(exist_ok=True)
        for problem in missing_paths(project):  # once per opening, not once per video
            log.warning("%s", problem)
        return project

    @classmethod
    def open_or_create(cls, root: str | Path) -> Project:
        root = Path(root).expanduser()
        return cls.open(root) if (root / DB_NAME).exists() else cls.create(root)

    def _migrate(self, *, new: bool) -> None:
        conn = self.conn()
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if not new:
                # Touch a table so corruption shows up now, not in the middle of a study.
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StoreError(f"{str(self.db_path)!r} is not a readable SQLite database "
                             f"({exc}). It was left untouched; restore it from a backup or "
                             "create a new project.") from exc
        if not new and app_id != _APP_ID:
            self.close()
            raise StoreError(f"{str(self.db_path)!r} is an SQLite database but not a HARLab "
                             "project; it was left untouched. Pick another folder.")
        if version > SCHEMA_VERSION:
            self.close()
            raise StoreError(f"project {str(self.root)!r} has schema version {version}, newer "
                             f"than this HARLab understands ({SCHEMA_VERSION}). Update HARLab "
                             "to open it; the file was left untouched.")
        if new:
            # Marked first: a creation killed half-way leaves a database that is recognisably
            # ours, which open() and create() both finish instead of refusing.
            conn.execute(f"PRAGMA application_id = {_APP_ID}")
        for target in range(version, SCHEMA_VERSION):
            try:
                # IMMEDIATE takes the write lock first (waiting out another process), and the
                # version is read again under it: a second process opening the same old
                # project skips the steps the first one has just made.
                conn.execute("BEGIN IMMEDIATE")
                if conn.execute("PRAGMA user_version").fetchone()[0] > target:
                    conn.execute("COMMIT")
                    continue
                log.info("migrating %s from schema %d to %d", self.db_path, target, target + 1)
                for statement in _statements(MIGRATIONS[target]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {target + 1}")
                conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                self.close()
                raise StoreError(f"migrating {str(self.db_path)!r} to schema {target + 1} "
                                 f"failed: {_describe_db_error(exc)}. Nothing was "
                                 "changed.") from exc
        if new and self.get_meta("created_at") is None:
            self.set_meta("created_at", str(_now()))

    # ------------------------------------------------------------------ connections
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; use ``with conn:`` for multi-statement work)."""
        if self._closed:
            raise StoreError(f"project {str(self.root)!r} is closed; open it again.")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None,
                                       check_same_thread=True)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open {str(self.db_path)!r}: {exc}. Check that the "
                                 "folder is writable.") from exc
            conn.row_factory = sqlite3.Row
            try:
                conn.execute("PRAGMA busy_timeout = 30000")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA foreign_keys = ON")
                # FULL: a rating is on disk when the call returns, even on power loss.
                conn.execute("PRAGMA synchronous = FULL")
            except sqlite3.DatabaseError as exc:
                conn.close()
                raise StoreError(f"{str(self.db_path)!r} is not a readable SQLite database "
                                 f"({exc}). It was left untouched; restore it from a backup "
                                 "or create a new project.") from exc
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def close(self) -> None:
        """Close every thread's connection (call from the owning thread at shutdown)."""
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.close()
            except sqlite3.ProgrammingError:
                pass  # made in another thread that has ended; sqlite frees it with the thread
        self._local = threading.local()
        self._closed = True

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ queries
    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        """Run one parameterised statement, committed at once."""
        with self._full_disk_as_store_error():
            return self.conn().execute(sql, params)

    @contextlib.contextmanager
    def _full_disk_as_store_error(self) -> Iterator[None]:
        """A full disk becomes a StoreError that says so; SQLite has rolled the write back."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if not _is_full(exc):
                raise
            raise StoreError(f"the disk holding project {str(self.root)!r} is full ({exc}); "
                             "the write was rolled back and the project is intact. Free some "
                             "space and run the step again: it resumes from what was "
                             "saved.") from exc

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        return self.conn().execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()
                  ) -> sqlite3.Row | None:
        return self.conn().execute(sql, params).fetchone()

    def insert(self, table: str, **values: Any) -> int:
        """Insert one row (values given as column=value) and return its id."""
        _check_identifier(table)
        for col in values:
            _check_identifier(col)
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        with self._full_disk_as_store_error():
            cur = self.conn().execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})",
                                      list(values.values()))
        return int(cur.lastrowid)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        conn = self.conn()
        with self._full_disk_as_store_error(), conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, rows)

    # ------------------------------------------------------------------ meta and runs
    def set_meta(self, key: str, value: str) -> None:
        self.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                     "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.query_one("SELECT value FROM meta WHERE key = ?", (key,))
        return row["value"] if row else default

    def data_version(self) -> int:
        """A number that changes whenever another connection commits (another process such as
        a CLI stage, or another thread); views compare it to know when to reload."""
        return int(self.query_one("PRAGMA data_version")[0])

    @property
    def schema_version(self) -> int:
        return int(self.query_one("PRAGMA user_version")[0])

    def start_run(self, kind: str, config: Any, name: str = "") -> int:
        """Record a run with its full config (a dataclass or a JSON-able mapping)."""
        now = _now()
        return self.insert("runs", kind=kind, name=name, config_json=to_json(config),
                           status="running", created_at=now, updated_at=now)

    def finish_run(self, run_id: int, status: str, result: Any = None,
                   error: str | None = None) -> None:
        if status not in {"done", "failed", "cancelled", "running"}:
            raise InputError(f"run status must be done, failed, cancelled or running, "
                             f"got {status!r}")
        self.execute("UPDATE runs SET status = ?, result_json = ?, error = ?, updated_at = ? "
                     "WHERE id = ?",
                     (status, None if result is None else to_json(result), error, _now(), run_id))

    @contextlib.contextmanager
    def run(self, kind: str, config: Any, name: str = "") -> Iterator[RunRecord]:
        """Record one run of a stage: its config, start, end and outcome.

        Leaving the block normally marks the run ``done``; ``GeneratorExit`` (a job closed by
        the GUI's Cancel) or ``KeyboardInterrupt`` (Ctrl-C) marks it ``cancelled``; any other
        exception marks it ``failed`` with the message. Set ``record.result`` inside the block
        to store what the run produced (also kept on cancel and failure).
        """
        record = RunRecord(self.start_run(kind, config, name=name))
        try:
            yield record
        except (GeneratorExit, KeyboardInterrupt):
            self._finish_after_error(record, "cancelled", None)
            raise
        except BaseException as exc:
            self._finish_after_error(record, "failed", str(exc) or type(exc).__name__)
            raise
        self.finish_run(record.id, "done", result=record.result)

    def _finish_after_error(self, record: RunRecord, status: str, error: str | None) -> None:
        """Record a cancelled or failed run, never hiding the error that ended it.

        On a full disk even this write can fail; the run then stays ``running`` in the store,
        which the next run of the stage treats like any unfinished one.
        """
        try:
            self.finish_run(record.id, status, result=record.result, error=error)
        except (sqlite3.Error, StoreError, TypeError, ValueError) as exc:
            log.warning("could not record run %d as %s: %s", record.id, status, exc)

    def runs(self, kind: str | None = None) -> list[sqlite3.Row]:
        if kind is None:
            return self.query("SELECT * FROM runs ORDER BY id")
        return self.query("SELECT * FROM runs WHERE kind = ? ORDER BY id", (kind,))

    # ------------------------------------------------------------------ paths
    @property
    def frames_dir(self) -> Path:
        return self.root / "frames"

    @property
    def checkpoints_dir(self) -> Path:
        return self.root / "checkpoints"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def log_path(self) -> Path:
        return self.root / LOG_NAME

    def relpath(self, path: str | Path) -> str:
        """``path`` relative to the project folder, with forward slashes (portable)."""
        return Path(path).resolve().relative_to(self.root.resolve()).as_posix()

    def abspath(self, rel: str) -> Path:
        return self.root / rel

    def portable(self, path: str | Path) -> str:
        """How to store ``path``: relative to the project when inside it, else absolute.

        Relative paths keep working when the folder is copied, moved or unzipped elsewhere.
        """
        try:
            return self.relpath(path)
        except ValueError:
            return str(Path(path).expanduser().resolve())

    def resolve(self, stored: str | Path) -> Path:
        """The absolute path of a value written by :meth:`portable` (or an older absolute one)."""
        path = Path(stored).expanduser()
        return path if path.is_absolute() else self.root / path


def _is_unfinished(db_path: Path) -> bool:
    """True for a database that a killed :meth:`Project.create` left behind.

    That is an empty file, or a database with no tables, or one marked as ours whose creation
    stopped before its ``created_at`` was written. HARLab 0.1 set the mark only after the
    migrations, so a creation it left half-done is recognised by its shape instead: our schema
    version, our ``meta`` and ``runs`` tables, no ``created_at`` and no runs. Anything else is
    never touched.
    """
    try:
        if db_path.stat().st_size == 0:
            return True
        # Read-only: deciding must not create, convert or repair anything.
        with contextlib.closing(open_read_only(db_path)) as conn:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if not tables:
                return app_id in (0, _APP_ID)
            if "meta" not in tables or "runs" not in tables:
                return False
            if app_id != _APP_ID and not (
                    app_id == 0 and 1 <= version <= SCHEMA_VERSION
                    and conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0):
                return False
            return conn.execute("SELECT count(*) FROM meta WHERE key = 'created_at'"
                                ).fetchone()[0] == 0
    except (OSError, sqlite3.DatabaseError):
        return False


@dataclass(frozen=True)
class Repointed:
    """What :func:`repoint_dataset` did: the old and new roots, and sample videos found."""

    old: str | None
    new: str
    videos_found: int
    videos_missing: list[str]


def missing_paths(project: Project) -> list[str]:
    """One message per recorded outside path that no longer exists (today: the dataset).

    Frames and checkpoints live inside the project and are stored relative to it, so they
    move with the folder; the dataset is outside and has to be pointed at again.
    """
    root = project.get_meta("dataset_root")
    if not root or Path(root).is_dir():
        return []
    return [f"project {str(project.root)!r}: its dataset folder {root!r} no longer exists "
            "(the project was moved, or the dataset was). Re-point it with `harlab project "
            f"repoint {str(project.root)!r} NEW_DATASET_FOLDER` (or choose the dataset folder "
            "again in the GUI)."]


def repoint_dataset(project: Project, new_root: str | Path) -> Repointed:
    """Point the project at its dataset's new location, after checking it is that dataset.

    ``new_root`` must be a UCF-101-style folder (``UCF-101/`` and ``ucfTrainTestlist/``);
    the videos of the project's samples are looked up there and counted.

    Raises:
        DatasetError: ``new_root`` is not a readable UCF-101-style dataset.
        InputError: none of the project's sample videos is in it (another dataset).
    """
    from harlab.data.ucf101 import UCF101  # scans the disk: only when actually re-pointing

    dataset = UCF101(Path(new_root).expanduser())  # raises DatasetError naming the file
    new = str(Path(new_root).expanduser().resolve())
    videos = [r["video"] for r in project.query("SELECT DISTINCT video FROM samples "
                                                "ORDER BY video")]
    missing = [v for v in videos if not (dataset.root / v).is_file()]
    if videos and len(missing) == len(videos):
        raise InputError(f"{new!r} holds none of this project's {len(videos)} sample videos "
                         f"(e.g. {videos[0]!r}); it is another dataset. Pick the folder the "
                         "project was made with.")
    old = project.get_meta("dataset_root")
    project.set_meta("dataset_root", new)
    if old and old != new:
        project.set_meta("dataset_root_previous", old)
    log.info("project %s: dataset re-pointed from %s to %s", project.root, old, new)
    return Repointed(old, new, len(videos) - len(missing), missing)


def _statements(script: str) -> list[str]:
    """Split an SQL script into complete statements (comments and all)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return [st for st in statements if st.rstrip(";").strip()]


def _is_full(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and (
        "disk is full" in str(exc) or getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL")


def _describe_db_error(exc: sqlite3.DatabaseError) -> str:
    if _is_full(exc):
        return f"{exc}: the disk is full; free some space and open it again"
    return str(exc)


def open_read_only(db_path: Path) -> sqlite3.Connection:
    """A connection to ``db_path`` that writes nothing and creates no file beside it.

    ``mode=ro`` alone leaves ``-wal`` and ``-shm`` files next to a WAL database. With no
    ``-wal`` or ``-journal`` file every commit is in the main file, so it is opened
    ``immutable`` (no lock, no side files); with one, the database is open elsewhere (or its
    app was killed) and ``mode=ro`` reads the commits in it. Raises ``sqlite3.Error``.
    """
    pending = any(db_path.with_name(db_path.name + side).exists()
                  for side in ("-wal", "-journal"))
    options = "mode=ro" if pending else "mode=ro&immutable=1"
    return sqlite3.connect(f"{db_path.resolve().as_uri()}?{options}", uri=True, timeout=30.0)


def _check_ours(db_path: Path) -> None:
    """Refuse, without writing a byte, a file that is not a readable HARLab database."""
    try:
        with contextlib.closing(open_read_only(db_path)) as conn:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{str(db_path)!r} is not a readable SQLite database ({exc}). It was "
                         "left untouched; restore it from a backup or create a new "
                         "project.") from exc
    if app_id != _APP_ID:
        raise StoreError(f"{str(db_path)!r} is an SQLite database but not a HARLab project; "
                         "it was left untouched. Pick another folder.")


def is_project(path: str | Path) -> bool:
    return (Path(path).expanduser() / DB_NAME).is_file()


def to_json(value: Any) -> str:
    """JSON of a dataclass, mapping or list; paths and numpy scalars become plain values."""

    def default(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return dataclasses.asdict(obj)
        if isinstance(obj, Path):
            return str(obj)
        if hasattr(obj, "item"):
            return obj.item()
        if hasattr(obj, "tolist"):
            return obj.tolist()
        if isinstance(obj, (set, frozenset)):
            return sorted(obj)
        raise TypeError(f"cannot store {type(obj).__name__} as JSON")

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return json.dumps(value, default=default, sort_keys=True)


def _check_identifier(name: str) -> None:
    if not name.replace("_", "").isalnum():
        raise InputError(f"not a valid SQL identifier: {name!r}; use letters, digits and _")
