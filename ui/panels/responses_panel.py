"""Responses: ask the language model, then read each sample's four answers side by side.

For the selected sample a 2x2 grid (:class:`ui.widgets.response_pairs.ResponsePairsView`)
shows unimodal / multimodal (rows) x original / attacked (columns): the prompt sent,
thumbnails of the frames sent, the answer with the words that changed between original
and attacked marked, and the request's status with a retry button.
With an OpenAI model, Ask model can send through the Batch API (half price, up to 24 h).
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from harlab.attacks.samples import sample_rows
from harlab.errors import HarlabError
from harlab.llm.config import LLMConfig
from harlab.llm.pricing import format_cost
from harlab.llm.records import request_statuses
from harlab.llm.runner import usage_summary
from harlab.rating.supersede import follow_newest, keep_current, reask_warning
from harlab.stages import QueryConfig, query
from harlab.vocab import DEFAULT_NOISE_FLOOR, MODALITIES, SIDES
from ui.context import AppContext
from ui.widgets.job_controls import JobControls
from ui.widgets.reask_dialog import KEEP_RATED, confirm_reask
from ui.widgets.response_pairs import ResponsePairsView
from ui.widgets.scenario_editor import ScenarioEditorDialog

log = logging.getLogger(__name__)

BATCH_API_PROVIDER = "openai"  # the one provider whose server has the Batch API


def config_from_settings(ctx: AppContext) -> LLMConfig:
    """The LLMConfig the user chose in Settings: the context's one typed reader."""
    return ctx.llm_config()


