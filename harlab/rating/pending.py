"""Answers given but not yet in the store: journalled first, written without waiting on a lock.

The GUI must never block on the database: when another process (a CLI stage, a second copy of
the app) holds SQLite's write lock, :func:`harlab.rating.record_answer` would wait up to the
store's 30 s busy timeout and then fail. :class:`AnswerQueue` instead

1. appends the answer to ``PROJECT/ratings.pending.jsonl`` (fsynced, so a kill loses nothing),
2. tries the store write with a zero busy timeout, and
3. keeps whatever could not be written pending; :meth:`AnswerQueue.flush` retries (the panel
   calls it from a timer) and a queue opened on the same project later replays the journal.

An answer leaves the journal only once its write has committed.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harlab.errors import HarlabError, InputError, StoreError
from harlab.rating.answers import Answer, record_answer
from harlab.rating.busy import RatingNotSaved, no_wait  # noqa: F401 - re-exported
from harlab.rating.rubric import Rubric
from harlab.rating.session import Annotator, RatingItem, item_by_pair
from harlab.store import Project

log = logging.getLogger(__name__)

JOURNAL = "ratings.pending.jsonl"
REJECTED = "ratings.rejected.jsonl"  # answers the store refused, kept with the reason


@dataclass(frozen=True)
class PendingAnswer:
    """One answer as given, in shown terms with what A was, and when."""

    annotator_id: int
    annotator: str
    sample_id: int
    modality: str
    original_id: int
    attacked_id: int
    key: str
    value: Any
    a_is: str
    given_at: float
    unblinded: bool = False

    @property
    def slot(self) -> tuple[int, int, int, str]:
        """What a later answer to the same question replaces."""
        return self.annotator_id, self.original_id, self.attacked_id, self.key


class AnswerQueue:
    """Answers waiting for the store, in the order given; see the module docstring."""

    def __init__(self, project: Project):
        self.project = project
        self.path = Path(project.root) / JOURNAL
        self.pending: list[PendingAnswer] = self._read()

    def put(self, annotator: Annotator, item: RatingItem, key: str, value: Any, a_is: str,
            *, unblinded: bool = False) -> PendingAnswer:
        """Journal one answer (on disk when this returns); a later one to the same question
        replaces it."""
        answer = PendingAnswer(annotator.id, annotator.name, item.sample_id, item.modality,
                               item.original_id, item.attacked_id, key, value, a_is,
                               time.time(), unblinded)
        self.pending = [p for p in self.pending if p.slot != answer.slot] + [answer]
        self._write()
        return answer

    def flush(self, rubric: Rubric) -> tuple[list[tuple[PendingAnswer, Answer]],
                                             list[tuple[PendingAnswer, HarlabError]]]:
        """Try to store every pending answer without waiting; returns (stored, failed).

        A busy (or closed, or full) store keeps the answer pending; an answer the rubric
        refuses leaves the journal for ``ratings.rejected.jsonl`` (with the reason: it can
        never be stored, and is still not lost) and is reported as failed.
        """
        stored: list[tuple[PendingAnswer, Answer]] = []
        failed: list[tuple[PendingAnswer, HarlabError]] = []
        keep: list[PendingAnswer] = []
        for p in self.pending:
            try:
                item = item_by_pair(self.project, p.sample_id, p.modality, p.original_id,
                                    p.attacked_id)
                with no_wait(self.project):
                    done = record_answer(self.project, Annotator(p.annotator_id, p.annotator),
                                         item, p.key, p.value, rubric, a_is=p.a_is,
                                         unblinded=p.unblinded)
                stored.append((p, done))
            except InputError as exc:  # the rubric or the pair refuses it: it never will fit
                log.warning("an answer the store refuses is set aside in %s: %s",
                            REJECTED, exc)
                self._set_aside(p, str(exc))
                failed.append((p, exc))
            except HarlabError as exc:  # busy, closed, full: kept for the next try
                keep.append(p)
                failed.append((p, exc))
        if len(keep) != len(self.pending):
            self.pending = keep
            self._write()
        return stored, failed

    def is_pending(self, annotator_id: int, original_id: int, attacked_id: int) -> bool:
        return any((p.annotator_id, p.original_id, p.attacked_id)
                   == (annotator_id, original_id, attacked_id) for p in self.pending)

    # ------------------------------------------------------------------ the journal
    def _set_aside(self, answer: PendingAnswer, reason: str) -> None:
        try:
            with open(self.path.with_name(REJECTED), "a", encoding="utf-8") as fh:
                fh.write(json.dumps({**asdict(answer), "reason": reason},
                                    ensure_ascii=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise StoreError(f"cannot set aside a refused answer in {REJECTED}: "
                             f"{exc.strerror}. Free some disk space.") from exc

    def _read(self) -> list[PendingAnswer]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreError(f"cannot read the pending answers {str(self.path)!r}: {exc}. "
                             "Move the file aside to go on (its answers are not in the "
                             "store yet).") from exc
        out = []
        for n, line in enumerate(lines, start=1):
            try:
                out.append(PendingAnswer(**json.loads(line)))
            except (ValueError, TypeError) as exc:  # a line cut short by a kill mid-append
                log.warning("%s line %d unreadable, skipped: %s", self.path, n, exc)
        return out

    def _write(self) -> None:
        if not self.pending:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_name(self.path.name + ".partial")
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.writelines(json.dumps(asdict(p), ensure_ascii=False) + "\n"
                              for p in self.pending)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            raise StoreError(f"cannot write the pending answers to {str(self.path)!r}: "
                             f"{exc.strerror}. Free some disk space.") from exc
