"""The Overview's stage table fills the width it is given: no dead strip beside it."""

from __future__ import annotations

import json

import pytest
from PySide6.QtWidgets import QApplication

from harlab.study.config import StudyConfig
from tests.core.test_scoring_fixtures import make_project
from ui.panels.study_dashboard import StudyDashboard


@pytest.mark.parametrize("size", [(1280, 820), (1600, 900)])
def test_the_stage_columns_span_the_table(qtbot, ctx, tmp_path, size):
    project, _ids = make_project(tmp_path / "p")
    project.set_meta("study/config", json.dumps(StudyConfig.demo(per_class=2).to_dict()))
    board = StudyDashboard(ctx)
    qtbot.addWidget(board)
    board.resize(*size)
    board.show()
    qtbot.waitExposed(board)
    with qtbot.waitSignal(board.loaded, timeout=20000):
        ctx.set_project(project)
    QApplication.processEvents()  # let the layout settle after the rows arrived
    table, header = board.stages, board.stages.horizontalHeader()
    width = table.viewport().width()
    assert width > 1000  # the table itself takes the window's width
    used = sum(header.sectionSize(j) for j in range(table.columnCount()))
    assert used == width, f"columns use {used} of {width} px: a dead strip beside them"
    for j in range(table.columnCount() - 1):  # the short columns fit their longest text
        needed = max(table.sizeHintForColumn(j), header.sectionSizeHint(j))
        assert header.sectionSize(j) >= needed
    # the table shows every row: no strip below them either, and no scroll bar
    rows = sum(table.rowHeight(i) for i in range(table.rowCount()))
    assert table.viewport().height() - rows < table.rowHeight(0)
    assert not table.verticalScrollBar().isVisible()
