"""Model registry, the [0, 1] wrapper and weight resolution (never the network)."""

from __future__ import annotations

import urllib.error

import pytest
import torch
import torchvision

from harlab.errors import CheckpointError, InputError
from harlab.train.models import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    MODEL_REGISTRY,
    NormalizedClassifier,
    build_model,
    imagenet_weights_file,
)


@pytest.fixture
def hub_dir(tmp_path, monkeypatch):
    """An empty torch hub folder, so 'auto' finds no cached ImageNet weights."""
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path / "hub"
    torch.hub.set_dir(old)


def test_wrapper_normalises_inside_and_reshapes_head(hub_dir):
    model, info = build_model("resnet18", 3, "none")
    assert isinstance(model, NormalizedClassifier)
    assert info.source == "scratch"
    assert model.net.fc.out_features == 3
    model.eval()
    x = torch.rand(2, 3, 32, 32)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(model(x), model.net((x - mean) / std), atol=1e-6)
    assert model(x).shape == (2, 3)


def test_auto_without_cache_trains_from_scratch_and_says_so(hub_dir):
    _, info = build_model("resnet18", 3, "auto")
    assert info.source == "scratch"
    assert "no ImageNet weights" in info.message and "from scratch" in info.message


def test_auto_uses_torchvision_cache_when_present(hub_dir):
    path = imagenet_weights_file("resnet18")
    assert path.name == "resnet18-f37072fd.pth"
    path.parent.mkdir(parents=True)
    reference = torchvision.models.resnet18(num_classes=1000)
    torch.save(reference.state_dict(), path)
    model, info = build_model("resnet18", 4, "auto")
    assert info.source == "imagenet"
    assert torch.equal(model.net.conv1.weight, reference.conv1.weight)
    assert model.net.fc.out_features == 4


def test_imagenet_download_failure_is_a_clear_error(hub_dir, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(CheckpointError, match="download from .* failed.*weights 'auto'"):
        build_model("resnet18", 3, "imagenet")


def test_weights_file_loads_backbone_and_skips_other_head(tmp_path):
    reference = torchvision.models.resnet18(num_classes=1000)
    path = tmp_path / "w.pth"
    torch.save({"state_dict": reference.state_dict()}, path)
    model, info = build_model("resnet18", 3, str(path))
    assert info.source == "file"
    assert torch.equal(model.net.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)


def test_weights_file_errors(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        build_model("resnet18", 3, str(tmp_path / "missing.pth"))
    text = tmp_path / "notes.pth"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="cannot be read as PyTorch weights"):
        build_model("resnet18", 3, str(text))
    other = tmp_path / "mobilenet.pth"
    torch.save(torchvision.models.mobilenet_v3_small().state_dict(), other)
    with pytest.raises(CheckpointError, match="does not fit this architecture"):
        build_model("resnet18", 3, str(other))
    listing = tmp_path / "list.pth"
    torch.save([1, 2, 3], listing)
    with pytest.raises(CheckpointError, match="not a state dict"):
        build_model("resnet18", 3, str(listing))


def test_bad_arguments():
    with pytest.raises(InputError, match="unknown model architecture 'resnet9'; valid archi"):
        build_model("resnet9", 3)
    with pytest.raises(InputError, match="num_classes must be an integer >= 2, got 1"):
        build_model("resnet18", 1)


def test_registry_other_heads():
    assert "resnet18" in MODEL_REGISTRY
    model, _ = build_model("mobilenet_v3_small", 5, "none")
    assert model.eval()(torch.rand(1, 3, 32, 32)).shape == (1, 5)


