"""Several annotators, no server: ratings travel as files between project copies.

An export is the long form of :func:`harlab.rating.tables.ratings_long` as JSON lines
(``.jsonl``) or CSV (``.csv``). Each row carries what identifies it in any copy of the study:
the sample's video, attack and eps, the modality, and the SHA-256 of both answer texts, with
the annotator and the rubric version. An import maps rows to this project's answers by those
hashes. Every problem row is reported by number; if any row is garbage, unknown here, or of
another rubric version, nothing at all is imported (one transaction).

Reading splits records as each format defines them (``csv`` with ``newline=""``, JSON lines at
``\n`` only), so every value, newlines and U+2028 included, comes back byte for byte. Sizes are
bounded (nesting depth, number length, csv's cell limit) so a hostile file gives a row-by-row
report, never a crash; a project folder given as the source is only ever read.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harlab.errors import InputError
from harlab.rating.commitment import reveal, root_of
from harlab.rating.session import validate_name
from harlab.rating.tables import LONG_COLUMNS, ratings_long
from harlab.store import _APP_ID as APP_ID
from harlab.store import DB_NAME, SCHEMA_VERSION, Project, open_read_only

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


# ---------------------------------------------------------------------- export
def key_path(out: str | Path) -> Path:
    """Where an export's blind key is revealed: ``NAME.blind_key.json`` beside it."""
    out = Path(out)
    return out.with_name(out.stem + ".blind_key.json")


def export_ratings(project: Project, out: str | Path, annotator: str | None = None) -> int:
    """Write ratings (one annotator's, or all) to ``out`` (.jsonl or .csv); returns the count.

    The blind A/B key of the exported annotators is revealed beside it (:func:`key_path`:
    salt, keys and their commitments, see :mod:`harlab.rating.commitment`).
    """
    out = Path(out)
    kind = _kind(out)
    rows = ratings_long(project, annotator)
    if annotator is not None and not rows:
        validate_name(annotator)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        if kind == "csv":
            writer = csv.DictWriter(fh, fieldnames=LONG_COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: _csv_escape(v) for k, v in row.items()})
        else:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    tmp.replace(out)
    revealed = reveal(project)
    if annotator is not None:
        revealed["keys"] = [k for k in revealed["keys"] if k["annotator"] == annotator]
        revealed["root"] = root_of([k["commitment"] for k in revealed["keys"]])
    key_path(out).write_text(json.dumps(revealed, indent=1, sort_keys=True) + "\n",
                             encoding="utf-8")
    return len(rows)


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise InputError(f"ratings file {str(path)!r} has suffix {suffix!r}; expected .jsonl or "
                     ".csv (or a project folder to import from)")


def _csv_escape(value: Any) -> Any:
    # OWASP: a spreadsheet must not run a cell as a formula; ' is escaped too so import can
    # undo it exactly.
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_unescape(value: str) -> str:
    return value[1:] if value.startswith("'") else value


# ---------------------------------------------------------------------- reading sources
MAX_DEPTH = 20  # a row is one flat object; json.loads recurses, so deeper text is refused first
# A float's repr has at most 24 characters; int() refuses 4300 digits and float() overflows.
MAX_NUMBER_CHARS = 40
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKET = re.compile(r"[\[\]{}]")
_DIGIT_RUN = re.compile(rf"[0-9]{{{MAX_NUMBER_CHARS + 1}}}")


def read_rows(source: str | Path) -> list[tuple[str, Any]]:
    """``(row label, row)`` pairs from a .jsonl or .csv file or a project folder.

    A row that cannot be parsed is a :class:`GarbageRow`, so it is reported with its number;
    a JSON number too long to convert is a :class:`LongNumber`. A project folder is only read.
    """
    path = Path(source).expanduser()
    if path.is_dir():
        return _project_rows(path)
    kind = _kind(path)
    try:
        # newline="": a CSV cell keeps its \r\n and \r; csv and _jsonl_rows split records.
        with path.open(encoding="utf-8-sig", newline="") as fh:
            text = fh.read()
    except FileNotFoundError as exc:
        raise InputError(f"ratings file {str(path)!r} does not exist; check the path") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read ratings file {str(path)!r} as UTF-8 text ({exc}); "
                         "expected an export of `harlab rate export`") from exc
    return _csv_rows(text) if kind == "csv" else _jsonl_rows(text)


@dataclass(frozen=True)
class GarbageRow:
    """A row that could not even be parsed (kept so it is reported with its number)."""

    reason: str


@dataclass(frozen=True)
class LongNumber:
    """A JSON number of more than :data:`MAX_NUMBER_CHARS` characters, left unconverted."""

    text: str


def _csv_rows(text: str) -> list[tuple[str, Any]]:
    # newline="": a quoted cell keeps its \n, \r\n and \r as they were; only \n and \r end a
    # record (str.splitlines() also split at \v, \f, \x1c-\x1e, \x85, U+2028 and U+2029).
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    out: list[tuple[str, Any]] = []
    for n in itertools.count(1):  # the spreadsheet's row number; the header is row 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # After this the reader may be inside a quoted cell, so later "rows" would be
            # fragments; they are not read (nothing is imported anyway).
            limit = csv.field_size_limit()
            out.append((f"row {n}", GarbageRow(
                f"not readable as CSV ({exc}); a cell holds at most {limit} characters. "
                "Reading stopped at this row, so the rows after it were not checked")))
            break
        if not cells:
            continue
        if header is None:
            header = cells
            continue
        out.append((f"row {n}", _csv_row(header, cells)))
    return out


