"""Settings: paths, compute device and the language-model provider.

Stored with QSettings (UI preferences only). API keys are never stored: only the *name* of the
environment variable that holds the key.
"""

from __future__ import annotations

import os

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

DEVICES = ("auto", "cpu", "cuda")
IMAGE_DETAILS = ("auto", "low", "high")


def provider_presets() -> dict[str, object]:
    """The LLM provider presets from the core (name -> preset with base_url, default_model...)."""
    try:
        from harlab.llm.config import PROVIDER_PRESETS
    except ImportError:
        return {}
    return dict(PROVIDER_PRESETS)


class SettingsDialog(QDialog):
    def __init__(self, settings: QSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("HARLab settings")
        self.setMinimumWidth(560)
        self._settings = settings
        self._presets = provider_presets()
        layout = QVBoxLayout(self)

        paths = QGroupBox("Paths")
        form = QFormLayout(paths)
        self.dataset_edit = self._path_row(form, "Default dataset folder", "data/dataset_root")
        self.weights_edit = self._path_row(form, "ImageNet weights file (optional)",
                                           "train/weights_file", file=True)
        layout.addWidget(paths)

        compute = QGroupBox("Compute")
        form = QFormLayout(compute)
        self.device_combo = QComboBox()
        self.device_combo.addItems(DEVICES)
        self.device_combo.setCurrentText(str(settings.value("compute/device", "auto")))
        form.addRow("Device", self.device_combo)
        layout.addWidget(compute)

        llm = QGroupBox("Language model")
        form = QFormLayout(llm)
        self.provider_combo = QComboBox()
        self.provider_combo.addItems(list(self._presets) or ["builtin"])
        self.provider_combo.setCurrentText(str(settings.value("llm/provider", "builtin")))
        self.provider_combo.currentTextChanged.connect(self._on_provider_changed)
        form.addRow("Provider", self.provider_combo)
        self.base_url_edit = QLineEdit(str(settings.value("llm/base_url", "") or ""))
        self.base_url_edit.setPlaceholderText("preset default")
        form.addRow("Base URL", self.base_url_edit)
        self.model_edit = QLineEdit(str(settings.value("llm/model", "") or ""))
        self.model_edit.setPlaceholderText("preset default")
        form.addRow("Model", self.model_edit)
        self.key_env_edit = QLineEdit(str(settings.value("llm/api_key_env", "") or ""))
        self.key_env_edit.setPlaceholderText("e.g. OPENAI_API_KEY")
        self.key_env_edit.textChanged.connect(self._on_key_env_changed)
        self.key_status = QLabel()
        form.addRow("API key variable", self.key_env_edit)
        form.addRow("", self.key_status)
        self.temperature_spin = QDoubleSpinBox()
        self.temperature_spin.setRange(0.0, 2.0)
        self.temperature_spin.setSingleStep(0.1)
        self.temperature_spin.setValue(float(settings.value("llm/temperature", 0.0)))
        form.addRow("Temperature", self.temperature_spin)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(-1, 2**31 - 1)
        self.seed_spin.setSpecialValueText("none")
        seed = settings.value("llm/seed", 0)
        self.seed_spin.setValue(-1 if seed in ("", None) else int(seed))
        form.addRow("Seed", self.seed_spin)
        self.max_tokens_spin = QSpinBox()
        self.max_tokens_spin.setRange(1, 32768)
        self.max_tokens_spin.setValue(int(settings.value("llm/max_tokens", 256)))
        form.addRow("Max tokens", self.max_tokens_spin)
        self.concurrency_spin = QSpinBox()
        self.concurrency_spin.setRange(1, 64)
        self.concurrency_spin.setValue(int(settings.value("llm/concurrency", 4)))
        form.addRow("Concurrent requests", self.concurrency_spin)
        self.detail_combo = QComboBox()
        self.detail_combo.addItems(IMAGE_DETAILS)
        self.detail_combo.setCurrentText(str(settings.value("llm/image_detail", "auto")))
        form.addRow("Image detail", self.detail_combo)
        self.images_combo = QComboBox()
        self.images_combo.addItems(["auto", "true", "false"])
        self.images_combo.setToolTip("Whether the model accepts images (multimodal queries); "
                                     "auto guesses from the provider and model name")
        self.images_combo.setCurrentText(str(settings.value("llm/supports_images", "auto")))
        form.addRow("Model takes images", self.images_combo)
        layout.addWidget(llm)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._on_provider_changed(self.provider_combo.currentText(), initial=True)

    def _path_row(self, form: QFormLayout, label: str, key: str, *, file: bool = False
                  ) -> QLineEdit:
        edit = QLineEdit(str(self._settings.value(key, "") or ""))
        button = QPushButton("Browse…")
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        row.addWidget(button)
        holder = QWidget()
        holder.setLayout(row)
        row.setContentsMargins(0, 0, 0, 0)
        form.addRow(label, holder)

        def browse() -> None:  # runs in the GUI thread (a button click)
            path = (QFileDialog.getOpenFileName(self, label)[0] if file
                    else QFileDialog.getExistingDirectory(self, label))
            if path:
                edit.setText(path)

        button.clicked.connect(browse)
        edit.setProperty("settings_key", key)
        return edit

    @Slot(str)
    def _on_provider_changed(self, name: str, initial: bool = False) -> None:
        preset = self._presets.get(name)
        if preset is None:
            return
        self.base_url_edit.setPlaceholderText(getattr(preset, "base_url", None)
                                              or "started automatically")
        self.model_edit.setPlaceholderText(getattr(preset, "default_model", "") or "")
        if not initial or not self.key_env_edit.text():
            self.key_env_edit.setText(getattr(preset, "api_key_env", None) or "")
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
        s = self._settings
        for edit in (self.dataset_edit, self.weights_edit):
            s.setValue(edit.property("settings_key"), edit.text().strip())
        s.setValue("compute/device", self.device_combo.currentText())
        s.setValue("llm/provider", self.provider_combo.currentText())
        s.setValue("llm/base_url", self.base_url_edit.text().strip())
        s.setValue("llm/model", self.model_edit.text().strip())
        s.setValue("llm/api_key_env", self.key_env_edit.text().strip())
        s.setValue("llm/temperature", self.temperature_spin.value())
        s.setValue("llm/seed", "" if self.seed_spin.value() < 0 else self.seed_spin.value())
        s.setValue("llm/max_tokens", self.max_tokens_spin.value())
        s.setValue("llm/concurrency", self.concurrency_spin.value())
        s.setValue("llm/image_detail", self.detail_combo.currentText())
        s.setValue("llm/supports_images", self.images_combo.currentText())
        s.sync()
        super().accept()
