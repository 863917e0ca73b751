"""A demo project copied from another account or machine: its dataset folder is missing here.

Opening it, and pressing 'Run what is missing', must neither regenerate the demo dataset nor
re-point the project; the Overview says what is missing and offers both, for the user to pick.
"""

from __future__ import annotations

import json
import shutil

import pytest
from PySide6.QtCore import QSettings

import harlab.data.demo_data as demo_data
import harlab.study.runner as study_runner
from harlab import jobs
from harlab.store import Project
from harlab.study.config import StudyConfig
from harlab.study.runner import STEPS, StudyError, _mark, run_study
from tests.core.test_scoring_fixtures import make_project
from ui.context import AppContext
from ui.main_window import MainWindow


@pytest.fixture
def copied(tmp_path, monkeypatch):
    """A finished demo project, copied to a new folder; its demo dataset is not on this
    'machine' (HARLAB_DATA_DIR is empty) and generating one fails the test."""
    monkeypatch.setenv("HARLAB_DATA_DIR", str(tmp_path / "data-here"))
    calls = []

    def no_generation(*args, **kwargs):
        calls.append(args)
        raise AssertionError("the demo dataset was generated without the user's say")

    monkeypatch.setattr(demo_data, "ensure_demo_dataset_job", no_generation)
    monkeypatch.setattr(study_runner, "ensure_demo_dataset_job", no_generation)
    original, _ids = make_project(tmp_path / "made-elsewhere")
    config = StudyConfig.demo(per_class=2)
    original.set_meta("study/config", json.dumps(config.to_dict()))
    original.set_meta("dataset_root", "/home/someone-else/.local/share/harlab/demo-ucf101")
    for stage in STEPS:
        _mark(original, config, stage)
    original.close()
    shutil.copytree(tmp_path / "made-elsewhere", tmp_path / "copy")
    return tmp_path / "copy", calls


def _meta(path, key):
    with Project.open(path) as project:
        return project.get_meta(key)


def test_opening_a_copied_demo_project_changes_nothing(qtbot, tmp_path, copied):
    path, calls = copied
    window = MainWindow(AppContext(QSettings(str(tmp_path / "s.ini"),
                                             QSettings.Format.IniFormat)))
    qtbot.addWidget(window)
    window.show()
    board = window.overview
    qtbot.waitUntil(lambda: board.ready, timeout=60000)
    with qtbot.waitSignal(board.loaded, timeout=60000):
        assert window.open_project(path)
    assert board.dataset_notice.isVisibleTo(window)
    assert "does not exist here" in board.dataset_label.text()
    assert "Nothing has been regenerated" in board.dataset_label.text()
    assert board.regenerate_button.isVisibleTo(window)
    assert board.repoint_button.isVisibleTo(window)
    states = {board.stages.item(i, 0).text(): board.stages.item(i, 1).text()
              for i in range(board.stages.rowCount())}
    assert states["Data"] == "done, dataset missing here"

    board.run_button.click()  # 'Run what is missing' refuses instead of regenerating
    assert "dataset folder is missing" in board.status.text()
    qtbot.waitUntil(lambda: not window.ctx.runner.busy and not window.ctx.runner.queued,
                    timeout=60000)
    assert calls == []
    assert window.ctx.project.get_meta("dataset_root") == (
        "/home/someone-else/.local/share/harlab/demo-ucf101")
    assert not (tmp_path / "data-here" / "demo-ucf101").exists()
    window.close()
    assert _meta(path, "dataset_root") == "/home/someone-else/.local/share/harlab/demo-ucf101"


def test_the_study_runner_refuses_too(copied):
    path, calls = copied
    with Project.open(path) as project, pytest.raises(StudyError, match="does not exist here"
                                                      ".*nothing was regenerated"):
        jobs.run(run_study(project, StudyConfig.demo(per_class=2)))
    assert calls == []
    assert _meta(path, "dataset_root") == "/home/someone-else/.local/share/harlab/demo-ucf101"


def test_repointing_is_the_users_choice(qtbot, ctx, tmp_path, copied):
    from ui.panels.study_dashboard import StudyDashboard

    path, _calls = copied
    board = StudyDashboard(ctx)
    qtbot.addWidget(board)
    with qtbot.waitSignal(board.loaded, timeout=20000):
        ctx.set_project(Project.open(path))
    assert not board.repoint(tmp_path / "not-a-dataset")  # checked first, then refused
    assert "Not re-pointed" in board.status.text()
    assert ctx.project.get_meta("dataset_root").startswith("/home/someone-else")
