"""Importing other annotators' ratings: matched by answer-text hashes, all or nothing.

Each row of a source (see :mod:`harlab.rating.transfer`) is checked first: garbage rows,
rows of samples or answers this project does not hold, and rows of another rubric version are
*errors*; if there is any, :class:`RatingImportError` lists them row by row and nothing is
written. Otherwise one transaction writes every new rating. A row identical to one already
here is a *duplicate*; a row with another value for the same annotator, item and answers is a
*conflict*, kept as it is here (``on_conflict="keep"``) or overwritten (``"replace"``). Both
are reported row by row.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harlab.errors import InputError
from harlab.rating.item_types import MAX_TEXT
from harlab.rating.rubric import Rubric, RubricError
from harlab.rating.session import validate_name
from harlab.rating.tables import text_sha256
from harlab.rating.transfer import MAX_NUMBER_CHARS, GarbageRow, LongNumber, read_rows
from harlab.store import DB_NAME, Project
from harlab.vocab import MODALITIES

IDENTITY = ("annotator", "video", "attack", "eps", "modality", "item", "value",
            "rubric_version", "original_sha256", "attacked_sha256")
CONFLICT_POLICIES = ("keep", "replace")
MAX_LISTED = 30


class RatingImportError(InputError):
    """Some rows could not be imported; ``report`` holds every row's problem."""

    def __init__(self, message: str, report: ImportReport):
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class RowNote:
    """One row's problem: ``kind`` is garbage, unknown, version, duplicate or conflict."""

    row: str
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.row}: {self.kind}: {self.message}"


@dataclass
class ImportReport:
    source: str
    rows: int = 0
    imported: int = 0
    replaced: int = 0
    errors: list[RowNote] = field(default_factory=list)
    duplicates: list[RowNote] = field(default_factory=list)
    conflicts: list[RowNote] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.source}: {self.rows} rows, {self.imported} imported, {self.replaced} "
                f"replaced, {len(self.duplicates)} duplicates, {len(self.conflicts)} conflicts, "
                f"{len(self.errors)} rejected")



# ---------------------------------------------------------------------- checking rows
@dataclass(frozen=True)
class _Row:
    label: str
    annotator: str
    sample_id: int
    modality: str
    item: str
    value: str
    original_id: int
    attacked_id: int
    a_is: str | None
    rubric_version: str
    created_at: float
    updated_at: float
    unblinded: bool = False  # given with the A/B order shown (kept across copies)


def _check(label: str, raw: Any, rubric: Rubric, index: _AnswerIndex) -> _Row | RowNote:
    if isinstance(raw, GarbageRow):
        return RowNote(label, "garbage", raw.reason)
    if not isinstance(raw, dict):
        return RowNote(label, "garbage", f"expected an object with {', '.join(IDENTITY)}")
    missing = [k for k in IDENTITY if raw.get(k) in (None, "")]
    if missing:
        return RowNote(label, "garbage", f"missing {', '.join(missing)}")
    problems = _shape_problems(raw)
    if problems:
        return RowNote(label, "garbage", "; ".join(problems))
    if str(raw["rubric_version"]) != rubric.version:
        return RowNote(label, "version", f"rated under rubric version "
                                         f"{_short(raw['rubric_version'])}; this project uses "
                                         f"version {rubric.version!r}")
    try:
        name = validate_name(raw["annotator"])
        eps = float(raw["eps"])
        if raw["modality"] not in MODALITIES:
            raise InputError(f"modality must be one of {', '.join(MODALITIES)}, got "
                             f"{_short(raw['modality'])}")
        item = rubric.item_for(raw["item"])
        if raw["item"] not in rubric.keys():
            raise RubricError(f"item {_short(raw['item'])} is in A/B terms; exports use "
                              "original/attacked")
        value = item.normalise(raw["value"] if item.kind.free_text else str(raw["value"]))
    except (InputError, ValueError, TypeError) as exc:
        return RowNote(label, "garbage", str(exc))
    found = index.find(raw["video"], raw["attack"], eps, raw["modality"],
                       raw["original_sha256"].lower(), raw["attacked_sha256"].lower())
    if found is None:
        return RowNote(label, "unknown", f"no {raw['modality']} answers of "
                                         f"{_short(raw['video'])} ({_short(raw['attack'])}, "
                                         f"eps {eps:.4g}) with these texts in this project")
    a_is = raw.get("a_is") if raw.get("a_is") in ("original", "attacked") else None
    return _Row(label, name, found[0], raw["modality"], raw["item"], value, found[1],
                found[2], a_is, rubric.version, _time(raw.get("created_at")),
                _time(raw.get("updated_at")),
                raw.get("unblinded") in (True, 1, "1", "True", "true"))


