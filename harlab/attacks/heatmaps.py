"""What an attack changed and where the classifier looks: perturbation maps and Grad-CAM.

Perturbation maps work on NumPy arrays as the panel shows them (channels last, ``[0, 1]``
scale). Grad-CAM (Selvaraju et al., 2017) weights the activations of the last convolutional
block by the spatially averaged gradient of a class score, keeps the positive part and
upsamples it to the input size.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from harlab.attacks._checks import check_batch, check_label_range, eval_mode
from harlab.errors import InputError


def _channels_last(delta: Any) -> np.ndarray:
    """Accept ``(..., H, W, 3)`` arrays or ``(N, 3, H, W)`` / ``(3, H, W)`` tensors."""
    if hasattr(delta, "detach"):  # a torch tensor: channels first
        delta = delta.detach().float().cpu().numpy()
        if delta.ndim not in (3, 4) or delta.shape[-3] != 3:
            raise InputError(f"delta tensor must have shape (N, 3, H, W) or (3, H, W), got "
                             f"{delta.shape}")
        delta = np.moveaxis(delta, -3, -1)
    delta = np.asarray(delta)
    if delta.ndim not in (3, 4) or delta.shape[-1] != 3:
        raise InputError(f"delta must have shape (H, W, 3) or (N, H, W, 3), got {delta.shape}; "
                         "pass adversarial minus clean images on the [0, 1] scale.")
    if np.issubdtype(delta.dtype, np.integer):
        raise InputError(f"delta must be float on the [0, 1] scale, got dtype {delta.dtype}; "
                         "use frame_delta(clean_uint8, adv_uint8).")
    return delta.astype(np.float32, copy=False)


def frame_delta(clean: np.ndarray, adv: np.ndarray) -> np.ndarray:
    """``adv - clean`` on the ``[0, 1]`` scale for two uint8 frame stacks of equal shape.

    Shape:
        clean, adv: ``(..., H, W, 3)`` uint8. Returns the same shape, float32.
    """
    clean, adv = np.asarray(clean), np.asarray(adv)
    if clean.shape != adv.shape:
        raise InputError(f"clean and adversarial frames must have the same shape, got "
                         f"{clean.shape} and {adv.shape}")
    return (adv.astype(np.int16) - clean.astype(np.int16)).astype(np.float32) / 255.0


def perturbation_map(delta: Any) -> np.ndarray:
    """``|delta|`` maximised over colour channels: the L-inf change at each pixel.

    Shape:
        delta: ``(..., H, W, 3)`` (or an ``(N, 3, H, W)`` tensor). Returns ``(..., H, W)``.
    """
    return np.abs(_channels_last(delta)).max(axis=-1)


def amplified_delta(delta: Any, eps: float | None = None) -> np.ndarray:
    """The signed perturbation as a viewable image: ``0.5 + delta / (2 eps)``, clipped.

    ``-eps`` maps to black, ``0`` to mid grey and ``+eps`` to white per channel. Without ``eps``
    the largest ``|delta|`` is used.

    Shape:
        delta: ``(..., H, W, 3)``. Returns the same shape, float32 in ``[0, 1]``.
    """
    delta = _channels_last(delta)
    scale = float(np.abs(delta).max()) if eps is None else float(eps)
    if scale <= 0:
        return np.full_like(delta, 0.5)
    return np.clip(0.5 + delta / (2.0 * scale), 0.0, 1.0)


def find_cam_layer(model: nn.Module, layer: str | None = None) -> tuple[str, nn.Module]:
    """The module Grad-CAM hooks: ``layer`` by name, else the last ``layer4`` (ResNet's last
    block), else the last ``Conv2d``."""

    named = dict(model.named_modules())
    if layer is not None:
        if layer not in named:
            convs = [n for n, m in named.items() if isinstance(m, nn.Conv2d)][-3:]
            raise InputError(f"model has no module named {layer!r}; pass a name from "
                             f"model.named_modules(), e.g. one of {convs}")
        return layer, named[layer]
    blocks = [n for n in named if n.split(".")[-1] == "layer4"]
    if blocks:
        return blocks[-1], named[blocks[-1]]
    convs = [n for n, m in named.items() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise InputError("Grad-CAM needs a convolutional layer but the model has no Conv2d; "
                         "pass layer='name' of a module with (N, C, h, w) output.")
    return convs[-1], named[convs[-1]]


def grad_cam(model: nn.Module, images: torch.Tensor, class_idx: Any = None, *,
             layer: str | None = None) -> torch.Tensor:
    """Grad-CAM of ``class_idx`` (default: each image's predicted class).

    Args:
        model: maps ``[0, 1]`` images to logits; run in eval mode, its mode restored after.
        images: ``(N, C, H, W)`` float in ``[0, 1]``.
        class_idx: an int for all images, a ``(N,)`` tensor/sequence, or None for the argmax.
        layer: name of the module to explain (default: see :func:`find_cam_layer`).

    Shape:
        Returns ``(N, H, W)`` float on the images' device, each map scaled to max 1 (all zero
        when the class has no positive evidence).
    """


    _, module = find_cam_layer(model, layer)
    captured: list[torch.Tensor] = []
    handle = module.register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        n = images.shape[0] if isinstance(images, torch.Tensor) and images.ndim == 4 else 1
        check_batch(model, images, torch.zeros(n, dtype=torch.long,
                                               device=getattr(images, "device", "cpu")))
        with eval_mode(model), torch.enable_grad():
            logits = model(images.detach())
            if (not captured or not isinstance(captured[-1], torch.Tensor)
                    or captured[-1].ndim != 4):
                raise InputError("the Grad-CAM layer must output (N, C, h, w) feature maps; "
                                 "pass layer= the name of a convolutional block.")
            acts = captured[-1]
            if class_idx is None:
                target = logits.argmax(1)
            else:
                target = torch.as_tensor(class_idx, device=logits.device).long()
                if target.ndim == 0:
                    target = target.expand(n)
                elif tuple(target.shape) != (n,):
                    raise InputError(f"class_idx must be one class index or {n} of them (one "
                                     f"per image), got shape {tuple(target.shape)}")
                check_label_range(target, logits.shape[1])
            score = logits.gather(1, target[:, None]).sum()
            (grads,) = torch.autograd.grad(score, acts)
    finally:
        handle.remove()
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * acts.detach()).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    peak = cam.flatten(1).max(1).values.clamp_min(1e-12)[:, None, None]
    return (cam / peak).clamp_(0.0, 1.0)


def grad_cam_frames(model: nn.Module, frames: np.ndarray, class_idx: Any = None, *,
                    layer: str | None = None, batch_size: int = 32) -> np.ndarray:
    """Grad-CAM for uint8 RGB frames, as the GUI holds them (no torch needed by the caller).

    Shape:
        frames: ``(K, H, W, 3)`` uint8. Returns ``(K, H, W)`` float32 in ``[0, 1]``.
    """

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise InputError(f"frames must be uint8 RGB of shape (K, H, W, 3), got {frames.dtype} "
                         f"{frames.shape}")
    param = next(iter(model.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    out = []
    for i in range(0, len(frames), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(frames[i:i + batch_size])).to(device)
        x = x.permute(0, 3, 1, 2).float().div_(255.0)
        idx = class_idx
        if idx is not None and np.ndim(idx) == 1:
            idx = torch.as_tensor(np.asarray(idx)[i:i + batch_size])
        out.append(grad_cam(model, x, idx, layer=layer).cpu().numpy())
    return np.concatenate(out).astype(np.float32, copy=False)
