"""Long operations as generators that yield :class:`Progress`.

A job is a plain generator: it yields ``Progress`` records at least once per batch, frees its
resources in ``try/finally`` and ``return``\\ s its result. It runs the same in a loop, in the CLI
(:func:`run_cli`, with a tqdm bar), in a test (:func:`run`) or in the GUI's job runner, which
cancels by calling ``gen.close()`` between two steps.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from tqdm import tqdm

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """One step of a long job.

    Attributes:
        done: units finished so far.
        total: units in all, or 0 when unknown.
        message: a short human-readable line for a status bar.
        data: optional payload for live views (a metrics row, a frame...). Keep it small.
    """

    done: int
    total: int
    message: str = ""
    data: Any = None

    @property
    def fraction(self) -> float | None:
        return self.done / self.total if self.total else None


Job = Generator[Progress, None, T]


def run(job: Job[T], on_progress: Callable[[Progress], None] | None = None) -> T:
    """Drive ``job`` to completion and return its result."""
    while True:
        try:
            step = next(job)
        except StopIteration as stop:
            return stop.value
        if on_progress is not None:
            on_progress(step)


def run_cli(job: Job[T], desc: str = "", *, disable: bool | None = None,
            log_every_s: float = 30.0) -> T:
    """Drive ``job`` with a tqdm progress bar on stderr; Ctrl-C closes the job cleanly.

    ``disable=None`` hides the bar when stderr is not a terminal (a CI log, a pipe); there each
    new stage (a message's text before its first ``:``) gets one line with the time since the
    start, a long stage one more every ``log_every_s`` seconds, and the end one line, so the log
    shows where the time went. ``disable=True`` prints nothing.
    """
    log = _StageLog(desc, log_every_s) if disable is None and not _isatty(sys.stderr) else None
    bar = tqdm(total=None, desc=desc, unit="", dynamic_ncols=True, disable=disable, leave=True)
    try:
        while True:
            try:
                step = next(job)
            except StopIteration as stop:
                if log is not None:
                    log.done()
                return stop.value
            if step.total and bar.total != step.total:
                bar.total = step.total
            bar.n = step.done
            if step.message:
                bar.set_postfix_str(step.message[:60], refresh=False)
            bar.refresh()
            if log is not None:
                log.step(step)
    except KeyboardInterrupt:
        job.close()
        raise
    finally:
        bar.close()


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class _StageLog:
    """Time-stamped progress lines for a log: one per stage, one per ``every_s`` within it."""

    def __init__(self, desc: str, every_s: float):
        self.prefix = f"{desc}: " if desc else ""
        self.every_s = every_s
        self.started = self.last = time.monotonic()
        self.stage: str | None = None

    def _print(self, text: str) -> None:
        elapsed = int(time.monotonic() - self.started)
        print(f"[{elapsed // 60:3d}:{elapsed % 60:02d}] {self.prefix}{text}", file=sys.stderr,
              flush=True)
        self.last = time.monotonic()

    def step(self, step: Progress) -> None:
        if not step.message:
            return
        # "train: epoch 3/15" names its stage; a message without one continues the current
        stage = step.message.split(":", 1)[0] if ":" in step.message else (
            self.stage or step.message)
        if stage != self.stage or time.monotonic() - self.last >= self.every_s:
            self.stage = stage
            counts = f" ({step.done}/{step.total})" if step.total else ""
            self._print(f"{step.message}{counts}")

    def done(self) -> None:
        self._print("done")