# ---------------------------------------------------------------------- the shape of a row
MAX_FIELD_CHARS = 500  # each identifying text field; a free-text value may hold MAX_TEXT
_TEXT_FIELDS = ("annotator", "video", "attack", "modality", "item")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def _shape_problems(raw: dict[str, Any]) -> list[str]:
    """What is wrong with the type or size of each field, before any value is used.

    Rows come from files anyone may have edited: a field may be an object, a list, a number
    of thousands of digits or megabytes of text. Each such field is named here, so that no
    later check converts, hashes or echoes it.
    """
    problems = []
    for key in _TEXT_FIELDS:
        problems += _text_problem(key, raw[key], MAX_FIELD_CHARS)
    for key in ("original_sha256", "attacked_sha256"):
        if not isinstance(raw[key], str) or not _SHA256.fullmatch(raw[key]):
            problems.append(f"{key}: expected 64 hexadecimal digits (a SHA-256), got "
                            f"{_describe(raw[key])}")
    version = raw["rubric_version"]
    if isinstance(version, bool) or not isinstance(version, int):  # 1 may stand for "1"
        problems += _text_problem("rubric_version", version, MAX_FIELD_CHARS)
    problems += _number_problem("eps", raw["eps"])
    value = raw["value"]
    if isinstance(value, (dict, list)):
        problems.append(f"value: expected text or a number, got {_describe(value)}")
    elif isinstance(value, LongNumber):
        problems += _number_problem("value", value)
    elif isinstance(value, str):
        problems += _text_problem("value", value, MAX_TEXT)
    for key in ("created_at", "updated_at"):
        if raw.get(key) not in (None, ""):
            problems += _number_problem(key, raw[key])
    return problems


def _text_problem(key: str, value: Any, max_chars: int) -> list[str]:
    if not isinstance(value, str):
        return [f"{key}: expected text, got {_describe(value)}"]
    if len(value) > max_chars:
        return [f"{key}: expected text of at most {max_chars} characters, got "
                f"{_describe(value)}"]
    return []


def _number_problem(key: str, value: Any) -> list[str]:
    """JSON numbers and CSV text alike are bounded before float() sees them."""
    if isinstance(value, LongNumber) or (isinstance(value, str)
                                         and len(value) > MAX_NUMBER_CHARS):
        return [f"{key}: expected a number of at most {MAX_NUMBER_CHARS} characters, got "
                f"{_describe(value)}"]
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return [f"{key}: expected a number, got {_describe(value)}"]
    try:
        number = float(value)
    except (ValueError, OverflowError):
        number = math.nan
    if not math.isfinite(number):
        return [f"{key}: expected a finite number, got {_describe(value)}"]
    return []


def _describe(value: Any) -> str:
    """A short description of a parsed value; never the repr of a large or nested one."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, LongNumber):
        return f"a number of {len(value.text)} characters"
    if isinstance(value, str) and len(value) > 60:
        return f"text of {len(value)} characters"
    return _short(value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _time(value: Any) -> float:
    """A time checked by :func:`_number_problem`, or now when the row has none."""
    return time.time() if value in (None, "") else float(value)


class _AnswerIndex:
    """This project's ok answers by (video, attack, eps, modality, variant, text hash)."""

    def __init__(self, project: Project):
        self._map: dict[tuple, list[tuple[int, int]]] = {}
        for r in project.query(
                "SELECT r.id, r.sample_id, r.modality, r.variant, r.response_text, s.video, "
                "s.attack, s.eps FROM llm_requests r JOIN samples s ON s.id = r.sample_id "
                "WHERE r.status = 'ok' AND r.variant IN ('original', 'attacked')"):
            key = (r["video"], r["attack"], round(r["eps"], 9), r["modality"], r["variant"],
                   text_sha256(r["response_text"]))
            self._map.setdefault(key, []).append((r["sample_id"], r["id"]))

    def find(self, video: str, attack: str, eps: float, modality: str, original_sha: str,
             attacked_sha: str) -> tuple[int, int, int] | None:
        """``(sample_id, original id, attacked id)``: the newest answers matching both hashes."""
        base = (video, attack, round(eps, 9), modality)
        originals = self._map.get((*base, "original", original_sha), [])
        attacked = self._map.get((*base, "attacked", attacked_sha), [])
        pairs = [(s, o, a) for s, o in originals for s2, a in attacked if s == s2]
        return max(pairs, key=lambda p: (p[1], p[2])) if pairs else None


