"""Long operations as generators that yield :class:`Progress`.

A job is a plain generator: it yields ``Progress`` records at least once per batch, frees its
resources in ``try/finally`` and ``return``\\ s its result. It runs the same in a loop, in the CLI
(:func:`run_cli`, with a tqdm bar), in a test (:func:`run`) or in the GUI's job runner, which
cancels by calling ``gen.close()`` between two steps.
"""

from __future__ import annotations

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


def run_cli(job: Job[T], desc: str = "", *, disable: bool | None = None) -> T:
    """Drive ``job`` with a tqdm progress bar on stderr; Ctrl-C closes the job cleanly.

    ``disable=None`` hides the bar when stderr is not a terminal (CI logs).
    """

    bar = tqdm(total=None, desc=desc, unit="", dynamic_ncols=True, disable=disable, leave=True)
    try:
        while True:
            try:
                step = next(job)
            except StopIteration as stop:
                return stop.value
            if step.total and bar.total != step.total:
                bar.total = step.total
            bar.n = step.done
            if step.message:
                bar.set_postfix_str(step.message[:60], refresh=False)
            bar.refresh()
    except KeyboardInterrupt:
        job.close()
        raise
    finally:
        bar.close()
