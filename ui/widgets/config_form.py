"""One form for every config: editors built from the fields' metadata (:mod:`harlab.fields`).

A field's type picks the editor (bool: a check box, ``bool | None``: auto/true/false, int: a
spin box whose "none" is one below the range, float: a spin box, ``float | None``: a line that
may stay empty, tuple: a comma-separated line, str: a line); ``choices`` make a combo box (with
titles when they are a mapping), ``kind`` adds a Browse button (``dir``/``file``) or lets a
combo take free text (``editable``). The config validates; the form only collects values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from harlab.errors import InputError
from harlab.fields import hints, meta

INT_MAX = 2**31 - 1
#: A float editor's arrow step by its decimals (one unit of the shown precision otherwise).
STEPS = {1: 0.5, 2: 0.05, 3: 0.1}


class ConfigForm(QWidget):
    """Editors for the fields of a config dataclass.

    Args:
        cls: the config class.
        fields: the fields to edit, in order (default: every field with a label, except
            mappings); ``exclude`` drops some.
        inline: label/editor pairs side by side in one row instead of a form.

    Signals:
        changed(): an editor's value changed.
    """

    changed = Signal()

    def __init__(self, cls: type, fields: Iterable[str] | None = None, *,
                 exclude: Iterable[str] = (), inline: bool = False,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.cls = cls
        self._types = hints(cls)
        by_name = {f.name: f for f in dataclasses.fields(cls)}
        names = list(fields) if fields is not None else [
            f.name for f in dataclasses.fields(cls)
            if "label" in f.metadata and self._types[f.name][0] is not dict]
        self._fields = [by_name[n] for n in names if n not in set(exclude)]
        self.editors: dict[str, QWidget] = {}
        self.rows: dict[str, QWidget] = {}  # the editor, or its holder with a Browse button
        layout: Any = QHBoxLayout(self) if inline else QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for f in self._fields:
            editor = self._make_editor(f)
            editor.setToolTip(self._tooltip(f))
            self.editors[f.name] = editor
            row = self.rows[f.name] = self._with_browse(editor, f)
            label = meta(f, "label", f.name)
            if inline:
                layout.addWidget(QLabel(label))
                layout.addWidget(row, 1 if isinstance(editor, QLineEdit) else 0)
            else:
                layout.addRow(label, row)

    # ------------------------------------------------------------------ building
    def _make_editor(self, f: dataclasses.Field) -> QWidget:
        kind, optional = self._types[f.name]
        choices, low, high = meta(f, "choices"), meta(f, "low"), meta(f, "high")
        if choices is not None:
            editor = QComboBox()
            items = choices.items() if isinstance(choices, Mapping) else ((c, c) for c in choices)
            for value, title in items:
                editor.addItem(str(title), value)
            editor.setEditable(meta(f, "kind") in ("editable", "file"))
            editor.currentIndexChanged.connect(self.changed)
        elif kind is bool and optional:
            editor = QComboBox()
            editor.addItems([meta(f, "none_text", "none"), "true", "false"])
            editor.currentIndexChanged.connect(self.changed)
        elif kind is bool:
            editor = QCheckBox()
            editor.toggled.connect(self.changed)
        elif kind is int:
            editor = QSpinBox()
            bottom = int(low) if low is not None else 0
            editor.setRange(bottom - 1 if optional else bottom,
                            int(high) if high is not None else INT_MAX)
            if optional:
                editor.setSpecialValueText(meta(f, "none_text", "none"))
            editor.valueChanged.connect(self.changed)
        elif kind is float and not optional:
            editor = QDoubleSpinBox()
            decimals = meta(f, "decimals", 3)
            editor.setDecimals(decimals)
            editor.setRange(low if low is not None else 0.0,
                            high if high is not None else 1000.0)
            editor.setSingleStep(STEPS.get(decimals, 10.0 ** (1 - decimals)))
            editor.valueChanged.connect(self.changed)
        else:
            editor = QLineEdit()
            if optional:
                editor.setPlaceholderText(meta(f, "help", "") or "unset")
            editor.textChanged.connect(self.changed)
        editor.setObjectName(f.name)
        return editor

    @staticmethod
    def _tooltip(f: dataclasses.Field) -> str:
        text = meta(f, "help", "")
        low, high = meta(f, "low"), meta(f, "high")
        if low is not None and high is not None:
            text += ("; " if text else "") + f"range [{low:g}, {high:g}]"
        return text

    def _with_browse(self, editor: QWidget, f: dataclasses.Field) -> QWidget:
        if meta(f, "kind") not in ("dir", "file"):
            return editor
        button = QPushButton("Browse…")
        button.setProperty("field", f.name)
        button.clicked.connect(self._on_browse_clicked)
        holder = QWidget()
        row = QHBoxLayout(holder)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(editor, 1)
        row.addWidget(button)
        return holder

    # ------------------------------------------------------------------ values
    def set_config(self, config: Any) -> None:
        """Show the values of ``config`` (an instance of ``cls``)."""
        self.set_values({f.name: getattr(config, f.name) for f in self._fields})

    def set_values(self, values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            editor = self.editors[name]
            if isinstance(editor, QComboBox):
                index = editor.findData(value)
                if index < 0 and value is None:
                    index = 0  # a tri-state's auto
                elif index < 0 and isinstance(value, bool):
                    index = editor.findText(str(value).lower())
                if index >= 0:
                    editor.setCurrentIndex(index)
                else:
                    editor.setCurrentText(str(value))
            elif isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            elif isinstance(editor, QSpinBox):
                editor.setValue(editor.minimum() if value is None else int(value))
            elif isinstance(editor, QDoubleSpinBox):
                editor.setValue(float(value))
            elif isinstance(value, (tuple, list)):
                editor.setText(",".join(map(str, value)))
            else:
                editor.setText("" if value is None else str(value))

    def values(self) -> dict[str, Any]:
        """Each edited field's value (raises InputError for text that is not a number)."""
        return {f.name: self._value(f) for f in self._fields}

    def _value(self, f: dataclasses.Field) -> Any:
        kind, optional = self._types[f.name]
        editor = self.editors[f.name]
        if isinstance(editor, QComboBox):
            text = editor.currentText().strip()
            if kind is bool:
                return None if editor.currentIndex() == 0 else text == "true"
            data = editor.currentData()
            return data if data is not None and editor.itemText(editor.currentIndex()) == (
                editor.currentText()) else text
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        if isinstance(editor, QSpinBox):
            return None if optional and editor.value() == editor.minimum() else editor.value()
        if isinstance(editor, QDoubleSpinBox):
            return editor.value()
        text = editor.text().strip()
        if kind in (tuple, list):
            return tuple(part.strip() for part in text.split(",") if part.strip())
        if not text and optional:
            return None
        if kind is float:
            try:
                return float(text)
            except ValueError:
                raise InputError(f"{f.name} must be a number or empty, got {text!r}") from None
        return text

    def config(self, **overrides: Any) -> Any:
        """``cls`` built from the form (and ``overrides``); raises InputError naming a value."""
        return self.cls(**{**self.values(), **overrides})

    # ------------------------------------------------------------------ slots
    @Slot()
    def _on_browse_clicked(self) -> None:
        name = self.sender().property("field")
        f = next(f for f in self._fields if f.name == name)
        title = meta(f, "label", name)
        path = (QFileDialog.getOpenFileName(self, title)[0] if meta(f, "kind") == "file"
                else QFileDialog.getExistingDirectory(self, title))
        if path:
            self.set_values({name: path})
