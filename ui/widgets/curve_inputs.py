"""The robustness curve's inputs: attacks, eps, threat model and each attack's own parameters.

Everything ``harlab curve`` takes about the attack points: ``--attack``, ``--eps``,
``--surrogate`` (:class:`SurrogatePicker`: none is the white-box threat model, else a
checkpoint the attack is crafted on while the target classifies) and ``--param`` (one
:class:`ui.widgets.attack_params.AttackParamsForm` per listed attack, the Attack tab's editor,
so each attack keeps its own values). :meth:`CurveInputs.points` builds the
:class:`harlab.attacks.report.ReportConfig`; after every edit the same check runs and a bad
value is shown below the inputs with the core's message.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from harlab.attacks import get_spec
from harlab.attacks.config import AttackConfig
from harlab.attacks.report import ReportConfig
from harlab.errors import HarlabError
from harlab.train.runs import best_checkpoint, train_runs
from ui.widgets.attack_params import AttackParamsForm

WHITE_BOX = "none: white box on the target"


class SurrogatePicker(QWidget):
    """The transfer threat model's surrogate: none, a trained checkpoint, or a chosen file.

    Signals:
        changed(): another surrogate was chosen.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(16)
        self.combo.setToolTip("transfer threat model: craft the attack on this classifier "
                              "checkpoint, classify with the target (as harlab curve "
                              "--surrogate); none: white box on the target")
        self.combo.currentIndexChanged.connect(self.changed)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._on_browse_clicked)
        box = QHBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.combo, 1)
        box.addWidget(self.browse_button)
        self._start_dir = ""
        self.set_project(None)

    def set_project(self, project: Any) -> None:
        """List ``project``'s trained checkpoints (newest first); the choice goes back to none."""
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem(WHITE_BOX, None)
        self._start_dir = ""
        if project is not None:
            target = best_checkpoint(project)
            self._start_dir = str(project.checkpoints_dir)
            for run in reversed(train_runs(project)):
                path = run.best_checkpoint
                if path is None or not path.is_file():
                    continue
                mark = " (the target)" if path == target else ""
                self.combo.addItem(f"#{run.id} {run.name}: {path.name}{mark}", str(path))
                self.combo.setItemData(self.combo.count() - 1, str(path),
                                       Qt.ItemDataRole.ToolTipRole)
        self.combo.setCurrentIndex(0)
        self.combo.blockSignals(False)
        self.changed.emit()

    def surrogate(self) -> str | None:
        """The chosen checkpoint's path, None for the white-box threat model."""
        data = self.combo.currentData()
        return None if data is None else str(data)

    def set_surrogate(self, path: str | Path | None) -> None:
        """Choose ``path`` (listed if it is not yet), or none."""
        if path is None:
            self.combo.setCurrentIndex(0)
            return
        index = self.combo.findData(str(path))
        if index < 0:
            self.combo.addItem(Path(path).name, str(path))
            index = self.combo.count() - 1
            self.combo.setItemData(index, str(path), Qt.ItemDataRole.ToolTipRole)
        self.combo.setCurrentIndex(index)

    @Slot()
    def _on_browse_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Surrogate checkpoint", self._start_dir,
                                              "Checkpoints (*.pt);;All files (*)")
        if path:
            self.set_surrogate(path)


