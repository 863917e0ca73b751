"""Perturbation maps and Grad-CAM on models whose evidence we place by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from harlab.attacks.heatmaps import (
    amplified_delta,
    find_cam_layer,
    frame_delta,
    grad_cam,
    perturbation_map,
)
from harlab.errors import InputError


def test_frame_delta_and_perturbation_map():
    clean = np.full((2, 4, 5, 3), 100, np.uint8)
    adv = clean.copy()
    adv[0, 1, 2] = [108, 92, 100]   # +8, -8, 0
    adv[1, 3, 4, 2] = 96            # -4 in blue only
    delta = frame_delta(clean, adv)
    assert delta.dtype == np.float32 and delta.shape == clean.shape
    assert delta[0, 1, 2, 1] == pytest.approx(-8 / 255)
    pmap = perturbation_map(delta)
    assert pmap.shape == (2, 4, 5)
    expected = np.zeros((2, 4, 5), np.float32)
    expected[0, 1, 2] = 8 / 255
    expected[1, 3, 4] = 4 / 255
    np.testing.assert_allclose(pmap, expected, atol=1e-7)
    # Channels-first tensors give the same map.
    tensor = torch.from_numpy(delta).permute(0, 3, 1, 2)
    np.testing.assert_allclose(perturbation_map(tensor), expected, atol=1e-7)


def test_amplified_delta_maps_eps_to_black_and_white():
    delta = np.zeros((1, 2, 3), np.float32).reshape(1, 1, 2, 3)
    delta[0, 0, 0] = [8 / 255, -8 / 255, 0]
    delta[0, 0, 1] = [16 / 255, 0, 0]
    img = amplified_delta(delta, eps=8 / 255)
    np.testing.assert_allclose(img[0, 0, 0], [1.0, 0.0, 0.5], atol=1e-6)
    assert img[0, 0, 1, 0] == 1.0  # clipped, not wrapped
    np.testing.assert_allclose(amplified_delta(delta)[0, 0, 1], [1.0, 0.5, 0.5], atol=1e-6)
    assert np.all(amplified_delta(np.zeros((2, 2, 3), np.float32)) == 0.5)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((4, 4), np.float32), r"shape \(H, W, 3\) or \(N, H, W, 3\), got \(4, 4\)"),
    (np.zeros((4, 4, 3), np.uint8), r"dtype uint8.*frame_delta"),
    (torch.zeros(2, 4, 4), r"\(N, 3, H, W\) or \(3, H, W\)"),
])
def test_perturbation_map_errors(bad, match):
    with pytest.raises(InputError, match=match):
        perturbation_map(bad)


def test_frame_delta_shape_mismatch():
    with pytest.raises(InputError, match=r"same shape, got \(2, 2, 3\) and \(3, 2, 3\)"):
        frame_delta(np.zeros((2, 2, 3), np.uint8), np.zeros((3, 2, 3), np.uint8))


class PatchModel(nn.Module):
    """Class 0 = mean brightness, class 1 = mean darkness: Grad-CAM of class 0 is the bright
    region itself."""

    def __init__(self):
        super().__init__()
        self.features = nn.Conv2d(3, 2, 1, bias=False)
        with torch.no_grad():
            self.features.weight.zero_()
            self.features.weight[0] = 1.0
            self.features.weight[1] = -1.0
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 2))
        with torch.no_grad():
            self.head[2].weight.copy_(torch.eye(2))
            self.head[2].bias.zero_()

    def forward(self, x):
        return self.head(self.features(x))


def test_grad_cam_highlights_the_evidence():
    images = torch.zeros(2, 3, 16, 16)
    images[0, :, :6, :6] = 1.0     # bright patch top-left
    images[1, :, 10:, 10:] = 0.8   # bright patch bottom-right
    model = PatchModel()
    model.train()
    cam = grad_cam(model, images, class_idx=0)
    assert cam.shape == (2, 16, 16)
    assert cam.min() >= 0 and cam.max() <= 1
    assert cam[0, :6, :6].mean() > 0.9 and cam[0, 10:, 10:].max() < 0.05
    assert cam[1, 10:, 10:].mean() > 0.9 and cam[1, :6, :6].max() < 0.05
    assert model.training and all(p.grad is None for p in model.parameters())
    # Class 1 (darkness) has negative weights on the bright channel: its map differs.
    assert not torch.allclose(grad_cam(model, images, class_idx=torch.tensor([1, 1])), cam)


def test_grad_cam_on_resnet_finds_layer4():
    from torchvision.models import resnet18

    torch.manual_seed(0)
    model = resnet18(num_classes=3)
    wrapped = nn.Sequential()
    wrapped.add_module("net", model)
    assert find_cam_layer(wrapped)[0] == "net.layer4"
    cam = grad_cam(wrapped, torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)))
    assert cam.shape == (2, 64, 64) and torch.isfinite(cam).all()
    for one in cam:  # scaled to a peak of 1, or all zero when there is no positive evidence
        assert one.max().item() in (0.0, pytest.approx(1.0))


def test_grad_cam_errors():
    model = PatchModel()
    images = torch.rand(2, 3, 8, 8)
    with pytest.raises(InputError, match=r"no module named 'nope'.*features"):
        grad_cam(model, images, layer="nope")
    with pytest.raises(InputError, match=r"\[0, 1\].*got 5"):
        grad_cam(model, images, class_idx=5)
    with pytest.raises(InputError, match=r"one class index or 2 of them.*\(3,\)"):
        grad_cam(model, images, class_idx=[0, 1, 0])
    with pytest.raises(InputError, match=r"\(N, C, h, w\) feature maps"):
        grad_cam(model, images, layer="head.1")
    with pytest.raises(InputError, match=r"no Conv2d"):
        grad_cam(nn.Sequential(nn.Flatten(), nn.Linear(192, 2)), images)
    with pytest.raises(InputError, match=r"lie in \[0, 1\]"):
        grad_cam(model, images * 3)


def test_grad_cam_frames_matches_tensor_api():
    from harlab.attacks.heatmaps import grad_cam_frames

    model = PatchModel()
    frames = np.zeros((3, 16, 16, 3), np.uint8)
    frames[0, :6, :6] = 255
    frames[2, 10:, 10:] = 200
    maps = grad_cam_frames(model, frames, class_idx=0, batch_size=2)
    assert maps.shape == (3, 16, 16) and maps.dtype == np.float32
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    np.testing.assert_allclose(maps, grad_cam(model, x, class_idx=0).numpy(), atol=1e-6)
    with pytest.raises(InputError, match=r"uint8 RGB of shape \(K, H, W, 3\), got float32"):
        grad_cam_frames(model, frames.astype(np.float32))
