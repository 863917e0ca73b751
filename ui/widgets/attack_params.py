"""The chosen attack's own parameters, edited in one row rebuilt from its registry spec.

The editors come from ``harlab.attacks.get_spec(name).params`` (name, default, type, help read
from the attack's signature), so a new attack's parameters appear here without a UI change.
Each parameter is a line edit holding the default as the CLI writes it (``--param
alpha=2/255``); booleans are check boxes. :meth:`AttackParamsForm.params` returns only the
values that differ from the defaults, parsed and checked by the spec (errors name the value).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QLineEdit, QWidget

from harlab.attacks import AttackSpec, ParamSpec, get_spec
from harlab.errors import InputError


def default_text(p: ParamSpec) -> str:
    """A parameter's default as ``--param`` would write it."""
    if p.default is None:
        return "none"
    if isinstance(p.default, tuple):
        return ",".join(str(v) for v in p.default)
    return str(p.default)


class AttackParamsForm(QWidget):
    """Editors for the parameters of the attack a combo box names.

    Args:
        combo: the attack selector (item data: the registry name); the row follows it.

    Signals:
        changed(): an editor's value changed, or another attack was chosen.
    """

    changed = Signal()

    def __init__(self, combo: QComboBox | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.editors: dict[str, QWidget] = {}
        self.spec: AttackSpec | None = None
        self.note = QLabel()
        self._combo = combo
        if combo is not None:
            combo.currentIndexChanged.connect(self._on_combo_index_changed)
            self._on_combo_index_changed(combo.currentIndex())

    # ------------------------------------------------------------------ building
    def set_attack(self, name: str) -> None:
        """Rebuild the row for attack ``name`` (raises InputError listing the valid names)."""
        spec = get_spec(name)
        if self.spec is not None and spec.name == self.spec.name:
            return
        while self._layout.count():
            widget = self._layout.takeAt(0).widget()
            if widget is not None and widget is not self.note:
                widget.deleteLater()
        self.spec, self.editors = spec, {}
        self._layout.addWidget(QLabel(f"{spec.title} parameters:" if spec.params
                                      else f"{spec.title}: no parameters"))
        for p in spec.params:
            editor = self._make_editor(p)
            editor.setObjectName(p.name)
            editor.setToolTip(f"{p.help} ({p.describe_type()}; default {default_text(p)})"
                              .strip())
            self.editors[p.name] = editor
            self._layout.addWidget(QLabel(p.name))
            self._layout.addWidget(editor)
        self.note.setText("eps is an L2 radius" if spec.norm == "l2" else "")
        self._layout.addWidget(self.note)
        self._layout.addStretch(1)
        self.changed.emit()

    def _make_editor(self, p: ParamSpec) -> QWidget:
        if p.type is bool and not p.optional:
            box = QCheckBox()
            box.setChecked(bool(p.default))
            box.toggled.connect(self.changed)
            return box
        edit = QLineEdit(default_text(p))
        edit.setMaximumWidth(110)
        edit.textChanged.connect(self.changed)
        return edit

    # ------------------------------------------------------------------ values
    def params(self) -> dict[str, Any]:
        """The values that differ from the defaults, typed (raises InputError on bad text)."""
        if self.spec is None:
            return {}
        out: dict[str, Any] = {}
        for p in self.spec.params:
            editor = self.editors[p.name]
            if isinstance(editor, QCheckBox):
                value = editor.isChecked()
            else:
                text = editor.text().strip()
                if text == default_text(p):
                    continue
                value = p.parse(text, self.spec.name)
            if value != p.default:
                out[p.name] = value
        return out

    def set_params(self, params: dict[str, Any]) -> None:
        """Show ``params`` (missing ones at their defaults) for the current attack."""
        if self.spec is None:
            raise InputError("choose an attack before setting its parameters")
        checked = self.spec.check_params(params)
        for p in self.spec.params:
            value = checked.get(p.name, p.default)
            editor = self.editors[p.name]
            if isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            else:
                editor.setText(default_text(ParamSpec(p.name, value, p.type)))

    @Slot(int)
    def _on_combo_index_changed(self, index: int) -> None:
        if self._combo is None or index < 0:
            return
        name = self._combo.itemData(index) or self._combo.itemText(index)
        self.set_attack(str(name))
