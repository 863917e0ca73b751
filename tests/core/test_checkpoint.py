"""Checkpoints: round trip, weights_only loading, atomic writes, clear errors."""

from __future__ import annotations

import pytest
import torch

from harlab.errors import CheckpointError
from harlab.train.checkpoint import check_classes, load_classifier, read_checkpoint, save_checkpoint
from harlab.train.models import build_model

CLASSES = ["Biking", "BabyCrawling", "PushUps"]


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model, _ = build_model("resnet18", 3, "none")
    path = save_checkpoint(tmp_path / "best.pt", model=model, classes=CLASSES, image_size=32,
                           config={"epochs": 2, "arch": "resnet18"},
                           metrics={"best_val_acc": 0.75})
    return path, model


def test_round_trip_restores_model_classes_and_metadata(saved):
    path, model = saved
    loaded = load_classifier(path, device="cpu")
    assert loaded.classes == CLASSES and loaded.image_size == 32
    assert loaded.config["epochs"] == 2 and loaded.metrics["best_val_acc"] == 0.75
    assert not loaded.model.training
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(loaded.model(x), model.eval()(x), atol=1e-5)


def test_file_loads_with_weights_only(saved):
    data = torch.load(saved[0], weights_only=True)
    assert data["format"] == "harlab-classifier"
    assert set(data["versions"]) == {"harlab", "torch", "torchvision"}


def test_missing_corrupt_and_foreign_files(tmp_path, saved):
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint(tmp_path / "nope.pt")
    blob = saved[0].read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match="corrupt or not a PyTorch file"):
        load_classifier(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match="not a HARLab classifier checkpoint"):
        load_classifier(foreign)
    pickled = tmp_path / "pickled.pt"
    torch.save({"format": "harlab-classifier", "obj": object()}, pickled)
    with pytest.raises(CheckpointError, match="corrupt or not a PyTorch file"):
        read_checkpoint(pickled)


def test_damaged_contents(tmp_path, saved):
    data = torch.load(saved[0], weights_only=True)
    del data["classes"]
    torch.save(data, tmp_path / "lacking.pt")
    with pytest.raises(CheckpointError, match="lacks classes"):
        read_checkpoint(tmp_path / "lacking.pt")
    data = torch.load(saved[0], weights_only=True)
    data["classes"] = CLASSES + ["Extra"]
    torch.save(data, tmp_path / "edited.pt")
    with pytest.raises(CheckpointError, match="weights do not fit a resnet18 with 4 classes"):
        load_classifier(tmp_path / "edited.pt")
    data["classes"] = CLASSES
    data["format_version"] = 99
    torch.save(data, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="newer than this HARLab"):
        read_checkpoint(tmp_path / "future.pt")


def test_class_set_mismatch(saved):
    with pytest.raises(CheckpointError, match="trained on 3 classes but the dataset has 2"):
        load_classifier(saved[0], expected_classes=["Biking", "Diving"])
    with pytest.raises(CheckpointError, match="same names in another order"):
        check_classes("x.pt", CLASSES, list(reversed(CLASSES)))
    check_classes("x.pt", CLASSES, list(CLASSES))


def test_failed_write_leaves_the_good_checkpoint(saved, monkeypatch):
    path, model = saved
    before = path.read_bytes()

    def broken_save(obj, fh, *args, **kwargs):
        fh.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model=model, classes=CLASSES, image_size=32, config={})
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["best.pt"]
