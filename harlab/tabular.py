"""Any table of dict records as CSV, Markdown or LaTeX (for exporting one shown table).

:mod:`harlab.scoring.tables` writes the whole Table 3 report; this writes exactly one table,
whichever a view shows (Table 3, the paired tests, the drift summary, the human ratings).
CSV keeps full precision; Markdown and LaTeX round to four significant places like the report.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harlab.errors import InputError

TABLE_FORMATS = {".csv": "csv", ".md": "md", ".tex": "latex"}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if value != 0 and abs(value) < 1e-3 else f"{value:.4f}"
    return str(value)


def to_csv(columns: Sequence[str], records: Sequence[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for rec in records:
        writer.writerow(["" if rec.get(c) is None else rec.get(c) for c in columns])
    return buf.getvalue()


def to_markdown(columns: Sequence[str], records: Sequence[dict[str, Any]], title: str = ""
                ) -> str:
    lines = [f"**{title}**", ""] if title else []
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    for rec in records:
        lines.append("| " + " | ".join(_cell(rec.get(c)).replace("|", "\\|")
                                       for c in columns) + " |")
    return "\n".join(lines) + "\n"


def _tex(text: str) -> str:
    text = text.replace("\\", r"\textbackslash{}")
    for char in "_%&#${}":
        text = text.replace(char, "\\" + char)
    return text


def to_latex(columns: Sequence[str], records: Sequence[dict[str, Any]], title: str = ""
             ) -> str:
    """A booktabs tabular (``\\usepackage{booktabs}``); numbers right-aligned."""
    numeric = [any(isinstance(r.get(c), (int, float)) and not isinstance(r.get(c), bool)
                   for r in records) for c in columns]
    lines = [f"% {title}"] if title else []
    lines.append("\\begin{tabular}{" + "".join("r" if n else "l" for n in numeric) + "}")
    lines += ["\\toprule", " & ".join(_tex(c) for c in columns) + " \\\\", "\\midrule"]
    for rec in records:
        lines.append(" & ".join(_tex(_cell(rec.get(c))) for c in columns) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def format_records(columns: Sequence[str], records: Sequence[dict[str, Any]], fmt: str,
                   title: str = "") -> str:
    """``records`` as ``csv``, ``md`` or ``latex``."""
    if fmt == "csv":
        return to_csv(columns, records)
    if fmt == "md":
        return to_markdown(columns, records, title)
    if fmt == "latex":
        return to_latex(columns, records, title)
    raise InputError(f"unknown table format {fmt!r}; valid formats: csv, md, latex")


def write_records(path: str | Path, columns: Sequence[str], records: Sequence[dict[str, Any]],
                  title: str = "") -> Path:
    """Write one table, the format chosen by the suffix (``.csv``, ``.md``, ``.tex``)."""
    path = Path(path)
    fmt = TABLE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"table file {path.name!r} must end in {', '.join(TABLE_FORMATS)}")
    path.write_text(format_records(columns, records, fmt, title), encoding="utf-8")
    return path
