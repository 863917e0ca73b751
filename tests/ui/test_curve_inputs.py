"""The robustness curve's inputs reach CurveConfig: surrogate, per-attack parameters, errors."""

from __future__ import annotations

import pytest

from harlab.errors import HarlabError
from harlab.store import Project
from harlab.study.curves import curve_point
from ui.widgets.curve_plot import CurveView


@pytest.fixture
def view(qtbot, ctx, tmp_path):
    """A CurveView on a project with two finished training runs (#2, the newest, the target)."""
    project = Project.create(tmp_path / "p")
    for run_id in (1, 2):
        best = project.checkpoints_dir / f"train-{run_id}" / "best.pt"
        best.parent.mkdir(parents=True)
        best.write_bytes(b"stand-in: the config is built, nothing loads it")
        run = project.start_run("train", {"dataset_root": str(tmp_path / "data")},
                                name=f"resnet18 run {run_id}")
        project.finish_run(run, "done", {"best_checkpoint": f"checkpoints/train-{run_id}/best.pt"})
    ctx.set_project(project)
    widget = CurveView(ctx)
    qtbot.addWidget(widget)
    return widget


def test_surrogate_and_parameters_reach_the_curve_config(view, tmp_path):
    picker, inputs = view.inputs.surrogate, view.inputs
    items = [picker.combo.itemText(i) for i in range(picker.combo.count())]
    assert items[0].startswith("none: white box") and picker.surrogate() is None
    assert "#2 resnet18 run 2: best.pt (the target)" in items[1]
    assert items[2] == "#1 resnet18 run 1: best.pt"
    config = view.config()
    assert config.points.base.surrogate is None and config.points.params == {}
    assert config.points.checkpoint.endswith("train-2/best.pt")

    view.attacks_edit.setText("fgsm, pgd")
    assert list(inputs.params_forms) == ["fgsm", "pgd"] and inputs.params_forms["fgsm"].isHidden()
    pgd = inputs.params_forms["pgd"]
    pgd.editors["steps"].setText("3")
    pgd.editors["random_start"].setChecked(False)
    picker.combo.setCurrentIndex(2)
    config = view.config()
    surrogate = str(tmp_path / "p" / "checkpoints" / "train-1" / "best.pt")
    assert config.points.params == {"pgd": {"steps": 3, "random_start": False}}
    assert config.points.base.surrogate == surrogate
    point = curve_point(config, "pgd", 4 / 255)
    assert point.surrogate == surrogate and point.params == {"steps": 3, "random_start": False}
    assert curve_point(config, "fgsm", 4 / 255).params == {}

    view.attacks_edit.setText("fgsm")  # pgd leaves the list: its values stay out of the config
    assert view.config().points.params == {} and pgd.isHidden()
    view.attacks_edit.setText("fgsm, PGD")  # and come back with it
    assert view.config().points.params["pgd"]["steps"] == 3


def test_a_browsed_surrogate_is_listed_and_chosen(view, tmp_path, monkeypatch):
    other = tmp_path / "elsewhere.pt"
    other.write_bytes(b"x")
    monkeypatch.setattr("ui.widgets.curve_inputs.QFileDialog.getOpenFileName",
                        lambda *a, **k: (str(other), ""))
    view.inputs.surrogate.browse_button.click()
    assert view.inputs.surrogate.combo.currentText() == "elsewhere.pt"
    assert view.config().points.base.surrogate == str(other)
    view.inputs.surrogate.set_surrogate(None)
    assert view.config().points.base.surrogate is None


def test_bad_values_are_shown_inline_with_the_core_message(view, qtbot):
    error = view.inputs.error_label
    assert error.isHidden()
    view.attacks_edit.setText("mifgsm")
    view.inputs.params_forms["mifgsm"].editors["decay"].setText("fast")
    assert not error.isHidden() and "'decay' must be a number" in error.text()
    with pytest.raises(HarlabError, match="'decay' must be a number"):
        view.config()
    view.run_button.click()  # refused with the same message, no job started
    assert "'decay' must be a number" in view.jobs.status.text()
    assert not view.ctx.runner.busy
    view.inputs.params_forms["mifgsm"].editors["decay"].setText("0.5")
    assert error.isHidden() and view.config().points.params == {"mifgsm": {"decay": 0.5}}
    view.attacks_edit.setText("fgsm, pgdx")
    assert "unknown attack 'pgdx'; valid attacks: fgsm" in error.text()
    view.attacks_edit.setText("fgsm")
    view.eps_edit.setText("2/255, lots")
    assert not error.isHidden() and "lots" in error.text()
