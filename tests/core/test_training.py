"""TrainConfig, TrainData, augmentation, the training loop, cancel/resume and evaluation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from harlab import jobs
from harlab.errors import CheckpointError, DatasetError, InputError
from harlab.store import Project
from harlab.train.augment import BatchAugment
from harlab.train.checkpoint import load_classifier, read_checkpoint
from harlab.train.config import TrainConfig
from harlab.train.data import TrainData, check_trainable
from harlab.train.evaluate import evaluate_data, metrics_from_probs
from harlab.train.fit import EpochDone, TrainStarted, TrainStep, fit

CLASSES = ["Red", "Green", "Blue"]


KINDS = {TrainStarted: "start", TrainStep: "step", EpochDone: "epoch"}


def synthetic(n_classes=3, groups=4, frames=4, size=32, seed=0) -> TrainData:
    """One video per (class, group); each class is a colour, each frame noisy."""
    rng = np.random.default_rng(seed)
    out, labels, vids, grps = [], [], [], []
    for c in range(n_classes):
        for g in range(groups):
            base = np.zeros((size, size, 3), np.int64)
            base[..., c % 3] = 180
            for _ in range(frames):
                out.append(np.clip(base + rng.integers(0, 60, base.shape), 0, 255))
                labels.append(c)
                vids.append(c * groups + g)
                grps.append(g + 1)
    return TrainData(np.stack(out).astype(np.uint8), labels, vids, grps,
                     CLASSES[:n_classes] if n_classes <= 3 else [f"C{i}" for i in
                                                                  range(n_classes)])


def tiny_config(**kw) -> TrainConfig:
    base = dict(image_size=32, frames_per_video=4, epochs=2, batch_size=8, accumulate=2,
                lr_cycle_steps=3, weights="none", device="cpu", val_fraction=0.25)
    base.update(kw)
    return TrainConfig(**base)


# ---------------------------------------------------------------- config
def test_defaults_are_the_paper_recipe():
    c = TrainConfig()
    assert (c.arch, c.image_size, c.frames_per_video, c.epochs) == ("resnet18", 224, 50, 50)
    assert (c.lr, c.max_lr, c.weight_decay, c.accumulate) == (1e-4, 1e-3, 0.01, 4)
    assert c.flip and c.jitter > 0 and c.rotation_deg > 0
    demo = TrainConfig.demo()
    assert demo.image_size < 224 and demo.epochs < 50 and demo.lr == 1e-4
    assert TrainConfig.from_dict({**demo.to_dict(), "unknown": 1}) == demo


@pytest.mark.parametrize("field,value,match", [
    ("image_size", 16, r"image_size must be an integer in \[32, 1024\], got 16"),
    ("epochs", 0, r"epochs must be an integer in \[1, 10000\], got 0"),
    ("batch_size", 2.5, "batch_size must be an integer"),
    ("lr", 0.0, r"lr must be a number in .*got 0.0 \(the paper uses 1e-4\)"),
    ("max_lr", 5e-5, "max_lr must be >= lr"),
    ("accumulate", 0, "accumulate must be an integer"),
    ("val_fraction", 0.0, r"val_fraction must be a number in \[0.01, 0.9\]"),
    ("fold", 4, r"fold must be an integer in \[1, 3\]"),
    ("arch", "vgg", "unknown model architecture 'vgg'; valid architectures: resnet18"),
    ("device", "tpu", "unknown device 'tpu'; valid devices"),
    ("jitter", True, "jitter must be a number"),
])
def test_config_rejects_out_of_range(field, value, match):
    with pytest.raises(InputError, match=match):
        TrainConfig(**{field: value})


# ---------------------------------------------------------------- data
def test_group_split_holds_out_whole_groups():
    data = synthetic(groups=4)
    train, val = data.split_groups(0.25, seed=1)
    assert len(train) + len(val) == len(data)
    assert set(train.groups).isdisjoint(set(val.groups)) and len(set(val.groups)) == 1
    assert np.array_equal(train.take(np.arange(2)), data.frames[train.rows[:2]])


def test_data_errors():
    data = synthetic(groups=1)
    with pytest.raises(DatasetError, match="1 group.*at least 2 are needed"):
        data.split_groups(0.2, 0)
    with pytest.raises(InputError, match="frames must be uint8"):
        TrainData(np.zeros((2, 8, 8, 3), np.float32), [0, 1], [0, 1], [1, 1], CLASSES)
    with pytest.raises(InputError, match="labels has 1 entries but there are 2 frames"):
        TrainData(np.zeros((2, 8, 8, 3), np.uint8), [0], [0, 1], [1, 1], CLASSES)
    with pytest.raises(InputError, match=r"labels must be in \[0, 2\]"):
        TrainData(np.zeros((1, 8, 8, 3), np.uint8), [3], [0], [1], CLASSES)


def test_untrainable_data():
    one = synthetic(n_classes=1)
    one.classes = ["Red"]
    with pytest.raises(DatasetError, match=r"1 class\(es\) \(Red\); a classifier needs at least"):
        check_trainable(one, one)
    data = synthetic()
    empty = data.subset(np.zeros(len(data), bool))
    with pytest.raises(DatasetError, match="training split is empty"):
        check_trainable(empty, data)
    with pytest.raises(DatasetError, match="validation part is empty"):
        check_trainable(data, empty)
    only_red = data.subset(data.labels == 0)
    with pytest.raises(DatasetError, match="cover only class 'Red'"):
        check_trainable(only_red, data)


# ---------------------------------------------------------------- augmentation
def test_augment_is_per_sample_in_range_and_leaves_input():
    torch.manual_seed(0)
    images = torch.rand(16, 3, 24, 24)
    before = images.clone()
    for aug in (BatchAugment(flip=True, jitter=0.3, rotation_deg=15, hue=0.5),
                BatchAugment(flip=False, jitter=0, rotation_deg=0, hue=0, zoom=0.3)):
        out = aug(images)
        assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1
        assert not torch.equal(out, images)
        assert torch.equal(images, before)
    flips = BatchAugment(flip=True, jitter=0, rotation_deg=0, hue=0)(images)
    flipped = [torch.equal(flips[i], images[i].flip(-1)) for i in range(16)]
    kept = [torch.equal(flips[i], images[i]) for i in range(16)]
    assert any(flipped) and any(kept) and all(a or b for a, b in zip(flipped, kept, strict=True))


def test_hue_rotation_keeps_gray_and_is_identity_at_zero():
    gray = torch.full((2, 3, 4, 4), 0.5)
    assert torch.allclose(BatchAugment._hue(gray, torch.tensor([0.7, -1.0])), gray, atol=1e-5)
    x = torch.rand(2, 3, 4, 4)
    assert torch.allclose(BatchAugment._hue(x, torch.zeros(2)), x, atol=1e-5)


# ---------------------------------------------------------------- training
def _run(job, seen=None):
    return jobs.run(job, None if seen is None else seen.append)


@pytest.mark.slow
def test_fit_trains_writes_checkpoints_and_records_the_run(tmp_path):
    data = synthetic()
    train, val = data.split_groups(0.25, 0)
    project = Project.create(tmp_path / "proj")
    seen = []
    result = _run(fit(tiny_config(), train, val, None, project=project), seen)
    kinds = [KINDS[type(p.data)] for p in seen if p.data]  # validation steps carry none
    assert kinds[0] == "start" and kinds.count("epoch") == 2 and "step" in kinds
    assert "from scratch" in seen[0].data.weights
    assert result.out_dir == project.checkpoints_dir / f"train-{result.run_id}"
    assert result.best_checkpoint.is_file() and result.last_checkpoint.is_file()
    assert result.epochs_done == 2 and len(result.history) == 2
    assert result.best_val_acc == max(r["val_acc"] for r in result.history)
    run = project.runs("train")[0]
    assert run["status"] == "done"
    saved = json.loads(run["result_json"])
    assert saved["best_checkpoint"] == f"checkpoints/train-{result.run_id}/best.pt"
    assert saved["epochs_done"] == 2 and saved["best_val_acc"] == result.best_val_acc
    loaded = load_classifier(project.root / saved["best_checkpoint"])
    assert loaded.classes == CLASSES and loaded.image_size == 32
    assert read_checkpoint(result.last_checkpoint)["train_state"]["epoch"] == 2
    steps = [p.data for p in seen if isinstance(p.data, TrainStep)]
    assert all(math.isfinite(s.loss) and s.lr >= 1e-4 - 1e-12 for s in steps)
    # the cyclic schedule moved the learning rate
    assert max(s.lr for s in steps) > 1e-4 * 1.5
    # the per-step curve is stored with the run and read back
    from harlab.train.runs import train_run

    stored = train_run(project, result.run_id).steps
    assert stored.steps == [s.step for s in steps] and len(stored.lrs) == len(steps)
    project.close()


@pytest.mark.slow
def test_cancel_mid_epoch_then_resume_finishes_the_run(tmp_path):
    data = synthetic()
    train, val = data.split_groups(0.25, 0)
    config = tiny_config(epochs=2)
    project = Project.create(tmp_path / "proj")
    job = fit(config, train, val, tmp_path / "run", project=project)
    for _ in range(4):  # start + 3 batches: mid-epoch, after one optimizer step (accumulate 2)
        next(job)
    job.close()
    state = read_checkpoint(tmp_path / "run" / "last.pt")["train_state"]
    assert (state["epoch"], state["batch"], state["opt_step"]) == (0, 2, 1)
    assert project.runs("train")[0]["status"] == "cancelled"
    from harlab.train.fit import read_resume_state

    resumed = read_resume_state(tmp_path / "run" / "last.pt")
    seen = []
    result = _run(fit(config, train, val, tmp_path / "run", project=project,
                      resume_state=resumed), seen)
    first_step = next(p for p in seen if isinstance(p.data, TrainStep))
    assert first_step.done == 3  # continued at the third batch of epoch 1
    assert result.epochs_done == 2 and [r["epoch"] for r in result.history] == [1, 2]
    assert project.runs("train")[1]["status"] == "done"
    with pytest.raises(InputError, match="already finished 2 epochs and epochs is 2"):
        next(fit(config, train, val, tmp_path / "run",
                 resume_state=read_resume_state(tmp_path / "run" / "last.pt")))
    with pytest.raises(CheckpointError, match="weights only, no training state"):
        read_resume_state(tmp_path / "run" / "best.pt")
    project.close()


@pytest.mark.slow
def test_same_seed_same_run(tmp_path):
    data = synthetic(groups=3, frames=2)
    train, val = data.split_groups(0.34, 0)
    config = tiny_config(epochs=1)
    a = _run(fit(config, train, val, tmp_path / "a"))
    b = _run(fit(config, train, val, tmp_path / "b"))
    assert a.history[0]["train_loss"] == b.history[0]["train_loss"]
    assert a.history[0]["val_loss"] == b.history[0]["val_loss"]


def test_fit_input_errors(tmp_path, monkeypatch):
    data = synthetic(groups=2, frames=1)
    train, val = data.split_groups(0.5, 0)
    with pytest.raises(InputError, match="out_dir is required without a project"):
        next(fit(tiny_config(), train, val, None))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError, match="'cuda' was requested but CUDA is not available"):
        next(fit(tiny_config(device="cuda"), train, val, tmp_path))


# ---------------------------------------------------------------- evaluation
def test_metrics_by_hand():
    probs = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1],   # video 0 (true 0): avg -> 1
                          [0.1, 0.1, 0.8], [0.1, 0.2, 0.7],   # video 1 (true 2): 2
                          [0.5, 0.4, 0.1]])                   # video 2 (true 1): 0
    labels = np.array([0, 0, 2, 2, 1])
    result = metrics_from_probs(probs, labels, np.array([0, 0, 1, 1, 2]), CLASSES)
    assert result.frame_top1 == pytest.approx(3 / 5)
    assert result.video_top1 == pytest.approx(1 / 3)
    assert result.frame_top5 == 1.0 and result.video_top5 == 1.0  # top-k capped at 3 classes
    assert result.confusion == [[0, 1, 0], [1, 0, 0], [0, 0, 1]]
    assert result.per_class_acc == {"Red": 0.0, "Green": 0.0, "Blue": 1.0}
    assert result.n_videos == 3 and result.n_frames == 5


def test_evaluate_data_and_empty_split():
    torch.manual_seed(0)
    from harlab.train.models import build_model

    model, _ = build_model("resnet18", 3, "none")
    data = synthetic(groups=2, frames=2)
    result = _run(evaluate_data(model.eval(), data, batch_size=5))
    assert result.n_frames == 12 and result.n_videos == 6
    assert sum(map(sum, result.confusion)) == 6
    with pytest.raises(InputError, match="evaluation split is empty"):
        _run(evaluate_data(model, data.subset(np.zeros(len(data), bool))))


@pytest.mark.gpu
def test_cuda_amp_channels_last_path(tmp_path):
    data = synthetic()
    train, val = data.split_groups(0.25, 0)
    result = _run(fit(tiny_config(device="cuda", epochs=1), train, val, tmp_path))
    assert result.epochs_done == 1 and math.isfinite(result.history[0]["train_loss"])
    loaded = load_classifier(result.best_checkpoint, device="cuda")
    assert next(loaded.model.parameters()).is_cuda


@pytest.mark.gpu
def test_cuda_bf16_and_torch_compile(tmp_path):
    data = synthetic()
    train, val = data.split_groups(0.25, 0)
    seen = []
    result = _run(fit(tiny_config(device="cuda", epochs=1, compile=True), train, val, tmp_path),
                  seen)
    assert result.epochs_done == 1 and math.isfinite(result.history[0]["train_loss"])
    loaded = load_classifier(result.best_checkpoint, device="cuda")  # saved unwrapped
    assert next(loaded.model.parameters()).is_cuda


def test_compile_and_amp_are_recorded_in_the_config():
    config = TrainConfig.paper(compile=True)
    assert config.compile and config.amp and TrainConfig.from_dict(config.to_dict()) == config


# ---------------------------------------------------------------- CLI on a generated dataset
@pytest.mark.slow
def test_cli_train_evaluate_and_mismatched_resume(tmp_path, capsys):
    import harlab.data.demo_data as demo_data
    from harlab.cli import main

    tiny = dict(groups=4, clips_per_group=1, seconds=0.4)
    root = jobs.run(demo_data.generate_demo_dataset(
        tmp_path / "a", classes=["Biking", "HandstandWalking"], **tiny))
    out = tmp_path / "run"
    args = ["train", "--dataset", str(root), "--out", str(out), "--image-size", "32",
            "--frames-per-video", "2", "--epochs", "1", "--batch-size", "4", "--accumulate",
            "1", "--weights", "none", "--device", "cpu", "--val-fraction", "0.34"]
    assert main(args + ["--evaluate"]) == 0
    printed = capsys.readouterr().out
    assert "best val acc" in printed and "test: video top-1" in printed
    assert main(["evaluate", str(out / "best.pt"), "--dataset", str(root), "--json",
                 str(tmp_path / "m.json")]) == 0
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert len(metrics["confusion"]) == 2 and metrics["n_videos"] > 0

    other = jobs.run(demo_data.generate_demo_dataset(
        tmp_path / "b", classes=["Biking", "PushUps"], **tiny))
    before = (out / "last.pt").read_bytes()
    capsys.readouterr()
    assert main(["train", "--dataset", str(other), "--resume", str(out / "last.pt"),
                 "--epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert "harlab train: error:" in err and "only in checkpoint: ['HandstandWalking']" in err
    assert (out / "last.pt").read_bytes() == before  # the good checkpoint is untouched
    assert main(["evaluate", str(out / "best.pt"), "--dataset", str(other)]) == 2
    assert "trained on 2 classes but the dataset has 2" in capsys.readouterr().err

    single = jobs.run(demo_data.generate_demo_dataset(tmp_path / "c", classes=["Biking"],
                                                      **tiny))
    assert main(["train", "--dataset", str(single), "--out", str(tmp_path / "x"),
                 "--image-size", "32", "--frames-per-video", "1"]) == 2
    assert "1 class(es) (Biking); a classifier needs at least 2" in capsys.readouterr().err
    assert main(["train", "--dataset", str(root)]) == 2
    assert "needs --project or --out" in capsys.readouterr().err


@pytest.mark.slow
def test_a_lone_last_frame_joins_the_previous_batch(tmp_path):
    data = synthetic(groups=3, frames=3)  # 27 frames; 18 train frames
    train, val = data.split_groups(0.34, 0)
    train = train.subset(np.arange(len(train)) < 17)  # 17 = 2 * 8 + 1
    seen = []
    _run(fit(tiny_config(epochs=1, accumulate=1), train, val, tmp_path), seen)
    assert [p.done for p in seen if isinstance(p.data, TrainStep)] == [1, 2]


def test_fused_colour_jitter_matches_the_step_by_step_definition():
    torch.manual_seed(3)
    x = torch.rand(4, 3, 8, 8)
    torch.manual_seed(7)
    fused = BatchAugment(flip=False, jitter=0.3, rotation_deg=0, hue=0.2)(x)
    torch.manual_seed(7)
    r = torch.rand(4, 4) * 2 - 1
    b, c, s = (1 + 0.3 * r[:, i].view(4, 1, 1, 1) for i in range(3))

    def gray(t):
        return 0.299 * t[:, 0:1] + 0.587 * t[:, 1:2] + 0.114 * t[:, 2:3]

    y = x * b
    m = gray(y).mean((2, 3), keepdim=True)
    y = (y - m) * c + m
    y = (y - gray(y)) * s + gray(y)
    y = BatchAugment._hue(y, r[:, 3] * 0.2 * 2 * math.pi).clamp(0, 1)
    assert torch.allclose(fused, y, atol=1e-5)
