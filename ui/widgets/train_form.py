"""The training recipe: a preset chooser over a :class:`ConfigForm` of :class:`TrainConfig`."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from harlab.train.config import TrainConfig
from ui.widgets.config_form import ConfigForm

PRESETS = {"Paper recipe": TrainConfig.paper, "Demo (fast CPU)": TrainConfig.demo}


class TrainConfigForm(QWidget):
    """Preset chooser plus one editor per TrainConfig field; ``config()`` builds the config."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.preset = QComboBox()
        self.preset.addItems(list(PRESETS))
        self.preset.currentTextChanged.connect(self._on_preset_changed)
        self.fields = ConfigForm(TrainConfig)
        self.editors = self.fields.editors
        self.fields.set_config(TrainConfig())
        box = QGroupBox("Recipe")
        form = QFormLayout(box)
        form.addRow("Preset", self.preset)
        form.addRow(self.fields)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(box)
        scroll.setMinimumWidth(360)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

    def set_config(self, config: TrainConfig) -> None:
        self.fields.set_config(config)

    def config(self) -> TrainConfig:
        """The form as a TrainConfig; raises InputError for out-of-range values."""
        return self.fields.config()

    @Slot(str)
    def _on_preset_changed(self, name: str) -> None:
        self.set_config(PRESETS[name]())
