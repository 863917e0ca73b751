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


def test_the_dataset_path_does_not_pick_the_recipe(panel: TrainPanel, ctx: AppContext,
                                                   tmp_path: Path):
    from harlab.paths import demo_dataset_dir
    from harlab.study.config import StudyConfig
    from harlab.study.export import save_study_config

    ctx.set_dataset_root(demo_dataset_dir())
    assert panel.preset.currentText() == "Paper recipe"
    project = Project.create(tmp_path / "study")
    save_study_config(project, StudyConfig.demo())
    ctx.set_project(project)  # a project's study decides, not the dataset's folder name
    assert panel.config() == StudyConfig.demo().train_config()


def test_a_stored_run_shows_its_recipe_and_curves(panel: TrainPanel, ctx: AppContext,
                                                  tmp_path: Path):
    from harlab.train.step_history import StepHistory

    project = Project.create(tmp_path / "runs")
    recipe = TrainConfig(**TINY_CONFIG, epochs=3)
    steps = StepHistory()
    for step in range(1, 7):
        steps.add(step, 2.0 / step, 1e-4 * step)
    history = [{"epoch": e, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.0,
                "val_acc": 0.4 + e / 10, "lr": 1e-4, "time_s": 2.0} for e in (1, 2, 3)]
    with project.run("train", recipe.to_dict(), name="resnet18 32px") as record:
        record.result = {"history": history, "steps": steps.to_dict(), "best_epoch": 3,
                         "best_val_acc": 0.7, "completed": True}
    ctx.set_project(project)
    assert panel.config() == recipe
    assert panel.preset.currentText().startswith("Run #")
    panel.curves.flush()
    assert list(panel.curves.loss_curve.getData()[0]) == [1, 2, 3, 4, 5, 6]
    assert not panel.curves.notes["loss"].empty and not panel.curves.notes["acc"].empty
    panel.preset.setCurrentText("Demo (fast CPU)")
    assert panel.config() == TrainConfig.demo()


def test_a_long_recipe_asks_first(ready: TrainPanel, qtbot):
    from harlab.data.ucf101 import UCF101

    qtbot.waitUntil(lambda: ready.ctx.dataset is not None or not ready.ctx.runner.busy,
                    timeout=20000)
    if ready.ctx.dataset is None:
        ready.ctx.dataset = UCF101(ready.ctx.dataset_root)
    asked = []
    ready.confirm_long = lambda _parent, estimate, _device: asked.append(estimate) or False
    ready.set_config(TrainConfig(**{**TINY_CONFIG, "image_size": 224}, epochs=10000))
    ready.start_button.click()
    assert asked and asked[0].seconds > 3600 and "Not started" in ready.status.text()
    assert not ready.ctx.runner.busy and "estimate: about" in ready.eta.text()


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
