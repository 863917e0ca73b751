"""Writes that must not wait: a zero busy timeout, and the error that says the store is busy.

SQLite's write lock is held by one connection at a time; the project's connections wait up to
30 s for it. The GUI thread must never wait, so its writes go through :func:`no_wait`, which
fails at once with :class:`RatingNotSaved` while another process holds the lock.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

from harlab.errors import StoreError
from harlab.store import Project


class RatingNotSaved(StoreError):
    """The store was busy (another process holds the write lock); the answer stays pending."""


@contextlib.contextmanager
def no_wait(project: Project) -> Iterator[None]:
    """Writes on this thread's connection fail at once instead of waiting for a lock."""
    conn = project.conn()
    before = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
        raise RatingNotSaved(f"the project database is busy ({exc}): another program is "
                             "writing to it. Nothing was written; answers are kept and "
                             "retried, anything else can be done again in a moment.") from exc
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(before)}")
