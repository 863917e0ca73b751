"""The Train panel on a tiny generated dataset: start, live curves, cancel, resume, evaluate."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

import harlab.data.demo_data as demo_data
from harlab.jobs import run
from harlab.store import Project
from harlab.train.config import TrainConfig
from ui.context import AppContext
from ui.panels.train_panel import TrainPanel

TINY = dict(classes=["Biking", "HandstandWalking"], groups=4, clips_per_group=1, seconds=0.4)
TINY_CONFIG = dict(image_size=32, frames_per_video=3, batch_size=4, accumulate=1,
                   weights="none", device="cpu", val_fraction=0.34, lr_cycle_steps=2)


@pytest.fixture
def ctx(tmp_path: Path):
    context = AppContext(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    yield context
    context.runner.shutdown()
    if context.project is not None:
        context.project.close()


@pytest.fixture
def panel(qtbot, ctx: AppContext) -> TrainPanel:
    widget = TrainPanel(ctx)
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def ready(ctx: AppContext, panel: TrainPanel, tmp_path: Path) -> TrainPanel:
    root = run(demo_data.generate_demo_dataset(tmp_path / "tiny", **TINY))
    ctx.set_project(Project.create(tmp_path / "proj"))
    ctx.set_dataset_root(root)
    return panel


def test_form_round_trips_config_and_presets(panel: TrainPanel):
    assert panel.preset.currentText() == "Paper recipe"
    assert panel.config() == TrainConfig()
    panel.preset.setCurrentText("Demo (fast CPU)")
    assert panel.config() == TrainConfig.demo()
    custom = TrainConfig(epochs=7, lr=2e-4, flip=False, arch="resnet34", weights="none")
    panel.set_config(custom)
    assert panel.config() == custom


def test_needs_a_project_and_a_dataset(panel: TrainPanel, ctx: AppContext, tmp_path: Path):
    assert not panel.start_button.isEnabled() and not panel.resume_button.isEnabled()
    assert "Open or create a project" in panel.notice.text()
    ctx.set_project(Project.create(tmp_path / "p"))
    assert "Choose a dataset" in panel.notice.text() and not panel.start_button.isEnabled()
    ctx.set_dataset_root(tmp_path)
    assert panel.start_button.isEnabled() and not panel.evaluate_button.isEnabled()


def test_demo_dataset_selects_the_demo_preset(panel: TrainPanel, ctx: AppContext):
    from harlab.paths import demo_dataset_dir

    ctx.set_dataset_root(demo_dataset_dir())
    assert panel.preset.currentText() == "Demo (fast CPU)"
    assert panel.config() == TrainConfig.demo()


def test_out_of_range_value_is_reported_inline(ready: TrainPanel):
    ready.set_config(TrainConfig(**TINY_CONFIG))
    ready._editors["image_size"].setValue(16)  # the editor keeps to the field's range
    assert ready.config().image_size == 32
    ready._editors["max_lr"].setValue(ready._editors["lr"].value() / 2)
    ready.start_button.click()
    assert "max_lr must be &gt;= lr for the cyclic schedule" in ready.status.text() or (
        "max_lr must be >= lr for the cyclic schedule" in ready.status.text())
    assert not ready.ctx.runner.busy


def test_bad_dataset_error_is_shown(qtbot, panel: TrainPanel, ctx: AppContext, tmp_path):
    ctx.set_project(Project.create(tmp_path / "p"))
    ctx.set_dataset_root(tmp_path / "nowhere")
    panel.set_config(TrainConfig(**TINY_CONFIG))
    with qtbot.waitSignal(panel.training_done, timeout=30000) as blocker:
        panel.start_button.click()
    assert blocker.args == [None]
    assert "does not exist" in panel.status.text()


@pytest.mark.slow
def test_train_cancel_resume_and_evaluate(qtbot, ready: TrainPanel):
    ctx = ready.ctx
    ready.set_config(TrainConfig(epochs=2, **TINY_CONFIG))

    def cancel_on_first_step(step):
        if type(step.data).__name__ == "TrainStep":
            ctx.runner.progress.disconnect(cancel_on_first_step)
            ready.cancel_button.click()

    ctx.runner.progress.connect(cancel_on_first_step)
    with qtbot.waitSignal(ready.training_done, timeout=60000) as blocker:
        ready.start_button.click()
    assert blocker.args == [None]
    assert "Cancelled" in ready.status.text()
    assert "from scratch" in ready.notice.text()
    qtbot.waitUntil(ready.resume_button.isEnabled, timeout=10000)
    assert ctx.project.runs("train")[-1]["status"] == "cancelled"

    with qtbot.waitSignal(ready.training_done, timeout=120000) as blocker:
        ready.resume_button.click()
    result = blocker.args[0]
    assert result is not None and result.epochs_done == 2
    assert ready.table.rowCount() == 2 and len(ready.history) == 2
    assert "★" in ready.table.item(result.best_epoch - 1, 0).text()
    curves = ready.curves
    assert curves.best_line.isVisible() and curves.best_line.value() == result.best_epoch
    assert len(curves.val_acc_curve.getData()[0]) == 2
    curves.flush()
    assert len(curves.loss_curve.getData()[0]) > 0 and len(curves.lr_curve.getData()[0]) > 0
    qtbot.waitUntil(ready.evaluate_button.isEnabled, timeout=10000)  # runner's thread ended
    assert not ready.resume_button.isEnabled()

    with qtbot.waitSignal(ready.evaluation_done, timeout=60000) as blocker:
        ready.evaluate_button.click()
    evaluation = blocker.args[0]
    assert ready.confusion.matrix.shape == (2, 2)
    assert ready.confusion.matrix.sum() == evaluation.n_videos
    assert "Video" in ready.metrics.text()
    assert ctx.project.runs("evaluate")[-1]["status"] == "done"