def _csv_row(header: list[str], cells: list[str]) -> dict[str, str] | GarbageRow:
    if len(cells) > len(header) and any(cells[len(header):]):
        return GarbageRow(f"{len(cells)} cells; the header names {len(header)} columns")
    return {k: _csv_unescape(v) for k, v in zip(header, cells, strict=False)}


def _jsonl_rows(text: str) -> list[tuple[str, Any]]:
    # JSON lines end at \n only: a JSON string may hold U+2028, U+2029 and U+0085 unescaped.
    out: list[tuple[str, Any]] = []
    for n, line in enumerate(text.split("\n"), start=1):
        if line.strip(" \t\r"):  # JSON's own whitespace; anything else is reported
            out.append((f"line {n}", _json_row(line)))
    return out


def _json_row(line: str) -> Any:
    if _too_deep(line):
        return GarbageRow(f"JSON nested more than {MAX_DEPTH} levels deep; a rating row is one "
                          "flat object of text and numbers")
    # The hooks cost a Python call per number, so only a line with a long run of digits
    # (a long number, or digits in some text) pays for them.
    hooks = {"parse_int": _number, "parse_float": _number} if _DIGIT_RUN.search(line) else {}
    try:
        return json.loads(line, **hooks)
    except json.JSONDecodeError as exc:
        return GarbageRow(f"not JSON ({exc.msg} at column {exc.colno})")
    except (RecursionError, ValueError) as exc:  # backstops: _too_deep and _number run first
        return GarbageRow(f"not readable as JSON ({type(exc).__name__}: {str(exc)[:100]})")


def _too_deep(line: str) -> bool:
    """True if ``line`` nests brackets more than :data:`MAX_DEPTH` deep (outside strings)."""
    if line.count("[") + line.count("{") <= MAX_DEPTH:
        return False
    depth = 0
    for match in _BRACKET.finditer(_JSON_STRING.sub("", line)):
        depth += 1 if match.group() in "[{" else -1
        if depth > MAX_DEPTH:
            return True
    return False


def _number(text: str) -> int | float | LongNumber:
    if len(text) > MAX_NUMBER_CHARS:
        return LongNumber(text)
    return float(text) if any(c in text for c in ".eE") else int(text)


# ---------------------------------------------------------------------- project folders
class _ReadOnlySource:
    """Another project's database, opened read-only: the ``query`` that ratings_long needs."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def query(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        return self._conn.execute(sql, params).fetchall()


def _project_rows(path: Path) -> list[tuple[str, Any]]:
    """The ratings of the project copy in ``path``; never creates, migrates or writes a byte.

    ``Project.open`` would finish an unfinished project, migrate an old one and switch it to
    WAL: all writes into someone else's folder, so the database is opened read-only instead.
    """
    db = path / DB_NAME
    if not db.is_file():
        raise InputError(f"{str(path)!r} is a folder but not a HARLab project (no "
                         f"{DB_NAME}); pass a project copy, a .jsonl or a .csv file")
    if db.stat().st_size == 0:
        raise InputError(f"{str(path)!r} is not a HARLab project: its {DB_NAME} is empty (a "
                         "project whose creation was interrupted); it was left untouched. "
                         "Pass a project copy that holds ratings, or an export file")
    with contextlib.closing(_open_read_only(db)) as conn:
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA query_only = ON")
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{str(db)!r} is not a readable SQLite database ({exc}); it was "
                             "left untouched. Pass a HARLab project copy, a .jsonl or a .csv "
                             "file") from exc
        if app_id != APP_ID:
            raise InputError(f"{str(db)!r} is an SQLite database but not a HARLab project; it "
                             "was left untouched. Pass a HARLab project copy, a .jsonl or a "
                             ".csv file")
        if version > SCHEMA_VERSION:
            raise InputError(f"project {str(path)!r} has schema version {version}, newer than "
                             f"this HARLab understands ({SCHEMA_VERSION}); update HARLab, or "
                             "import an export file made there with `harlab rate export`")
        try:
            rows = ratings_long(_ReadOnlySource(conn),  # type: ignore[arg-type]
                                schema=version)
        except sqlite3.Error as exc:
            raise InputError(f"cannot read the ratings of project {str(path)!r} (schema "
                             f"version {version}, this HARLab uses {SCHEMA_VERSION}: {exc}); "
                             "open it once with this HARLab to update it, or import an export "
                             "file made from it") from exc
    return [(f"{path.name} rating {n}", row) for n, row in enumerate(rows, start=1)]


def _open_read_only(db: Path) -> sqlite3.Connection:
    """:func:`~harlab.store.open_read_only` (no file is created beside ``db``); InputError."""
    try:
        return open_read_only(db)
    except sqlite3.Error as exc:
        raise InputError(f"cannot open {str(db)!r} read-only ({exc}); check that the file "
                         "is readable") from exc
