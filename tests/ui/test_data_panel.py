"""The Data panel on a tiny generated dataset; every decode runs in the job runner."""

from __future__ import annotations

from pathlib import Path

import pytest

import harlab.data.demo_data as demo_data
from harlab.jobs import run
from ui.context import AppContext
from ui.panels.data_panel import DataPanel

TINY = dict(classes=["Biking", "HandstandWalking"], groups=4, clips_per_group=1, seconds=0.4)


@pytest.fixture
def tiny_root(tmp_path: Path) -> Path:
    return run(demo_data.generate_demo_dataset(tmp_path / "tiny", **TINY))


@pytest.fixture
def panel(qtbot, ctx: AppContext) -> DataPanel:
    widget = DataPanel(ctx)
    qtbot.addWidget(widget)
    return widget


def _load(qtbot, panel: DataPanel, root: Path) -> None:
    with qtbot.waitSignal(panel.dataset_loaded, timeout=20000):
        panel.ctx.set_dataset_root(root)


def test_loads_classes_counts_and_report(qtbot, panel: DataPanel, tiny_root: Path):
    _load(qtbot, panel, tiny_root)
    table = panel.class_table
    assert table.rowCount() == 2
    assert [table.item(r, 1).text() for r in range(2)] == ["Biking", "HandstandWalking"]
    assert [(table.item(r, 2).text(), table.item(r, 3).text()) for r in range(2)] == \
        [("3", "1"), ("3", "1")]
    assert panel.video_list.count() == 8
    assert "no problems" in panel.report_view.toPlainText()
    table.selectRow(1)
    assert panel.video_list.count() == 4
    assert all("HandstandWalking" in panel.video_list.item(i).text() for i in range(4))


def test_fold_selector_reindexes(qtbot, panel: DataPanel, tiny_root: Path):
    _load(qtbot, panel, tiny_root)
    with qtbot.waitSignal(panel.dataset_loaded, timeout=20000) as blocker:
        panel.fold_combo.setCurrentIndex(2)
    assert blocker.args[0].fold == 3


def test_selecting_a_video_shows_keyframes_and_scrubber(qtbot, panel: DataPanel,
                                                        tiny_root: Path):
    _load(qtbot, panel, tiny_root)
    panel.k_spin.setValue(4)
    with qtbot.waitSignal(panel.video_loaded, timeout=20000) as blocker:
        panel.video_list.setCurrentRow(0)
    keyframes = blocker.args[0]
    assert len(keyframes.indices) == 4
    assert len(panel.strip.captions) == 4
    assert panel.strip.captions[0].startswith(f"#{keyframes.indices[0]} ")
    assert panel.slider.isEnabled() and panel.slider.maximum() == 9
    panel.slider.setValue(5)
    assert panel.frame_label.text().startswith("frame 5 ")
    assert not panel.frame_view.pixmap().isNull()
    panel.strip.frame_clicked.emit(3)
    assert panel.slider.value() == keyframes.indices[3]
    with qtbot.waitSignal(panel.video_loaded, timeout=20000) as blocker:
        panel.method_combo.setCurrentText("uniform")
    assert blocker.args[0].method == "uniform"


def test_validate_and_build_cache(qtbot, panel: DataPanel, tiny_root: Path, monkeypatch):
    monkeypatch.setenv("HARLAB_CACHE_DIR", str(tiny_root.parent / "cache"))
    _load(qtbot, panel, tiny_root)
    (tiny_root / "UCF-101/Biking/v_Biking_g02_c01.avi").write_bytes(b"")
    reports = []
    panel.report_ready.connect(reports.append)
    with qtbot.waitSignals([panel.report_ready, panel.ctx.runner.finished], timeout=20000):
        panel.validate_button.click()
    assert not reports[0].ok
    assert "v_Biking_g02_c01.avi" in panel.report_view.toPlainText()
    panel.frames_spin.setValue(3)
    panel.size_spin.setValue(16)
    with qtbot.waitSignal(panel.cache_built, timeout=20000) as blocker:
        panel.cache_button.click()
    cache = blocker.args[0]
    assert cache.split("train").frames.shape == (5 * 3, 16, 16, 3)
    assert "1 failed" in panel.status_label.text()


def test_bad_folder_shows_the_error(qtbot, panel: DataPanel, tmp_path: Path):
    with qtbot.waitSignal(panel.ctx.runner.finished, timeout=20000):
        panel.ctx.set_dataset_root(tmp_path / "does-not-exist")
    assert "does not exist" in panel.status_label.text()
    assert panel.dataset is None and not panel.cache_button.isEnabled()


def test_demo_button_generates_and_loads(qtbot, panel: DataPanel, monkeypatch):
    real = demo_data.ensure_demo_dataset_job
    monkeypatch.setattr(demo_data, "ensure_demo_dataset_job", lambda: real(**TINY))
    with qtbot.waitSignal(panel.dataset_loaded, timeout=30000) as blocker:
        panel.demo_button.click()
    assert blocker.args[0].classes == TINY["classes"]
    assert panel.ctx.dataset_root == str(demo_data.paths.demo_dataset_dir())


def test_keyframes_and_cache_start_from_the_projects_study(qtbot, tmp_path):
    import json

    from PySide6.QtCore import QSettings

    from harlab.store import Project
    from harlab.study.config import StudyConfig
    from ui.context import AppContext
    from ui.panels.data_panel import DataPanel

    ctx = AppContext(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    panel = DataPanel(ctx)
    qtbot.addWidget(panel)
    assert (panel.frames_spin.value(), panel.size_spin.value()) == (50, 224)  # the paper's
    project = Project.create(tmp_path / "p")
    project.set_meta("study/config", json.dumps(StudyConfig.demo().to_dict()))
    ctx.set_project(project)
    assert (panel.frames_spin.value(), panel.size_spin.value()) == (3, 64)
    assert panel.k_spin.value() == 5 and panel.method_combo.currentText() == "uniform"
    assert "Study settings: 5 keyframes" in panel.keyframe_source.text()
    ctx.runner.shutdown()
    project.close()
