"""Opening a project shows what it holds, without running anything."""

from __future__ import annotations

import pytest

from harlab.store import Project
from tests.core.test_stages import HISTORY, _add_sample, _train_run


@pytest.fixture
def project(tmp_path):
    project = Project.create(tmp_path / "proj")
    _train_run(project, completed=True)
    best = project.checkpoints_dir / "t0" / "best.pt"
    with project.run("evaluate", {"checkpoint": str(best)}) as rec:
        rec.result = {"classes": ["a", "b"], "frame_top1": 0.5, "frame_top5": 1.0,
                      "video_top1": 0.75, "video_top5": 1.0, "per_class_acc": {"a": 1, "b": 0.5},
                      "confusion": [[2, 0], [1, 1]], "n_frames": 8, "n_videos": 4,
                      "checkpoint": str(best)}
    with project.run("sweep", {}) as rec:
        rec.result = {"eps": [0.0, 8 / 255], "success_rate": [0.0, 0.5], "flipped": [0, 1],
                      "n_videos": 2, "n_correct": 2, "per_class": {"Biking": [0.0, 0.5]},
                      "attack": "fgsm", "class_counts": {"Biking": [2, 2]}}
    _add_sample(project)
    _add_sample(project)
    return project


def test_train_panel_shows_the_stored_run(qtbot, ctx, project):
    from ui.panels.train_panel import TrainPanel

    panel = TrainPanel(ctx)
    qtbot.addWidget(panel)
    ctx.set_project(project)
    assert panel.runs_combo.count() == 1 and "r18" in panel.runs_combo.currentText()
    assert panel.table.rowCount() == len(HISTORY) and "★" in panel.table.item(0, 0).text()
    assert len(panel.curves.val_acc_curve.getData()[0]) == len(HISTORY)
    assert panel.confusion.matrix.tolist() == [[2, 0], [1, 1]]
    assert "75.0%" in panel.metrics.text()
    assert panel.evaluate_button.isEnabled() is False  # no dataset chosen yet
    assert not ctx.runner.busy


def test_attack_panel_shows_samples_and_last_sweep(qtbot, ctx, project):
    from ui.panels.attack_panel import AttackPanel

    panel = AttackPanel(ctx)
    qtbot.addWidget(panel)
    ctx.set_project(project)
    assert panel.samples_table.rowCount() == 2
    assert panel.checkpoint_edit.text().endswith("best.pt")
    x, y = panel.sweep_plot.curves["all classes"].getData()
    assert list(x) == [0, 8] and list(y) == [0, 50]
    assert "last recorded sweep" in panel.sweep_note.text()


def test_responses_panel_lists_stored_samples(qtbot, ctx, project):
    from ui.panels.responses_panel import ResponsesPanel

    ctx.set_project(project)
    panel = ResponsesPanel(ctx)
    qtbot.addWidget(panel)
    assert panel.sample_list.count() == 2 and "not asked" in panel.sample_list.item(0).text()
    assert panel.current_sample_id() is not None
