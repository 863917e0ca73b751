"""The Attack panel on a tiny on-disk dataset and an untrained 3-class ResNet-18 (32 px)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from harlab.store import Project
from ui.context import AppContext
from ui.panels.attack_panel import SWEEP_EPS_255, AttackPanel

CLASSES = ["BabyCrawling", "Biking", "Other"]
WAIT_MS = 120_000


def _write_dataset(root: Path) -> None:
    import cv2

    from harlab.data.ucf101 import write_split_files

    entries = []
    rng = np.random.default_rng(0)
    for i, cls in enumerate(CLASSES):
        (root / "UCF-101" / cls).mkdir(parents=True, exist_ok=True)
        for group in (1, 2, 3):
            for clip in (1, 2):
                path = root / "UCF-101" / cls / f"v_{cls}_g{group:02d}_c{clip:02d}.avi"
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (40, 30))
                for _ in range(6):
                    base = 60 + 70 * i
                    writer.write(np.clip(base + rng.integers(-40, 40, (30, 40, 3)), 0, 255)
                                 .astype(np.uint8))
                writer.release()
                entries.append((cls, group, clip))
    write_split_files(root / "ucfTrainTestlist", CLASSES, entries, n_groups=3)


@pytest.fixture
def setup(qtbot, tmp_path):
    import torch

    from harlab.attacks.selection import write_pngs
    from harlab.train.checkpoint import save_checkpoint
    from harlab.train.models import build_model

    root = tmp_path / "data"
    _write_dataset(root)
    project = Project.create(tmp_path / "proj")
    torch.manual_seed(0)
    model, _ = build_model("resnet18", 3, weights="none")
    save_checkpoint(project.checkpoints_dir / "train-1" / "best.pt", model=model,
                    classes=CLASSES, image_size=32, config={}, metrics={})
    run = project.start_run("train", {"dataset_root": str(root)})
    project.finish_run(run, "done", {"best_checkpoint": "checkpoints/train-1/best.pt"})
    project.set_meta("dataset_root", str(root))
    # One stored sample, as find_samples writes them.
    frames = np.full((2, 32, 32, 3), 90, np.uint8)
    folder = project.frames_dir / "attack-0000" / "v_Biking_g01_c01"
    clean = write_pngs(folder, "clean", frames)
    adv = write_pngs(folder, "adv", frames + 8)
    sample_id = project.insert(
        "samples", video="Biking/v_Biking_g01_c01.avi", true_label="Biking", true_index=1,
        keyframes_json="[1, 4]", timestamps_json="[0.04, 0.16]", attack="fgsm", eps=8 / 255,
        clean_pred="Biking", clean_conf=0.5, adv_pred="Other", adv_conf=0.6,
        clean_top5_json="[]", adv_top5_json="[]",
        clean_frames_json=json.dumps([project.relpath(p) for p in clean]),
        adv_frames_json=json.dumps([project.relpath(p) for p in adv]), survives_png=1,
        created_at=time.time())
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("compute/device", "cpu")
    ctx = AppContext(settings)
    panel = AttackPanel(ctx)
    qtbot.addWidget(panel)
    panel.resize(1400, 900)
    panel.keyframes_spin.setValue(2)
    with qtbot.waitSignal(ctx.runner.finished, timeout=WAIT_MS):
        ctx.set_project(project)  # also announces the project's dataset: indexing starts
    yield panel, ctx, project, sample_id
    ctx.runner.shutdown()
    ctx.set_project(None)


def test_panel_attacks_video_and_reruns_on_eps_change(qtbot, setup, tmp_path):
    panel, ctx, project, _ = setup
    assert panel.checkpoint_edit.text().endswith("best.pt")
    assert panel.video_list.count() == 6  # group 1 of 3 classes x 2 clips is fold 1's test
    with qtbot.waitSignal(ctx.runner.finished, timeout=WAIT_MS):
        panel.video_list.setCurrentRow(0)
    view = panel._view
    assert view is not None and view.source == "live"
    assert view.attack.clean_frames.shape == (2, 32, 32, 3)
    assert panel.grid.images["adv"].image.shape == (32, 32, 3)
    assert panel.grid.images["pert"].image.shape == (32, 32)
    assert panel.grid.images["cam_adv"].image.shape == (32, 32)
    assert panel.strip.captions[0].startswith("#")
    bars = panel.top5.values("adv")
    assert len(bars) == 3 and sum(bars) == pytest.approx(1, abs=1e-4)
    assert "8/255" in panel.eps_label.text()
    # frame-level and video-level predictions are labelled; the shown keyframe is marked
    assert "this frame" in panel.grid.plots["clean"].titleLabel.text
    assert "Whole video" in panel.top5.plots["clean"].titleLabel.text
    assert "Video-level prediction" in panel.verdict.text()
    assert panel.strip.current == 0
    panel.strip.frame_clicked.emit(1)
    assert panel.strip.current == 1
    assert "keyframe 2/2" in panel.grid.plots["clean"].titleLabel.text

    with qtbot.waitSignal(ctx.runner.finished, timeout=WAIT_MS):
        panel.eps_slider.setValue(16)
    assert panel._view is not view and panel._view.attack.eps == pytest.approx(16 / 255)
    assert np.abs(panel._view.attack.delta).max() <= 16 / 255 + 1e-6
    assert panel.grid.images["pert"].image.max() <= 16 + 1e-3

    with qtbot.waitSignal(ctx.runner.finished, timeout=WAIT_MS):
        panel.attack_combo.setCurrentIndex(panel.attack_combo.findData("pgd"))
    assert panel._view.attack.attack == "pgd"
    panel.grab().save(str(tmp_path / "attack_panel.png"))
    if os.environ.get("HARLAB_SHOT_DIR"):
        panel.grab().save(str(Path(os.environ["HARLAB_SHOT_DIR"]) / "attack_panel.png"))


def test_find_samples_fills_table_and_sample_view(qtbot, setup):
    panel, ctx, project, sample_id = setup
    assert panel.samples_table.rowCount() == 1
    panel.per_class_spin.setValue(1)
    panel.eps_slider.setValue(32)
    with qtbot.waitSignal(ctx.runner.finished, timeout=WAIT_MS):
        panel.find_button.click()
    run = project.runs("attack")[-1]
    assert run["status"] == "done"
    n = project.query_one("SELECT count(*) FROM samples")[0]
    assert panel.samples_table.rowCount() == n >= 1
    assert "examined" in panel.status.text()

    row = next(r for r in range(n) if panel.samples_table.item(r, 0).text() == str(sample_id))
    with qtbot.waitSignal(ctx.runner.finished, timeout=WAIT_MS):
        panel.samples_table.selectRow(row)
    view = panel._view
    assert view.source == f"sample #{sample_id}"
    assert np.all(view.attack.adv_frames == 98) and view.attack.keyframe_indices == [1, 4]
    assert panel.grid.images["pert"].image.max() == pytest.approx(8, abs=1e-3)


def test_sweep_plots_curve(qtbot, setup):
    panel, ctx, _, _ = setup
    panel.sweep_videos_spin.setValue(1)
    with qtbot.waitSignal(ctx.runner.finished, timeout=WAIT_MS):
        panel.sweep_button.click()
    curve = panel.sweep_plot.curves["all classes"]
    x, y = curve.getData()
    assert list(x) == list(SWEEP_EPS_255) and y[0] == 0
    assert all(0 <= v <= 100 for v in y)


def test_errors_go_to_the_status_line(qtbot, setup):
    panel, ctx, _, _ = setup
    panel.checkpoint_edit.setText("")
    panel.find_button.click()
    assert "no checkpoint chosen" in panel.status.text() and not ctx.runner.busy
    panel.checkpoint_edit.setText("x.pt")
    panel.classes_edit.setText("Nope")
    panel.sweep_button.click()
    assert "class 'Nope' is not one of" in panel.status.text() and not ctx.runner.busy


def test_sweep_eps_list_is_parsed():
    from harlab.errors import InputError
    from ui.widgets.attack_labels import parse_eps_255

    assert parse_eps_255("8, 0; 2 4/255 2") == [0, 2, 4, 8]
    with pytest.raises(InputError, match="is not a number"):
        parse_eps_255("1, x")
    with pytest.raises(InputError, match="outside 0..255"):
        parse_eps_255("300")
    with pytest.raises(InputError, match="the eps list is empty"):
        parse_eps_255(" ")
