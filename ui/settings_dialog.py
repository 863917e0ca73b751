"""Settings: paths and compute device (AppSettings) and the language model (LLMConfig).

Both forms are built from the dataclasses' fields, so a new field shows up here without a new
string key. Values are stored in QSettings through :func:`ui.context.write_settings` and read
back by the one reader, :func:`ui.context.read_llm_config`. API keys are never stored: only the
*name* of the environment variable that holds the key.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from typing import Any

from PySide6.QtCore import QSettings, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from harlab.errors import HarlabError, InputError
from harlab.llm.config import IMAGE_DETAILS, PROVIDER_PRESETS, LLMConfig
from harlab.settings import AppSettings
from ui.context import read_app_settings, read_llm_config, write_settings

LLM_LABELS = {
    "provider": "Provider", "base_url": "Base URL", "model": "Model",
    "api_key_env": "API key variable", "temperature": "Temperature", "seed": "Seed",
    "max_tokens": "Max tokens", "timeout_s": "Timeout per attempt (s)",
    "max_retries": "Retries", "backoff_s": "First retry delay (s)",
    "max_backoff_s": "Longest retry delay (s)", "concurrency": "Concurrent requests",
    "image_detail": "Image detail", "supports_images": "Model takes images",
}
TRISTATE = ("auto", "true", "false")


def _field_editor(name: str, hint: Any, choices: tuple[str, ...] | None) -> QWidget:
    """An editor for one dataclass field, chosen from its type."""
    if choices is not None:
        editor = QComboBox()
        editor.addItems(list(choices))
        return editor
    if hint == bool | None:
        editor = QComboBox()
        editor.addItems(list(TRISTATE))
        return editor
    if hint in (int, int | None):
        editor = QSpinBox()
        editor.setRange(-1 if hint == int | None else 0, 2**31 - 1)
        if hint == int | None:
            editor.setSpecialValueText("none")
        return editor
    if hint is float:
        editor = QDoubleSpinBox()
        editor.setDecimals(3)
        editor.setRange(0.0, 3600.0)
        editor.setSingleStep(0.1)
        return editor
    editor = QLineEdit()  # text, or a number that may be left unset (float | None)
    editor.setObjectName(name)
    if hint == float | None:
        editor.setPlaceholderText("unset: the provider's default")
    return editor


def _set_value(editor: QWidget, value: Any) -> None:
    if isinstance(editor, QComboBox):
        editor.setCurrentText("auto" if value is None and editor.findText("auto") >= 0
                              else str(value).lower() if isinstance(value, bool) else str(value))
    elif isinstance(editor, QSpinBox):
        editor.setValue(-1 if value is None else int(value))
    elif isinstance(editor, QDoubleSpinBox):
        editor.setValue(float(value))
    else:
        editor.setText("" if value is None else str(value))


def _get_value(editor: QWidget, hint: Any) -> Any:
    if isinstance(editor, QComboBox):
        text = editor.currentText()
        if hint == bool | None:
            return None if text == "auto" else text == "true"
        return text
    if isinstance(editor, QSpinBox):
        return None if hint == int | None and editor.value() < 0 else editor.value()
    if isinstance(editor, QDoubleSpinBox):
        return editor.value()
    text = editor.text().strip()
    if hint == float | None:
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            raise InputError(f"{editor.objectName()} must be a number or empty, got "
                             f"{text!r}") from None
    return None if not text and hint == str | None else text


class SettingsDialog(QDialog):
    """Edits :class:`AppSettings` and :class:`LLMConfig`; Ok stores both."""

    def __init__(self, settings: QSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("HARLab settings")
        self.setMinimumWidth(560)
        self._settings = settings
        self._llm_hints = typing.get_type_hints(LLMConfig)
        self._app_hints = typing.get_type_hints(AppSettings)
        self.app_editors: dict[str, QWidget] = {}
        self.llm_editors: dict[str, QWidget] = {}
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_app_box())
        layout.addWidget(self._build_llm_box())
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
            app = read_app_settings(settings)
        except HarlabError:
            app = AppSettings()
        try:
            llm = read_llm_config(settings)
        except HarlabError as exc:
            llm = LLMConfig()
            self.error_label.setText(f"Stored settings were invalid ({exc}); showing defaults.")
        self.set_app_settings(app)
        self.set_llm_config(llm)
        self.provider_combo.currentTextChanged.connect(self._on_provider_changed)
        self.key_env_edit.textChanged.connect(self._on_key_env_changed)
        self._on_provider_changed(self.provider_combo.currentText(), initial=True)

    # ------------------------------------------------------------------ building
    def _build_app_box(self) -> QGroupBox:
        box = QGroupBox("Paths and compute")
        form = QFormLayout(box)
        for f in dataclasses.fields(AppSettings):
            editor = _field_editor(f.name, self._app_hints[f.name], f.metadata.get("choices"))
            self.app_editors[f.name] = editor
            row: QWidget = editor
            if f.metadata.get("kind") in ("dir", "file"):
                row = self._with_browse(editor, f.metadata["label"], f.metadata["kind"])
            form.addRow(f.metadata["label"], row)
        self.dataset_edit = self.app_editors["dataset_root"]
        self.weights_edit = self.app_editors["weights_file"]
        self.device_combo = self.app_editors["device"]
        self.device_combo.setEditable(True)  # cuda:N
        return box

    def _build_llm_box(self) -> QGroupBox:
        box = QGroupBox("Language model")
        form = QFormLayout(box)
        choices = {"provider": tuple(PROVIDER_PRESETS), "image_detail": IMAGE_DETAILS}
        for f in dataclasses.fields(LLMConfig):
            editor = _field_editor(f.name, self._llm_hints[f.name], choices.get(f.name))
            self.llm_editors[f.name] = editor
            form.addRow(LLM_LABELS.get(f.name, f.name), editor)
            if f.name == "api_key_env":
                self.key_status = QLabel()
                form.addRow("", self.key_status)
        self.provider_combo = self.llm_editors["provider"]
        self.base_url_edit = self.llm_editors["base_url"]
        self.model_edit = self.llm_editors["model"]
        self.key_env_edit = self.llm_editors["api_key_env"]
        self.key_env_edit.setPlaceholderText("e.g. OPENAI_API_KEY")
        self.images_combo = self.llm_editors["supports_images"]
        self.images_combo.setToolTip("Whether the model accepts images (multimodal queries); "
                                     "auto guesses from the provider and model name")
        return box

    def _with_browse(self, edit: QLineEdit, label: str, kind: str) -> QWidget:
        button = QPushButton("Browse…")
        holder = QWidget()
        row = QHBoxLayout(holder)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        row.addWidget(button)
        button.setProperty("target", label)
        button.setProperty("kind", kind)
        button.clicked.connect(self._on_browse_clicked)
        edit.setProperty("browse_label", label)
        return holder

    # ------------------------------------------------------------------ form <-> configs
    def set_app_settings(self, app: AppSettings) -> None:
        for f in dataclasses.fields(AppSettings):
            _set_value(self.app_editors[f.name], getattr(app, f.name))

    def set_llm_config(self, config: LLMConfig) -> None:
        for f in dataclasses.fields(LLMConfig):
            _set_value(self.llm_editors[f.name], getattr(config, f.name))

    def app_settings(self) -> AppSettings:
        """The form's paths and device (raises InputError for a bad device)."""
        return AppSettings(**{name: _get_value(editor, self._app_hints[name])
                              for name, editor in self.app_editors.items()})

    def llm_config(self) -> LLMConfig:
        """The form's LLMConfig (raises InputError naming a bad value)."""
        return LLMConfig(**{name: _get_value(editor, self._llm_hints[name])
                            for name, editor in self.llm_editors.items()})

    # ------------------------------------------------------------------ slots
    @Slot()
    def _on_browse_clicked(self) -> None:
        button = self.sender()
        label, kind = button.property("target"), button.property("kind")
        path = (QFileDialog.getOpenFileName(self, label)[0] if kind == "file"
                else QFileDialog.getExistingDirectory(self, label))
        if path:
            edit = self.dataset_edit if kind == "dir" else self.weights_edit
            edit.setText(path)

    @Slot(str)
    def _on_provider_changed(self, name: str, initial: bool = False) -> None:
        preset = PROVIDER_PRESETS.get(name)
        if preset is None:
            return
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
        write_settings(self._settings, llm, app)
        super().accept()
