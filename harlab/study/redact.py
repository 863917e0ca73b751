"""Keeping the user's paths out of a bundle: the project folder, the dataset and home.

A bundle is handed to reviewers, so the packed copy of the store (never the live project) has
every absolute path of the project folder, the dataset folder and the home folder replaced by
``<project>``, ``<dataset>`` and ``<home>``. The model's answers (``response_text`` and the raw
``response_json``) are left byte for byte, because the scores are recomputed from them.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path

PROJECT, DATASET, HOME = "<project>", "<dataset>", "<home>"
# The answers are what the scores are computed from; a verifier recomputes them byte for byte.
KEEP_COLUMNS = frozenset({("llm_requests", "response_text"), ("llm_requests", "response_json")})
# Meta keys that only locate the dataset on this machine; a redacted one would point nowhere
# and make every opening of the bundle warn that the dataset moved.
DROP_META = ("dataset_root", "dataset_root_previous")


class Redactor:
    """Replaces each of a set of absolute paths (and their JSON-escaped spellings) in text."""

    def __init__(self, paths: Iterable[tuple[str | Path | None, str]]):
        pairs: dict[str, str] = {}
        for path, placeholder in paths:
            for spelling in _spellings(path):
                pairs.setdefault(spelling, placeholder)
        # Longest first: the project usually lies inside home.
        self.pairs = sorted(pairs.items(), key=lambda kv: -len(kv[0]))
        self._pattern = (re.compile("|".join(re.escape(p) + r"(?![\w.-])"
                                             for p, _ in self.pairs))
                         if self.pairs else None)

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        lookup = dict(self.pairs)
        return self._pattern.sub(lambda m: lookup[m.group(0)], text)

    def db(self, db_path: Path) -> None:
        """Redact every text cell of the SQLite file ``db_path`` in place, then VACUUM it so
        no freed page still holds an old value."""
        conn = sqlite3.connect(db_path)
        try:
            with conn:
                for table in _tables(conn):
                    for column in _columns(conn, table):
                        if (table, column) not in KEEP_COLUMNS:
                            self._column(conn, table, column)
                if "meta" in _tables(conn):
                    marks = ", ".join("?" * len(DROP_META))
                    conn.execute(f"DELETE FROM meta WHERE key IN ({marks})", DROP_META)
            conn.execute("VACUUM")
        finally:
            conn.close()

    def _column(self, conn: sqlite3.Connection, table: str, column: str) -> None:
        if not self.pairs:
            return
        t, c = _quote(table), _quote(column)
        needles = [p for p, _ in self.pairs]
        found = conn.execute(f"SELECT DISTINCT {c} FROM {t} WHERE typeof({c}) = 'text' AND ("
                             + " OR ".join(f"instr({c}, ?) > 0" for _ in needles) + ")",
                             needles).fetchall()
        for (old,) in found:
            new = self(old)
            if new != old:
                conn.execute(f"UPDATE {t} SET {c} = ? WHERE {c} = ?", (new, old))


def for_project(root: Path, dataset_root: str | None, dataset: str | None) -> Redactor:
    """The redactor of a project: its folder, its dataset (meta and study config) and home."""
    return Redactor([(root, PROJECT), (dataset_root, DATASET),
                     (dataset if dataset and dataset != "demo" else None, DATASET),
                     (Path.home(), HOME), (os.environ.get("HOME"), HOME)])


def _spellings(path: str | Path | None) -> set[str]:
    """How ``path`` may be written: as given, resolved, and JSON-escaped (non-ASCII names)."""
    if not path:
        return set()
    given = Path(path).expanduser()
    out = set()
    for p in {given, given.resolve()}:
        # "/" itself (HOME=/ in some containers) would wipe every slash.
        if not p.is_absolute() or len(p.parts) < 2:
            continue
        out |= {str(p), json.dumps(str(p))[1:-1]}
    return out


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _tables(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                       "AND name NOT LIKE 'sqlite_%' ORDER BY name")]


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({_quote(table)})")]


__all__ = ["DATASET", "HOME", "PROJECT", "Redactor", "for_project"]
