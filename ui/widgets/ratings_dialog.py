"""Ratings: exchange rating files between annotators, then agreement and adjudication.

Two tabs, all reachable from the keyboard (Ctrl+Tab switches tabs, Tab moves between
fields, Enter presses the focused button, Esc closes):

- **Exchange**: export this project's ratings (everyone's or one annotator's) to a .jsonl or
  .csv file, with the blind A/B key revealed beside it (``NAME.blind_key.json``); import
  another annotator's file or project copy (row-by-row report; nothing is imported if any
  row is refused).
- **Agreement**: see :class:`ui.widgets.agreement_view.AgreementView`.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from harlab import rating
from harlab.errors import HarlabError
from harlab.rating.transfer import key_path
from ui.context import AppContext
from ui.widgets.agreement_view import AgreementView

EVERYONE = "(everyone)"


class ExchangeView(QWidget):
    """Export and import of rating files."""

    def __init__(self, ctx: AppContext, rubric: rating.Rubric, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx, self.rubric = ctx, rubric
        project = ctx.project
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.annotator_combo = QComboBox()
        self.annotator_combo.addItems([EVERYONE, *(a.name for a in rating.annotators(project))])
        form.addRow("Export ratings of", self.annotator_combo)
        self.export_edit = QLineEdit(str(project.root / "exports" / "ratings.jsonl"))
        form.addRow("to file (.jsonl or .csv)", self._with_browse(self.export_edit, True))
        self.export_button = QPushButton("&Export")
        self.export_button.clicked.connect(self._on_export_clicked)
        form.addRow("", self.export_button)
        self.import_edit = QLineEdit()
        self.import_edit.setPlaceholderText("another annotator's export, or a project copy")
        form.addRow("Import from", self._with_browse(self.import_edit, False))
        self.conflict_combo = QComboBox()
        self.conflict_combo.addItems(["keep", "replace"])
        self.conflict_combo.setToolTip("a rating here with another value: keep ours, or "
                                       "replace it with the imported one")
        form.addRow("On conflict", self.conflict_combo)
        self.import_button = QPushButton("&Import")
        self.import_button.clicked.connect(self._on_import_clicked)
        form.addRow("", self.import_button)
        layout.addLayout(form)
        self.report = QTextBrowser()
        layout.addWidget(self.report, 1)

    def _with_browse(self, edit: QLineEdit, save: bool) -> QWidget:
        holder = QWidget()
        row = QHBoxLayout(holder)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        button = QPushButton("Browse…")
        button.clicked.connect(lambda: self._browse(edit, save))
        row.addWidget(button)
        return holder

    def _browse(self, edit: QLineEdit, save: bool) -> None:
        kinds = "Ratings (*.jsonl *.csv)"
        path = (QFileDialog.getSaveFileName(self, "Export ratings", edit.text(), kinds)[0]
                if save else QFileDialog.getOpenFileName(self, "Import ratings",
                                                         edit.text(), kinds)[0])
        if path:
            edit.setText(path)

    @Slot()
    def _on_export_clicked(self) -> None:
        who = self.annotator_combo.currentText()
        out = Path(self.export_edit.text().strip()).expanduser()
        try:
            n = rating.export_ratings(self.ctx.project, out, None if who == EVERYONE else who)
        except (HarlabError, OSError) as exc:
            self._show(str(exc), error=True)
            return
        self._show(f"Exported {n} ratings ({who}) to {out}. The blind A/B key is revealed in "
                   f"{key_path(out).name}; send both files.")

    @Slot()
    def _on_import_clicked(self) -> None:
        source = self.import_edit.text().strip()
        if not source:
            self._show("Type or browse to a file to import.", error=True)
            return
        try:
            report = rating.import_ratings(self.ctx.project, Path(source).expanduser(),
                                           self.rubric,
                                           on_conflict=self.conflict_combo.currentText())
        except HarlabError as exc:
            self._show(str(exc), error=True)
            return
        notes = "".join(f"<br>· {html.escape(str(n))}" for n in
                        report.duplicates + report.conflicts)
        self.report.setHtml(html.escape(report.summary()) + notes)

    def _show(self, text: str, error: bool = False) -> None:
        body = html.escape(text)
        self.report.setHtml(f"<span style='color:#a01010'>{body}</span>" if error else body)


class RatingsDialog(QDialog):
    """Exchange and Agreement tabs.

    Signals:
        jump_requested(int, str): show this (sample, modality) in the Evaluate panel.
    """

    jump_requested = Signal(int, str)

    def __init__(self, ctx: AppContext, rubric: rating.Rubric, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Ratings: exchange, agreement, adjudication")
        self.resize(1180, 760)
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.exchange = ExchangeView(ctx, rubric)
        self.agreement = AgreementView(ctx, rubric)
        self.agreement.jump_requested.connect(self._on_agreement_jump_requested)
        self.tabs.addTab(self.exchange, "E&xchange")
        self.tabs.addTab(self.agreement, "&Agreement")
        layout.addWidget(self.tabs, 1)
        hint = QLabel("Ctrl+Tab: next tab · Tab: next field · Enter: press · Esc: close")
        hint.setStyleSheet("color:#555;")
        layout.addWidget(hint)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def done(self, result: int) -> None:  # noqa: D102 - Qt override
        if self.agreement.jobs.busy:  # closing mid-computation: stop the bootstrap
            self.agreement.jobs.runner.cancel()
        super().done(result)

    @Slot(int, str)
    def _on_agreement_jump_requested(self, sample_id: int, modality: str) -> None:
        self.jump_requested.emit(sample_id, modality)
        self.accept()
