"""Edit a project's scenarios (YAML); invalid text is refused with the line at fault."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from harlab.errors import InputError
from harlab.llm.scenarios import (
    BUNDLED_DIR,
    parse_scenario,
    project_scenarios_dir,
    save_scenario,
)

NEW_TEMPLATE = """\
name: my-scenario
title: My scenario
source: my own (not from the paper)
classes: [ClassName]
role: monitoring assistant
unimodal: >-
  As a {role}, the analysis results of the video footage are {label}, can you ...?
multimodal: >-
  As a {role}, could you please analyze the frames extracted from the video footage ...?
"""


class ScenarioEditorDialog(QDialog):
    """Pick a scenario file, edit it, check it, save it into ``PROJECT/scenarios/``."""

    def __init__(self, project_root: str | Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Scenarios")
        self.resize(760, 520)
        self.folder = project_scenarios_dir(project_root)
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.file_combo = QComboBox()
        self.file_combo.currentTextChanged.connect(self._on_file_combo_changed)
        top.addWidget(QLabel("File"))
        top.addWidget(self.file_combo, 1)
        self.new_button = QPushButton("New…")
        self.new_button.clicked.connect(self._on_new_clicked)
        top.addWidget(self.new_button)
        layout.addLayout(top)
        self.source_label = QLabel()
        self.source_label.setWordWrap(True)
        layout.addWidget(self.source_label)
        self.editor = QPlainTextEdit()
        self.editor.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.editor.textChanged.connect(self._on_editor_changed)
        layout.addWidget(self.editor, 1)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        layout.addWidget(self.error_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Close)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        buttons.accepted.connect(self._on_save_clicked)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._reload_files()

    def _files(self) -> dict[str, Path]:
        own = self.folder.is_dir() and any(self.folder.glob("*.y*ml"))
        folder = self.folder if own else BUNDLED_DIR
        return {p.name: p for p in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])}

    def _reload_files(self, select: str | None = None) -> None:
        self._paths = self._files()
        self.file_combo.blockSignals(True)
        self.file_combo.clear()
        self.file_combo.addItems(list(self._paths))
        self.file_combo.blockSignals(False)
        if select and select in self._paths:
            self.file_combo.setCurrentText(select)
        self._on_file_combo_changed(self.file_combo.currentText())

    @Slot(str)
    def _on_file_combo_changed(self, name: str) -> None:
        path = self._paths.get(name)
        if path is None:
            return
        where = ("this project's copy" if path.parent == self.folder
                 else "bundled; saving copies the scenarios into the project")
        self.source_label.setText(f"{path} ({where})")
        self.editor.setPlainText(path.read_text(encoding="utf-8"))

    @Slot()
    def _on_new_clicked(self) -> None:
        name, ok = QInputDialog.getText(self, "New scenario", "File name (.yaml)")
        if not ok or not name.strip():
            return
        name = name.strip() if name.strip().endswith((".yaml", ".yml")) else name.strip() + ".yaml"
        self._paths[name] = self.folder / name
        self.file_combo.addItem(name)
        self.file_combo.setCurrentText(name)
        self.editor.setPlainText(NEW_TEMPLATE)

    @Slot()
    def _on_editor_changed(self) -> None:
        try:
            parse_scenario(self.editor.toPlainText(), source=self.file_combo.currentText())
        except InputError as exc:
            self._show_error(str(exc))
        else:
            self._show_ok("valid")

    @Slot()
    def _on_save_clicked(self) -> bool:
        name = self.file_combo.currentText()
        try:
            save_scenario(self.folder, name, self.editor.toPlainText())
        except InputError as exc:
            self._show_error(f"not saved: {exc}")
            return False
        self._reload_files(select=name)
        self._show_ok(f"saved {self.folder / name}")
        return True

    def _show_error(self, message: str) -> None:
        self.error_label.setStyleSheet("color:#a01010;")
        self.error_label.setText(message)
        self.save_button.setEnabled(False)

    def _show_ok(self, message: str) -> None:
        self.error_label.setStyleSheet("color:#106010;")
        self.error_label.setText(message)
        self.save_button.setEnabled(True)
