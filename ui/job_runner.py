"""The one job runner: drives a core generator on a QThread, relays its signals to the GUI.

The core writes long work as generators yielding :class:`harlab.jobs.Progress`. The runner lives
in the GUI thread; a worker object on a ``QThread`` advances the generator one step at a time and
checks the cancel flag between steps (``gen.close()`` runs the job's ``finally`` at once). The
worker's signals arrive in the runner's slots through queued connections, so every receiver of
the runner's own signals and every per-job callback runs in the GUI thread.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
import traceback
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from harlab.errors import HarlabError
from harlab.jobs import Progress

log = logging.getLogger(__name__)


def freeze_heap() -> None:
    """Move every object alive now out of the collector's reach (``gc.freeze``).

    A full collection started in a job thread walks the whole heap while it holds the
    interpreter lock, stalling the GUI thread for as long; the long-lived heap (Qt wrappers,
    torch, the loaded model) never needs walking, so it is frozen after start-up and around
    every job. Objects made later are still collected as usual.
    """
    gc.freeze()


class _Worker(QObject):
    progress = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()
    done = Signal()

    def __init__(self, job: Generator[Progress, None, Any], abort: threading.Event,
                 interval_s: float = 0.0):
        super().__init__()
        self._job = job
        self._abort = abort
        self._interval_s = interval_s

    @Slot()
    def run(self) -> None:
        job = self._job
        last = 0.0
        try:
            while True:
                if self._abort.is_set():
                    job.close()
                    self.cancelled.emit()
                    return
                try:
                    step = next(job)
                except StopIteration as stop:
                    self.succeeded.emit(stop.value)
                    return
                if isinstance(step, Progress):
                    now = time.monotonic()
                    if (step.data is not None or now - last >= self._interval_s
                            or (step.total and step.done >= step.total)):
                        last = now
                        self.progress.emit(step)
        except HarlabError as exc:
            self.failed.emit(str(exc), traceback.format_exc())
        except BaseException as exc:  # noqa: BLE001 - everything must reach the GUI thread
            self.failed.emit(f"{type(exc).__name__}: {exc}", traceback.format_exc())
        finally:
            self.done.emit()


@dataclass
class _Callbacks:
    on_success: Callable[[Any], None] | None = None
    on_progress: Callable[[Progress], None] | None = None
    on_error: Callable[[str, str], None] | None = None
    on_finished: Callable[[], None] | None = None
    quiet: bool = False  # a background read (a view, a table): user actions may queue behind


class JobRunner(QObject):
    """Runs one job at a time off the GUI thread.

    Signals (all emitted in the GUI thread):
        started(name), progress(Progress), succeeded(result), failed(message, traceback),
        cancelled(), finished() — ``finished`` follows every job, whatever its end.
    """

    started = Signal(str)
    progress = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: _Worker | None = None
        self._abort = threading.Event()
        self._callbacks = _Callbacks()
        self._queue: list[tuple[Generator[Progress, None, Any], str, _Callbacks]] = []
        self.name = ""
        #: Plain steps (no ``data``) closer together than this are not relayed, so a job that
        #: yields thousands of steps a second cannot flood the GUI thread's event queue. Steps
        #: with a payload and the last step are always relayed. 0 relays every step.
        self.progress_interval_s = 0.0

    @property
    def error_handled(self) -> bool:
        """Whether the running job's starter shows its errors itself (it gave ``on_error``);
        the main window then keeps to its status bar instead of a modal dialog."""
        return self._callbacks.on_error is not None

    @property
    def busy(self) -> bool:
        return self._thread is not None

    def start(self, job: Generator[Progress, None, Any], name: str, *,
              on_success: Callable[[Any], None] | None = None,
              on_progress: Callable[[Progress], None] | None = None,
              on_error: Callable[[str, str], None] | None = None,
              on_finished: Callable[[], None] | None = None, quiet: bool = False) -> None:
        """Start ``job``; raises :class:`HarlabError` while another job runs."""
        if self.busy:
            job.close()
            raise HarlabError(f"cannot start {name!r}: the job {self.name!r} is still running. "
                              "Wait for it or press Cancel first.")
        self.name = name
        self._abort = threading.Event()
        self._callbacks = _Callbacks(on_success, on_progress, on_error, on_finished, quiet)
        freeze_heap()
        thread = QThread()
        thread.setObjectName(f"job: {name}")
        worker = _Worker(job, self._abort, self.progress_interval_s)
        worker.moveToThread(thread)
        worker.progress.connect(self._on_worker_progress)
        worker.succeeded.connect(self._on_worker_succeeded)
        worker.failed.connect(self._on_worker_failed)
        worker.cancelled.connect(self._on_worker_cancelled)
        # Direct: quit from the worker thread itself, so shutdown()'s wait() cannot deadlock
        # on a queued quit that the blocked GUI thread would never deliver.
        worker.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        thread.started.connect(worker.run)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker = thread, worker
        thread.start()
        self.started.emit(name)

    def enqueue(self, job: Generator[Progress, None, Any], name: str, *,
                on_success: Callable[[Any], None] | None = None,
                on_progress: Callable[[Progress], None] | None = None,
                on_error: Callable[[str, str], None] | None = None,
                on_finished: Callable[[], None] | None = None, quiet: bool = False) -> None:
        """Start ``job`` now, or right after the running job when busy.

        For automatic work (indexing a dataset a panel needs, loading a view) that must not be
        lost because a user job happens to run. A queued job with the same name and the same
        ``on_success`` (the same request from the same requester) is replaced: the latest
        request wins. ``cancel()`` affects only the running job.
        """
        callbacks = _Callbacks(on_success, on_progress, on_error, on_finished, quiet)
        if not self.busy:
            self.start(job, name, on_success=on_success, on_progress=on_progress,
                       on_error=on_error, on_finished=on_finished, quiet=quiet)
            return
        for i, (old_job, old_name, old_cb) in enumerate(self._queue):
            # the same request from the same requester (two panels may both index a dataset)
            if old_name == name and old_cb.on_success == on_success:
                old_job.close()
                self._queue[i] = (job, name, callbacks)
                return
        self._queue.append((job, name, callbacks))

    @property
    def quiet(self) -> bool:
        """Whether the running job is a quiet background read."""
        return self.busy and self._callbacks.quiet

    @property
    def queued(self) -> list[str]:
        """Names of the jobs waiting to start."""
        return [name for _job, name, _cb in self._queue]

    def cancel(self) -> None:
        """Ask the running job to stop at its next step (within one batch)."""
        if self.busy:
            self._abort.set()

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel, quit and wait; call on window close. Returns False if the thread hung."""
        for job, _name, _cb in self._queue:
            job.close()
        self._queue.clear()
        if self._thread is None:
            return True
        self._abort.set()
        thread = self._thread
        ok = thread.wait(timeout_ms)
        if not ok:
            log.error("job %r did not stop within %d ms", self.name, timeout_ms)
            return False
        self._on_thread_finished()
        return True

    # -- relays (queued from the worker thread; these run in the GUI thread) --------------
    @Slot(object)
    def _on_worker_progress(self, step: Progress) -> None:
        self.progress.emit(step)
        if self._callbacks.on_progress:
            self._callbacks.on_progress(step)

    @Slot(object)
    def _on_worker_succeeded(self, result: Any) -> None:
        self.succeeded.emit(result)
        if self._callbacks.on_success:
            self._callbacks.on_success(result)

    @Slot(str, str)
    def _on_worker_failed(self, message: str, tb: str) -> None:
        log.error("job %r failed: %s\n%s", self.name, message, tb)
        self.failed.emit(message, tb)
        if self._callbacks.on_error:
            self._callbacks.on_error(message, tb)

    @Slot()
    def _on_worker_cancelled(self) -> None:
        self.cancelled.emit()

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._thread is None:
            return
        thread, worker = self._thread, self._worker
        self._thread = self._worker = None
        callbacks, self._callbacks = self._callbacks, _Callbacks()
        if worker is not None:
            worker.deleteLater()
        if thread is not None:
            thread.deleteLater()
        if callbacks.on_finished:
            callbacks.on_finished()
        self.finished.emit()
        freeze_heap()  # what the job left alive (a model, an index) joins the frozen heap
        if self._queue and not self.busy:
            job, name, cb = self._queue.pop(0)
            self.start(job, name, on_success=cb.on_success, on_progress=cb.on_progress,
                       on_error=cb.on_error, on_finished=cb.on_finished, quiet=cb.quiet)