def import_ratings(project: Project, source: str | Path, rubric: Rubric, *,
                   on_conflict: str = "keep") -> ImportReport:
    """Import ratings from a .jsonl / .csv export or a project folder (a copy).

    Raises:
        RatingImportError: some rows are garbage, unknown or of another rubric version;
            nothing was imported (``exc.report`` lists every row).
    """
    if on_conflict not in CONFLICT_POLICIES:
        raise InputError(f"on_conflict must be one of {', '.join(CONFLICT_POLICIES)}, got "
                         f"{on_conflict!r}")
    path = Path(source).expanduser()
    if path.is_dir() and (path / DB_NAME).resolve() == project.db_path.resolve():
        raise InputError(f"{str(path)!r} is this project itself; import from a copy or an "
                         "export file")
    raw_rows = read_rows(path)
    report = ImportReport(source=str(path), rows=len(raw_rows))
    index = _AnswerIndex(project)
    rows = []
    for label, raw in raw_rows:
        checked = _check(label, raw, rubric, index)
        if isinstance(checked, RowNote):
            report.errors.append(checked)
        else:
            rows.append(checked)
    if report.errors:
        listed = "\n  ".join(str(e) for e in report.errors[:MAX_LISTED])
        more = len(report.errors) - MAX_LISTED
        raise RatingImportError(
            f"{path}: {len(report.errors)} of {report.rows} rows cannot be imported, so nothing "
            f"was imported:\n  {listed}" + (f"\n  ... and {more} more" if more > 0 else "")
            + "\nFix or remove those rows (or export again from the other project) and import "
              "again.", report)
    _write(project, rows, report, on_conflict)
    return report


def _write(project: Project, rows: list[_Row], report: ImportReport, on_conflict: str) -> None:
    conn = project.conn()
    seen: dict[tuple, _Row] = {}
    with conn:  # one transaction: all rows or none
        conn.execute("BEGIN IMMEDIATE")
        for row in rows:
            conn.execute("INSERT OR IGNORE INTO annotators (name, created_at) VALUES (?, ?)",
                         (row.annotator, time.time()))
            annotator_id = conn.execute("SELECT id FROM annotators WHERE name = ?",
                                        (row.annotator,)).fetchone()[0]
            key = (annotator_id, row.item, row.original_id, row.attacked_id)
            if key in seen:
                _note_repeat(report, row, seen[key])
                continue
            seen[key] = row
            here = conn.execute(
                "SELECT id, value FROM ratings WHERE annotator_id = ? AND item = ? AND "
                "original_response_id = ? AND attacked_response_id = ?", key).fetchone()
            if row.a_is is not None:
                conn.execute(
                    "INSERT OR IGNORE INTO blind_orders (annotator_id, sample_id, modality, "
                    "a_is, seed, created_at) VALUES (?, ?, ?, ?, 0, ?)",
                    (annotator_id, row.sample_id, row.modality, row.a_is, time.time()))
            if here is None:
                conn.execute(
                    "INSERT INTO ratings (sample_id, modality, annotator_id, item, value, "
                    "original_response_id, attacked_response_id, rubric_version, created_at, "
                    "updated_at, unblinded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (row.sample_id, row.modality, annotator_id, row.item, row.value,
                     row.original_id, row.attacked_id, row.rubric_version, row.created_at,
                     row.updated_at, int(row.unblinded)))
                report.imported += 1
            elif here["value"] == row.value:
                report.duplicates.append(RowNote(row.label, "duplicate",
                                                 f"{row.annotator} / {row.item}: already here"))
            else:
                verb = "replaced" if on_conflict == "replace" else "kept"
                report.conflicts.append(RowNote(
                    row.label, "conflict", f"{row.annotator} / {row.item} on sample "
                    f"{row.sample_id} {row.modality}: here {here['value']!r}, imported "
                    f"{row.value!r}; {verb} the value here"))
                if on_conflict == "replace":
                    conn.execute("UPDATE ratings SET value = ?, updated_at = ?, unblinded = ? "
                                 "WHERE id = ?", (row.value, row.updated_at,
                                                  int(row.unblinded), here["id"]))
                    report.replaced += 1


def _note_repeat(report: ImportReport, row: _Row, first: _Row) -> None:
    if row.value == first.value:
        report.duplicates.append(RowNote(row.label, "duplicate", f"repeats {first.label}"))
    else:
        report.conflicts.append(RowNote(
            row.label, "conflict", f"{row.annotator} / {row.item}: {row.value!r} differs from "
            f"{first.label} ({first.value!r}); kept {first.label}"))
