"""One panel's job controls: a progress bar, a Cancel button and a status line, and the one way
a panel runs a job on the shared :class:`~ui.job_runner.JobRunner`.

:meth:`JobControls.run` queues the job, shows its progress and messages, keeps the Cancel
button and the panel's busy state (``busy_changed``) in step, and shows a failure inline, in
red, in the status line (the main window then keeps to its status bar, see
:attr:`JobRunner.error_handled`).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from harlab.jobs import Progress
from ui.job_runner import JobRunner

ERROR_STYLE = "color:#b00020"



class JobControls(QWidget):
    """Progress, Cancel and a status line for the jobs one panel starts.

    Args:
        runner: the shared job runner.
        cancel_text: the Cancel button's text ("Stop" where work done so far is kept).

    Signals:
        busy_changed(bool): one of this panel's jobs started (True) or ended (False).
    """

    busy_changed = Signal(bool)

    def __init__(self, runner: JobRunner, cancel_text: str = "Cancel",
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.runner = runner
        self.busy = False
        self.progress = QProgressBar(textVisible=True)
        self.progress.setMaximumWidth(260)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton(cancel_text, enabled=False)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.status = QLabel(wordWrap=True)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.progress)
        row.addWidget(self.cancel_button)
        row.addWidget(self.status, 1)

    # ------------------------------------------------------------------ running
    def run(self, job: Generator[Progress, None, Any], name: str,
            on_success: Callable[[Any], None] | None = None, *,
            on_progress: Callable[[Progress], None] | None = None,
            on_error: Callable[[str], None] | None = None,
            on_finished: Callable[[], None] | None = None,
            exclusive: bool = False, quiet: bool = False) -> bool:
        """Run ``job`` after any running one (a queued request with the same name and
        ``on_success`` is replaced: the latest wins).

        Args:
            exclusive: refuse (and say so) while another job runs: for user actions that
                should not wait unseen behind another.
            quiet: a background load (a view, a table): no progress bar and no busy state;
                its messages and errors still show in the status line.

        Returns:
            False when refused.
        """
        # A quiet background read finishes in moments: a user action queues behind it.
        if exclusive and self.runner.busy and not self.runner.quiet:
            job.close()
            self.show_error(f"cannot start {name}: {self.runner.name!r} is still running; "
                            "wait for it or press Cancel")
            return False

        def progress(step: Progress) -> None:
            self._on_job_progress(step, quiet)
            if on_progress is not None:
                on_progress(step)

        def error(message: str, _tb: str) -> None:
            self.show_error(message)
            if on_error is not None:
                on_error(message)

        def finished() -> None:
            if not quiet:
                self.set_busy(False)
            if on_finished is not None:
                on_finished()

        # The callbacks run in the GUI thread: the runner relays them from its own slots.
        self.runner.enqueue(job, name, on_success=on_success, on_progress=progress,
                            on_error=error, on_finished=finished, quiet=quiet)
        if not quiet:
            self.set_busy(True)
        if self.runner.name != name or name in self.runner.queued:
            self.status.setText(f"{name}: waiting for {self.runner.name!r}")
        return True

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.cancel_button.setEnabled(busy)
        self.progress.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)
        self.busy_changed.emit(busy)

    # ------------------------------------------------------------------ messages
    def show_message(self, text: str) -> None:
        self.status.setText(text)

    def show_error(self, message: str) -> None:
        text = html.escape(message, quote=False)
        self.status.setText(f"<span style='{ERROR_STYLE}'>{text}</span>")

    def _on_job_progress(self, step: Progress, quiet: bool) -> None:
        if step.total and not quiet:
            self.progress.setRange(0, step.total)
            self.progress.setValue(min(step.done, step.total))
        if step.message:
            self.status.setText(step.message)

    @Slot()
    def _on_cancel_clicked(self) -> None:
        self.status.setText("cancelling after this step…")
        self.runner.cancel()
