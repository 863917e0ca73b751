"""The training recipe: a preset chooser over a :class:`ConfigForm` of :class:`TrainConfig`.

The form follows what the user looks at: a stored run shows that run's recipe (the chooser
then reads "Run #N"), so Start repeats what is on screen, never a preset the user did not pick.
:func:`confirm_long_run` says how long a recipe will take here before a long one starts.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QMessageBox,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from harlab.train.config import TrainConfig
from harlab.train.estimate import TrainEstimate
from ui.widgets.config_form import ConfigForm

PRESETS = {"Paper recipe": TrainConfig.paper, "Demo (fast CPU)": TrainConfig.demo}
LONG_RUN_S = 15 * 60  # ask before starting a run expected to take longer


def confirm_long_run(parent: QWidget, estimate: TrainEstimate, device: str) -> bool:
    """Ask before a long run; True to start."""
    if estimate.seconds < LONG_RUN_S:
        return True
    answer = QMessageBox.question(
        parent, "A long training run",
        f"This recipe trains {estimate.frames_per_epoch:,} frames per epoch; on this machine "
        f"({device}) that takes {estimate.describe()}.\n\nThe Demo preset trains in a few "
        "minutes on a CPU. Start this recipe anyway?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


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

    def show_recipe(self, config: TrainConfig, source: str = "") -> None:
        """Show ``config``; the chooser names the preset it equals, else ``source``."""
        name = next((n for n, make in PRESETS.items() if make() == config), "")
        self.preset.blockSignals(True)
        for i in range(self.preset.count() - 1, len(PRESETS) - 1, -1):
            self.preset.removeItem(i)  # the previous run's entry
        if not name and source:
            self.preset.addItem(source)
            name = source
        if name:
            self.preset.setCurrentText(name)
        self.preset.blockSignals(False)
        self.set_config(config)

    def config(self) -> TrainConfig:
        """The form as a TrainConfig; raises InputError for out-of-range values."""
        return self.fields.config()

    @Slot(str)
    def _on_preset_changed(self, name: str) -> None:
        if name in PRESETS:
            self.set_config(PRESETS[name]())
