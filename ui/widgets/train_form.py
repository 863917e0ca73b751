"""The training recipe as a form built from :class:`harlab.train.config.TrainConfig`'s fields."""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from harlab.train.config import TrainConfig
from harlab.train.models import MODEL_REGISTRY, WEIGHT_CHOICES
from harlab.validation import DEVICE_CHOICES

PRESETS = {"Paper recipe": TrainConfig.paper, "Demo (fast CPU)": TrainConfig.demo}
LABELS = {
    "arch": "Architecture", "weights": "Start weights", "image_size": "Image size (px)",
    "frames_per_video": "Frames per video", "epochs": "Epochs", "batch_size": "Batch size",
    "lr": "Learning rate", "max_lr": "Cyclic max LR", "weight_decay": "Weight decay",
    "accumulate": "Accumulate batches", "lr_cycle_steps": "LR half-cycle (steps, 0=auto)",
    "flip": "Random horizontal flip", "jitter": "Colour jitter", "hue": "Hue jitter",
    "zoom": "Zoom / shift (not in paper)", "rotation_deg": "Rotation (±deg)",
    "val_fraction": "Validation groups share", "fold": "Fold", "seed": "Seed",
    "device": "Device", "amp": "Mixed precision (CUDA)", "channels_last": "Channels-last (CUDA)",
    "compile": "torch.compile (CUDA)",
}
FLOAT_DECIMALS = {"lr": 6, "max_lr": 6, "weight_decay": 4, "jitter": 2, "hue": 2, "zoom": 2,
                  "rotation_deg": 1, "val_fraction": 2}


class TrainConfigForm(QWidget):
    """Preset chooser plus one editor per TrainConfig field; ``config()`` builds the config."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.editors: dict[str, QWidget] = {}
        self.preset = QComboBox()
        self.preset.addItems(list(PRESETS))
        self.preset.currentTextChanged.connect(self._on_preset_changed)
        form = QFormLayout()
        form.addRow("Preset", self.preset)
        for f in dataclasses.fields(TrainConfig):
            editor = self._make_editor(f.name, f.default)
            self.editors[f.name] = editor
            form.addRow(LABELS.get(f.name, f.name), editor)
        box = QGroupBox("Recipe")
        box.setLayout(form)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(box)
        scroll.setMinimumWidth(360)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

    def _make_editor(self, name: str, default: Any) -> QWidget:
        if name == "arch":
            editor = QComboBox()
            editor.addItems(list(MODEL_REGISTRY))
        elif name == "device":
            editor = QComboBox()
            editor.addItems(list(DEVICE_CHOICES))
        elif name == "weights":
            return self._weights_editor()
        elif isinstance(default, bool):
            editor = QCheckBox()
        elif isinstance(default, int):
            editor = QSpinBox()
            editor.setRange(0, 10**7)
        else:
            editor = QDoubleSpinBox()
            decimals = FLOAT_DECIMALS.get(name, 4)
            editor.setDecimals(decimals)
            editor.setRange(0.0, 1000.0)
            editor.setSingleStep(10 ** -decimals * (10 if decimals > 3 else 5))
        return editor

    def _weights_editor(self) -> QWidget:
        editor = QComboBox(editable=True)
        editor.addItems(list(WEIGHT_CHOICES))
        editor.setToolTip("auto: ImageNet weights when torchvision has them cached, else from "
                          "scratch; imagenet: download if needed; none: scratch; or a weights "
                          "file")
        browse = QPushButton("…")
        browse.setMaximumWidth(30)
        browse.clicked.connect(self._on_browse_weights_clicked)
        holder = QWidget()
        row = QHBoxLayout(holder)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(editor, 1)
        row.addWidget(browse)
        holder.combo = editor  # type: ignore[attr-defined]
        return holder

    def set_config(self, config: TrainConfig) -> None:
        for name, value in config.to_dict().items():
            editor = self.editors[name]
            editor = getattr(editor, "combo", editor)
            if isinstance(editor, QComboBox):
                editor.setCurrentText(str(value))
            elif isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            else:
                editor.setValue(value)

    def config(self) -> TrainConfig:
        """The form as a TrainConfig; raises InputError for out-of-range values."""
        values: dict[str, Any] = {}
        for name, editor in self.editors.items():
            editor = getattr(editor, "combo", editor)
            if isinstance(editor, QComboBox):
                values[name] = editor.currentText().strip()
            elif isinstance(editor, QCheckBox):
                values[name] = editor.isChecked()
            else:
                values[name] = editor.value()
        return TrainConfig(**values)

    @Slot(str)
    def _on_preset_changed(self, name: str) -> None:
        self.set_config(PRESETS[name]())

    @Slot()
    def _on_browse_weights_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Weights file", "",
                                              "PyTorch weights (*.pt *.pth);;All files (*)")
        if path:
            self.editors["weights"].combo.setCurrentText(path)