class ResponsesPanel(QWidget):
    """Query the model for the project's samples and compare the answers."""

    BATCH_TIP = ("Ask model sends the requests through OpenAI's Batch API: half the price, "
                 "answers within 24 h. Stop, or a killed run, leaves the batch running on the "
                 "server: the next identical Ask resumes it instead of sending (and paying "
                 "for) it again. Retry and Ask again on a cell always ask directly.")

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        layout = QVBoxLayout(self)

        controls = QHBoxLayout()
        self.model_label = QLabel()
        controls.addWidget(self.model_label, 1)
        self.modality_checks = {m: QCheckBox(m.capitalize()) for m in MODALITIES}
        for check in self.modality_checks.values():
            check.setChecked(True)
            controls.addWidget(check)
        controls.addWidget(QLabel("Noise floor"))
        self.noise_spin = QSpinBox()
        self.noise_spin.setRange(0, 20)
        self.noise_spin.setValue(DEFAULT_NOISE_FLOOR)
        self.noise_spin.setToolTip("Ask each clean request this many more times, to measure how "
                                   "much answers vary with no attack at all")
        controls.addWidget(self.noise_spin)
        self.refresh_check = QCheckBox("Ignore stored answers")
        self.refresh_check.setToolTip("Ask again even when an identical request was answered")
        controls.addWidget(self.refresh_check)
        self.scenarios_button = QPushButton("Scenarios…")
        self.scenarios_button.clicked.connect(self._on_scenarios_clicked)
        controls.addWidget(self.scenarios_button)
        self.ask_button = QPushButton("Ask model")
        self.ask_button.clicked.connect(self._on_ask_clicked)
        controls.addWidget(self.ask_button)
        self.batch_check = QCheckBox("Batch API (half price, up to 24 h)")
        controls.addWidget(self.batch_check)
        # seconds between the Batch API's status checks; a test shortens it
        self.batch_poll_s = QueryConfig.batch_poll_s
        layout.addLayout(controls)

        status = QHBoxLayout()
        # Stop: requests in flight finish and are kept
        self.jobs = JobControls(ctx.runner, cancel_text="Stop")
        self.jobs.busy_changed.connect(self._update_buttons)
        self.stop_button, self.progress = self.jobs.cancel_button, self.jobs.progress
        self.message_label = self.jobs.status
        status.addWidget(self.jobs, 1)
        self.usage_label = QLabel()
        status.addWidget(self.usage_label)
        layout.addLayout(status)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        self.sample_list = QListWidget()
        self.sample_list.setMinimumWidth(250)
        self.sample_list.currentItemChanged.connect(self._on_sample_list_changed)
        splitter.addWidget(self.sample_list)
        self.pairs = ResponsePairsView()
        self.pairs.retry_requested.connect(self._on_cell_retry_requested)
        self.cells = self.pairs.cells
        self.similarity_labels = self.pairs.similarity_labels
        splitter.addWidget(self.pairs)
        splitter.setStretchFactor(1, 1)
        layout.addWidget(splitter, 1)

        ctx.project_changed.connect(self._on_ctx_project_changed)
        ctx.settings_changed.connect(self._on_ctx_settings_changed)
        ctx.sample_requested.connect(self._on_ctx_sample_requested)
        ctx.runner.finished.connect(self._on_runner_finished)
        self.reload()

    # ------------------------------------------------------------------ data
    def reload(self) -> None:
        """Re-read the samples and the answers of the current one."""
        try:
            config = config_from_settings(self.ctx)
            self.model_label.setText(f"Model: <b>{config.provider}:{config.model_name}</b>"
                                     + ("" if config.takes_images else " (text only)"))
        except HarlabError as exc:
            config = None
            self.model_label.setText(f"<span style='color:#a01010'>Settings: {exc}</span>")
        self._show_batch_choice(config)
        project = self.ctx.project
        current = self.current_sample_id()
        self.sample_list.blockSignals(True)
        self.sample_list.clear()
        if project is not None:
            statuses = request_statuses(project)
            for s in sample_rows(project, selected=True):
                st = statuses.get(s.id, [])
                mark = (f"{st.count('ok')}/4 ok" if st else "not asked") + (
                    f", {st.count('failed')} failed" if "failed" in st else "")
                item = QListWidgetItem(f"#{s.id} {s.true_label} → {s.adv_pred}\n    {mark}")
                item.setData(Qt.ItemDataRole.UserRole, s.id)
                self.sample_list.addItem(item)
                if s.id == current:
                    self.sample_list.setCurrentItem(item)
            if self.sample_list.currentRow() < 0 and self.sample_list.count():
                self.sample_list.setCurrentRow(0)
            self._show_usage()
        self.sample_list.blockSignals(False)
        self._show_sample(self.current_sample_id())
        self._update_buttons()

    def _show_batch_choice(self, config: LLMConfig | None) -> None:
        # only OpenAI serves /v1/files and /v1/batches; the built-in model refuses the Batch
        # API (LLMConfig.is_builtin) and so do the local servers
        offered = config is not None and config.provider == BATCH_API_PROVIDER
        self.batch_check.setEnabled(offered)
        self.batch_check.setToolTip(self.BATCH_TIP if offered else (
            self.BATCH_TIP + f" Only for the {BATCH_API_PROVIDER} provider (Settings); the "
                             "model chosen now is asked directly."))

    def current_sample_id(self) -> int | None:
        item = self.sample_list.currentItem()
        return None if item is None else int(item.data(Qt.ItemDataRole.UserRole))

    def _show_usage(self) -> None:
        summary = usage_summary(self.ctx.project)
        tokens = sum(m["prompt_tokens"] + m["completion_tokens"] for m in summary["models"])
        self.usage_label.setText(f"{tokens} tokens · {format_cost(summary['cost_usd'])}")
        self.usage_label.setToolTip(summary["note"])

    def _show_sample(self, sample_id: int | None) -> None:
        self.pairs.show_sample(self.ctx.project, sample_id)

    # ------------------------------------------------------------------ jobs
    def _start(self, sample_ids: list[int] | None, modalities: list[str], refresh: bool,
               noise_floor: int, batch_api: bool = False) -> None:
        project = self.ctx.project
        if project is None:
            self.jobs.show_message("Open or create a project first (File menu).")
            return
        try:
            config = config_from_settings(self.ctx)
            job = query(project, QueryConfig(
                config, tuple(modalities), noise_floor, refresh,
                None if sample_ids is None else tuple(sample_ids), batch_api=batch_api,
                batch_poll_s=self.batch_poll_s))
        except HarlabError as exc:
            self.jobs.show_error(str(exc))
            return
        self.jobs.run(job, "Query language model", self._on_job_succeeded)
        self.jobs.show_message(f"asking {config.provider}:{config.model_name}"
                               + (" through the Batch API (answers within 24 h)" if batch_api
                                  else "") + "…")

    @Slot()
    def _on_ask_clicked(self) -> None:
        modalities = [m for m, c in self.modality_checks.items() if c.isChecked()]
        if not modalities:
            self.jobs.show_message("Tick Unimodal, Multimodal or both.")
            return
        self._start(None, modalities, self.refresh_check.isChecked(), self.noise_spin.value(),
                    self.batch_check.isEnabledTo(self) and self.batch_check.isChecked())

    @Slot(str)
    def _on_cell_retry_requested(self, modality: str) -> None:
        sample_id = self.current_sample_id()
        if sample_id is None:
            return
        statuses = {self.cells[(modality, v)].status for v in SIDES}
        # Failed or missing answers are simply asked again; fine ones only with a refresh,
        # which makes a new draw: rated answers are kept, and the user says which pair counts.
        refresh = not statuses & {"failed", "missing"}
        warning = reask_warning(self.ctx.project, sample_id, modality) if refresh else None
        if warning is not None:
            choice = confirm_reask(self, warning)
            if choice is None:
                return
            if choice == KEEP_RATED:
                keep_current(self.ctx.project, sample_id, modality)
            else:
                follow_newest(self.ctx.project, sample_id, modality)
        self._start([sample_id], [modality], refresh, 0)

    def _on_job_succeeded(self, result: Any) -> None:
        self.message_label.setText(
            f"{result.asked} asked, {result.cached} from the store, {result.failed} failed, "
            f"{result.skipped} skipped · {result.tokens} tokens, "
            f"{format_cost(result.cost_usd)}")

    @Slot()
    def _on_runner_finished(self) -> None:
        self.reload()

    @Slot(object)
    def _on_ctx_project_changed(self, _project: object) -> None:
        self.reload()

    @Slot()
    def _on_ctx_settings_changed(self) -> None:
        self.reload()

    @Slot(int, str)
    def _on_ctx_sample_requested(self, sample_id: int, _modality: str) -> None:
        for row in range(self.sample_list.count()):
            if self.sample_list.item(row).data(Qt.ItemDataRole.UserRole) == sample_id:
                self.sample_list.setCurrentRow(row)
                return

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_sample_list_changed(self, _current: QListWidgetItem, _previous: object) -> None:
        self._show_sample(self.current_sample_id())
        self._update_buttons()

    @Slot()
    def _on_scenarios_clicked(self) -> None:
        if self.ctx.project is None:
            self.jobs.show_message("Open a project to edit its scenarios.")
            return
        ScenarioEditorDialog(self.ctx.project.root, self).exec()

    def _update_buttons(self, *_busy: object) -> None:
        busy = self.ctx.runner.busy
        has_project = self.ctx.project is not None
        self.ask_button.setEnabled(has_project and not busy)
        self.scenarios_button.setEnabled(has_project)
        for cell in self.cells.values():
            cell.retry_button.setEnabled(has_project and not busy and cell.status != "skipped"
                                         and self.current_sample_id() is not None)

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self.ctx.runner.busy:
            self.reload()

