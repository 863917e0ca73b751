"""Settings: paths and compute device (AppSettings) and the language model (LLMConfig).

Both forms are :class:`~ui.widgets.config_form.ConfigForm`s built from the dataclasses' field
metadata, so a new field shows up here without any code in this file. Ok stores both through
:meth:`ui.context.AppContext.save_settings`. API keys are never stored: only the *name* of the
environment variable that holds the key.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from harlab.errors import HarlabError
from harlab.llm.config import PROVIDER_PRESETS, LLMConfig
from harlab.settings import AppSettings
from ui.context import AppContext
from ui.widgets.config_form import ConfigForm


class SettingsDialog(QDialog):
    """Edits :class:`AppSettings` and :class:`LLMConfig`; Ok stores both."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("HARLab settings")
        self.setMinimumWidth(560)
        self._ctx = ctx
        self.app_form = ConfigForm(AppSettings)
        self.llm_form = ConfigForm(LLMConfig)
        self.app_editors, self.llm_editors = self.app_form.editors, self.llm_form.editors
        self.device_combo = self.app_editors["device"]
        self.provider_combo = self.llm_editors["provider"]
        self.base_url_edit = self.llm_editors["base_url"]
        self.model_edit = self.llm_editors["model"]
        self.key_env_edit = self.llm_editors["api_key_env"]
        self.key_env_edit.setPlaceholderText("e.g. OPENAI_API_KEY")
        self.key_status = QLabel()
        below_key = list(self.llm_editors).index("api_key_env") + 1
        self.llm_form.layout().insertRow(below_key, "", self.key_status)
        layout = QVBoxLayout(self)
        for title, form in (("Paths and compute", self.app_form),
                            ("Language model", self.llm_form)):
            box = QGroupBox(title)
            QVBoxLayout(box).addWidget(form)
            layout.addWidget(box)
        self.error_label = QLabel()
        self.error_label.setStyleSheet("color:#b00020;")
        self.error_label.setWordWrap(True)
        layout.addWidget(self.error_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

        try:
            app = ctx.app_settings()
        except HarlabError:
            app = AppSettings()
        try:
            llm = ctx.llm_config()
        except HarlabError as exc:
            llm = LLMConfig()
            self.error_label.setText(f"Stored settings were invalid ({exc}); showing defaults.")
        self.set_app_settings(app)
        self.set_llm_config(llm)
        self.provider_combo.currentTextChanged.connect(self._on_provider_changed)
        self.key_env_edit.textChanged.connect(self._on_key_env_changed)
        self._on_provider_changed(self.provider_combo.currentText(), initial=True)

    # ------------------------------------------------------------------ form <-> configs
    def set_app_settings(self, app: AppSettings) -> None:
        self.app_form.set_config(app)

    def set_llm_config(self, config: LLMConfig) -> None:
        self.llm_form.set_config(config)

    def app_settings(self) -> AppSettings:
        """The form's paths and device (raises InputError for a bad device)."""
        return self.app_form.config()

    def llm_config(self) -> LLMConfig:
        """The form's LLMConfig (raises InputError naming a bad value)."""
        return self.llm_form.config()

    # ------------------------------------------------------------------ slots
    @Slot(str)
    def _on_provider_changed(self, name: str, initial: bool = False) -> None:
        preset = PROVIDER_PRESETS.get(name)
        if preset is None:
            return
        self.provider_combo.setToolTip(preset.label)
        self.base_url_edit.setPlaceholderText(preset.base_url or "started automatically")
        self.model_edit.setPlaceholderText(preset.default_model or "")
        if not initial:
            self.key_env_edit.setText(preset.api_key_env or "")
        self._on_key_env_changed(self.key_env_edit.text())

    @Slot(str)
    def _on_key_env_changed(self, name: str) -> None:
        if not name:
            self.key_status.setText("no key needed")
        elif os.environ.get(name):
            self.key_status.setText(f"${name} is set in this environment")
        else:
            self.key_status.setText(f"${name} is not set: export {name}=... before starting "
                                    "HARLab")

    def accept(self) -> None:
        try:
            llm, app = self.llm_config(), self.app_settings()
        except HarlabError as exc:
            self.error_label.setText(str(exc))
            return
        self._ctx.save_settings(llm, app)
        super().accept()
