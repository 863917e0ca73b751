"""Saving answers without ever blocking the GUI thread on the database's write lock.

Each answer goes into a :class:`harlab.rating.pending.AnswerQueue` (journalled on disk at
once), then the store write is tried without waiting. While another process holds the lock
the answer stays *pending*, the mark says so, and a timer retries until it is stored. An
answer for a pair a re-ask replaced meanwhile (read-only now) is set aside in
``ratings.rejected.jsonl`` with the reason, never stored and never silently dropped.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from harlab import rating
from harlab.errors import HarlabError
from harlab.rating import itemlog
from harlab.rating.busy import no_wait
from harlab.rating.pending import REJECTED, AnswerQueue
from harlab.rating.supersede import PairSuperseded
from harlab.store import Project

log = logging.getLogger(__name__)

RETRY_MS = 1000
PENDING = "#a06000"
FAILED = "#a01010"
SAVED = "#106010"


class AnswerSaver(QObject):
    """Queue, write and retry answers; reports every outcome as a mark the panel shows.

    Signals:
        mark(str, str): HTML for the saved mark, and its tooltip.
        stored(): at least one answer reached the store (refresh counts and details).
        refused(str): an answer the store will never take (shown as an error).
        superseded(str): answers for a pair a re-ask replaced were set aside (the panel
            lists the items again, so the pair shows read-only).
    """

    mark = Signal(str, str)
    stored = Signal()
    refused = Signal(str)
    superseded = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.queue: AnswerQueue | None = None
        self.rubric: rating.Rubric | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(RETRY_MS)
        self.timer.timeout.connect(self._on_timer_timeout)

    def open(self, project: Project | None, rubric: rating.Rubric | None) -> None:
        """Start on a project: answers journalled by an earlier session are retried now."""
        self.timer.stop()
        self.queue = AnswerQueue(project) if project is not None else None
        self.rubric = rubric
        if self.queue is not None and self.queue.pending and rubric is not None:
            self.flush()

    @property
    def n_pending(self) -> int:
        return len(self.queue.pending) if self.queue is not None else 0

    def save(self, annotator: rating.Annotator, item: rating.RatingItem, key: str,
             value: Any, a_is: str, *, unblinded: bool = False) -> None:
        if self.queue is None or self.rubric is None:
            return
        try:
            self.queue.put(annotator, item, key, value, a_is, unblinded=unblinded)
        except HarlabError as exc:
            self.mark.emit(f"<span style='color:{FAILED}'>✗ not saved</span>", str(exc))
            self.refused.emit(str(exc))
            return
        self.flush()

    def flush(self) -> None:
        """Try every pending answer once, without waiting for a lock."""
        if self.queue is None or self.rubric is None:
            return
        stored, failed = self.queue.flush(self.rubric)
        kept = {id(p) for p in self.queue.pending}
        busy = [exc for p, exc in failed if id(p) in kept]
        late = [exc for p, exc in failed if isinstance(exc, PairSuperseded)]
        for p, exc in failed:
            if id(p) not in kept and not isinstance(exc, PairSuperseded):
                self.refused.emit(str(exc))
        if late:
            self.superseded.emit(f"{len(late)} answer(s) not saved, set aside in {REJECTED}: "
                                 f"{late[0]}")
        if self.queue.pending:
            self.timer.start()
            n = len(self.queue.pending)
            self.mark.emit(f"<span style='color:{PENDING}'>{n} pending, not saved yet"
                           "</span>", (str(busy[0]) if busy else "waiting for the database")
                           + " Retrying every second; the answer is journalled on disk.")
        else:
            self.timer.stop()
            if stored:
                what = "cleared" if stored[-1][1].value is None else "saved"
                self.mark.emit(f"<span style='color:{SAVED}'>✓ {what} "
                               f"{time.strftime('%H:%M:%S')}</span>",
                               f"{stored[-1][0].key} committed to the project")
            elif failed:
                self.mark.emit(f"<span style='color:{FAILED}'>✗ not saved</span>",
                               str(failed[-1][1]))
        if stored:
            self.stored.emit()

    @Slot()
    def _on_timer_timeout(self) -> None:
        self.flush()

    def stop(self) -> None:
        self.timer.stop()


def skip_or_flag(project: Project, annotator: rating.Annotator, item: rating.RatingItem,
                 action: str, reason: str) -> str:
    """Skip or flag ``item`` (with a reason) without waiting on the lock; returns what to tell.

    Raises:
        PairSuperseded: a re-ask replaced the pair since it was listed: it is read-only
            (:func:`harlab.rating.itemlog.set_skip` / ``set_flag`` check it).
        HarlabError: the store is busy (try again), or the reason is empty or too long.
    """
    setter = itemlog.set_skip if action == "skip" else itemlog.set_flag
    with no_wait(project):
        setter(project, annotator, item, reason)
    return f"skipped: {reason}" if action == "skip" else f"flagged: {reason}"


class ItemClock:
    """Seconds on screen per item, added to the store when the item is left; while the store
    is busy they are kept and added with the next item's."""

    def __init__(self) -> None:
        self.shown: tuple[rating.RatingItem, float] | None = None
        self.owed: dict[tuple[int, int], tuple[rating.RatingItem, float]] = {}

    def start(self, item: rating.RatingItem) -> None:
        self.shown = (item, time.monotonic())

    def stop(self, project: Project | None, annotator: rating.Annotator | None) -> None:
        if self.shown is not None and project is not None and annotator is not None:
            item, since = self.shown
            self.owed[(item.original_id, item.attacked_id)] = (item, self.owed.get(
                (item.original_id, item.attacked_id), (item, 0.0))[1] + time.monotonic() - since)
            for pair, (owed_item, seconds) in list(self.owed.items()):
                if itemlog.add_time(project, annotator, owed_item, seconds):
                    del self.owed[pair]
        self.shown = None
