"""Batched training augmentation on the device: flip, colour jitter, hue, rotation, zoom."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


class BatchAugment:
    """Per-sample random flip, colour jitter and rotation on a whole batch at once.

    torchvision's v2 transforms draw one set of random parameters per call, i.e. per batch;
    here every image gets its own draw, vectorised, on the batch's device. Flip and rotation
    share one ``grid_sample`` with the optional zoom/shift; hue is a rotation in YIQ space (a
    3x3 matrix per image).

    Shape:
        images: ``(N, 3, H, W)`` float in ``[0, 1]``; returns the same shape, clamped.
    """

    def __init__(self, flip: bool = True, jitter: float = 0.2, rotation_deg: float = 10.0,
                 hue: float = 0.05, zoom: float = 0.0):
        self.flip, self.jitter, self.rotation_deg = flip, jitter, rotation_deg
        self.hue, self.zoom = hue, zoom

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        n, dev = images.shape[0], images.device
        x = images
        if self.jitter > 0 or self.hue > 0:
            # Brightness, contrast, saturation and hue are all affine in RGB, so they fold
            # into one 3x3 matrix and one offset per image: a single pass over the pixels.
            j = self.jitter
            r = torch.rand(n, 4, device=dev) * 2 - 1  # in [-1, 1)
            b, c, s = 1 + j * r[:, 0], 1 + j * r[:, 1], 1 + j * r[:, 2]
            w = torch.tensor([0.299, 0.587, 0.114], device=dev)
            mean_gray = torch.einsum("c,nchw->n", w, x) / (x.shape[2] * x.shape[3])
            eye = torch.eye(3, device=dev).expand(n, 3, 3)
            sat = s.view(n, 1, 1) * eye + (1 - s).view(n, 1, 1) * w.view(1, 1, 3)
            mat = sat * (c * b).view(n, 1, 1)
            if self.hue > 0:
                mat = self._hue_matrix(r[:, 3] * self.hue * 2 * math.pi) @ mat
            offset = ((1 - c) * b * mean_gray).view(n, 1, 1, 1)  # gray stays gray under mat
            x = torch.einsum("nij,njhw->nihw", mat, x) + offset
        if self.rotation_deg > 0 or self.zoom > 0:
            u = torch.rand(n, 5, device=dev) * 2 - 1  # in [-1, 1)
            angle = u[:, 0] * math.radians(self.rotation_deg)
            sign = torch.where(u[:, 1] < 0, -1.0, 1.0) if self.flip else torch.ones(n, device=dev)
            scale = 1 + self.zoom * u[:, 2]  # output samples a window `scale` times the image
            shift_x, shift_y = self.zoom * u[:, 3], self.zoom * u[:, 4]
            cos, sin = angle.cos() * scale, angle.sin() * scale
            theta = torch.stack([torch.stack([cos * sign, -sin, shift_x], 1),
                                 torch.stack([sin * sign, cos, shift_y], 1)], 1)
            grid = F.affine_grid(theta, list(x.shape), align_corners=False)
            x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros",
                              align_corners=False)
        elif self.flip:
            mask = (torch.rand(n, device=dev) < 0.5).view(n, 1, 1, 1)
            x = torch.where(mask, x.flip(-1), x)
        return x.clamp_(0, 1) if x is not images else x.clone()

    @staticmethod
    def _hue_matrix(angle: torch.Tensor) -> torch.Tensor:
        """Per-image RGB matrices rotating hue by ``angle`` radians (in YIQ space)."""
        to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322],
                               [0.211, -0.523, 0.312]], device=angle.device)
        cos, sin = angle.cos(), angle.sin()
        rot = torch.zeros(len(angle), 3, 3, device=angle.device)
        rot[:, 0, 0] = 1
        rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = cos, -sin, sin, cos
        return torch.linalg.inv(to_yiq) @ rot @ to_yiq  # (N, 3, 3)

    @classmethod
    def _hue(cls, x: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
        return torch.einsum("nij,njhw->nihw", cls._hue_matrix(angle), x)
