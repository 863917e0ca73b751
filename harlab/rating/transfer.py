"""Several annotators, no server: ratings travel as files between project copies.

An export is the long form of :func:`harlab.rating.tables.ratings_long` as JSON lines
(``.jsonl``) or CSV (``.csv``). Each row carries what identifies it in any copy of the study:
the sample's video, attack and eps, the modality, and the SHA-256 of both answer texts, with
the annotator and the rubric version. An import maps rows to this project's answers by those
hashes. Every problem row is reported by number; if any row is garbage, unknown here, or of
another rubric version, nothing at all is imported (one transaction).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harlab.errors import InputError
from harlab.rating.session import validate_name
from harlab.rating.tables import LONG_COLUMNS, ratings_long
from harlab.store import DB_NAME, Project

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


# ---------------------------------------------------------------------- export
def export_ratings(project: Project, out: str | Path, annotator: str | None = None) -> int:
    """Write ratings (one annotator's, or all) to ``out`` (.jsonl or .csv); returns the count."""
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
def read_rows(source: str | Path) -> list[tuple[str, Any]]:
    """``(row label, row)`` pairs from a .jsonl or .csv file or a project folder."""
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / DB_NAME).is_file():
            raise InputError(f"{str(path)!r} is a folder but not a HARLab project (no "
                             f"{DB_NAME}); pass a project copy, a .jsonl or a .csv file")
        with Project.open(path) as other:
            return [(f"{path.name} rating {n}", row)
                    for n, row in enumerate(ratings_long(other), start=1)]
    kind = _kind(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise InputError(f"ratings file {str(path)!r} does not exist; check the path") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read ratings file {str(path)!r} as UTF-8 text ({exc}); "
                         "expected an export of `harlab rate export`") from exc
    if kind == "csv":
        reader = csv.DictReader(text.splitlines())
        return [(f"row {n}", {k: _csv_unescape(v) if isinstance(v, str) else v
                              for k, v in row.items()})
                for n, row in enumerate(reader, start=2)]
    out: list[tuple[str, Any]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((f"line {n}", json.loads(line)))
        except json.JSONDecodeError as exc:
            out.append((f"line {n}", GarbageRow(f"not JSON ({exc.msg})")))
    return out


@dataclass(frozen=True)
class GarbageRow:
    """A row that could not even be parsed (kept so it is reported with its number)."""

    reason: str