class CurveInputs(QWidget):
    """Attacks, eps, surrogate and the listed attacks' parameters; the core checks them.

    Signals:
        changed(): an input changed (the inline check has run).
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.attacks_edit = QLineEdit("fgsm")
        self.attacks_edit.setToolTip("comma-separated attacks, as harlab curve --attack; the "
                                     "parameters of each appear below it")
        self.eps_edit = QLineEdit("2/255, 4/255, 8/255")
        self.eps_edit.setToolTip("comma-separated budgets, as harlab curve --eps (an L2 radius "
                                 "for the L2 attacks)")
        self.surrogate = SurrogatePicker()
        self.params_forms: dict[str, AttackParamsForm] = {}  # by registry name, kept when
        # an attack leaves the list so that its values are back when it returns
        self._params_box = QVBoxLayout()
        self._params_box.setContentsMargins(0, 0, 0, 0)
        inner = QWidget()
        inner.setLayout(self._params_box)
        self.params_area = QScrollArea()
        self.params_area.setWidget(inner)
        self.params_area.setWidgetResizable(True)
        self.params_area.setFrameShape(QFrame.Shape.NoFrame)
        self.params_area.viewport().setAutoFillBackground(False)  # the page's colour
        inner.setAutoFillBackground(False)
        self.params_area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.error_label = QLabel(wordWrap=True)
        self.error_label.setStyleSheet("color: #a01010")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setVisible(False)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        for widgets in ((QLabel("Attacks"), self.attacks_edit, QLabel("eps"), self.eps_edit),
                        (QLabel("Surrogate"), self.surrogate)):
            row = QHBoxLayout()
            for widget in widgets:
                row.addWidget(widget, 1 if widget in (self.attacks_edit, self.eps_edit,
                                                      self.surrogate) else 0)
            box.addLayout(row)
        box.addWidget(self.params_area)
        box.addWidget(self.error_label)
        self.attacks_edit.textChanged.connect(self._on_attacks_edit_changed)
        self.eps_edit.textChanged.connect(self._on_input_changed)
        self.surrogate.changed.connect(self._on_input_changed)
        self._on_attacks_edit_changed(self.attacks_edit.text())

    # ------------------------------------------------------------------ values
    def attack_names(self) -> list[str]:
        """The attacks as typed, in order (unknown names too: the core names them)."""
        return [a.strip() for a in self.attacks_edit.text().split(",") if a.strip()]

    def params(self) -> dict[str, dict[str, Any]]:
        """``{attack: {parameter: value}}`` for the listed attacks not at their defaults."""
        out = {}
        for name in self._known_names():
            values = self.params_forms[name].params()
            if values:
                out[name] = values
        return out

    def points(self, checkpoint: str | Path, dataset_root: str | Path,
               base: AttackConfig) -> ReportConfig:
        """The curve's points on ``checkpoint`` and ``dataset_root``; ``base`` gives device and
        keyframes (raises HarlabError with the core's message on a bad input)."""
        attacks = tuple(self.attack_names())
        eps = tuple(e.strip() for e in self.eps_edit.text().split(",") if e.strip())
        base = replace(base, attack=attacks[0] if attacks else "fgsm",
                       surrogate=self.surrogate.surrogate())
        return ReportConfig(base, attacks, eps, str(checkpoint), str(dataset_root),
                            params=self.params())

    def check(self) -> str:
        """Build the points with stand-in paths and show the core's error below, if any."""
        try:
            self.points("target.pt", "dataset", AttackConfig())
            message = ""
        except HarlabError as exc:
            message = str(exc)
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))
        return message

    # ------------------------------------------------------------------ forms
    def _known_names(self) -> list[str]:
        names = []
        for text in self.attack_names():
            try:
                name = get_spec(text).name
            except HarlabError:
                continue  # the check shows the registry's message with the valid names
            if name not in names:
                names.append(name)
        return names

    def _sync_forms(self) -> None:
        """One parameter row per listed attack, in the list's order."""
        names = self._known_names()
        while self._params_box.count():
            self._params_box.takeAt(0)
        for name in names:
            if name not in self.params_forms:
                form = AttackParamsForm()
                form.set_attack(name)
                form.changed.connect(self._on_input_changed)
                self.params_forms[name] = form
            self._params_box.addWidget(self.params_forms[name])
        shown = [n for n in names if self.params_forms[n].spec.params]
        for name, form in self.params_forms.items():
            form.setVisible(name in shown)  # an attack without parameters needs no row
        self.params_area.setVisible(bool(shown))
        if shown:  # up to 3 rows, then a scroll bar; room for the one of a row too wide
            rows = min(len(shown), 3)
            row_height = max(self.params_forms[n].sizeHint().height() for n in shown)
            bar = self.params_area.horizontalScrollBar().sizeHint().height()
            self.params_area.setFixedHeight(rows * row_height + bar
                                            + (rows - 1) * self._params_box.spacing())

    @Slot(str)
    def _on_attacks_edit_changed(self, _text: str) -> None:
        self._sync_forms()
        self._on_input_changed()

    @Slot()
    def _on_input_changed(self) -> None:
        self.check()
        self.changed.emit()
