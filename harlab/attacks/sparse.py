"""Sparse-frame attacks on videos: perturb only ``k`` of each video's keyframes.

A video is classified from the mean of its keyframes' predictions, so an attacker who may
touch only a few frames has to pick them. The frames are either chosen by gradient saliency
(the ``k`` frames whose input gradient of the loss is largest in L2 norm: a first-order
estimate of where a perturbation of fixed size moves the loss most) or given by the user.
The chosen frames are attacked with any registered attack; the others come back unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from harlab.attacks._checks import check_batch, eval_mode
from harlab.attacks._losses import fooled
from harlab.attacks.fgsm import input_gradient
from harlab.attacks.registry import get_spec
from harlab.attacks.stats import AttackStats
from harlab.errors import InputError
from harlab.validation import check_positive_int


def sparse_frames(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, *,
                  k: int = 1, frames_per_video: int | None = None,
                  frames: tuple[int, ...] | None = None, base: str = "pgd",
                  base_params: dict | None = None, targeted: bool = False,
                  stats: AttackStats | None = None) -> torch.Tensor:
    """Attack ``k`` keyframes per video (chosen by saliency, or ``frames``) with ``base``.

    ``images`` hold whole videos in order: frames ``[v * K, (v + 1) * K)`` are video ``v``'s
    ``K = frames_per_video`` keyframes (all of ``images`` is one video when it is None).

    Args:
        k: frames to perturb per video (1 to K), chosen by the L2 norm of the input gradient.
        frames_per_video: keyframes per video, K (None: the batch is one video).
        frames: positions (0 to K - 1) to perturb in every video instead of choosing.
        base: the registered attack applied to the chosen frames.
        base_params: that attack's keyword parameters.

    ``stats.frames`` receives which frames were perturbed; ``stats.success`` per frame.

    Shape:
        images: ``(N, C, H, W)`` float in ``[0, 1]``, ``N`` a multiple of K; labels: ``(N,)``.
        Returns ``(N, C, H, W)``.
    """
    spec = get_spec(base)
    if spec.name == "sparse":
        raise InputError("base must be a frame attack such as pgd, not 'sparse' itself")
    params = spec.check_params(dict(base_params or {}))
    labels = check_batch(model, images, labels)
    clean = images.detach()
    n = clean.shape[0]
    per = n if frames_per_video is None else check_positive_int(frames_per_video,
                                                                "frames_per_video")
    if n % per:
        raise InputError(f"images hold {n} frames, not a whole number of videos of "
                         f"frames_per_video={per}; pass all K keyframes of every video")
    with eval_mode(model):
        mask = _chosen(model, clean, labels, per, k, frames, targeted)
        adv = clean.clone()
        idx = mask.nonzero()[:, 0]
        if idx.numel():
            adv[idx] = spec.fn(model, clean[idx], labels[idx], eps, targeted=targeted, **params)
        if stats is not None:
            with torch.no_grad():
                stats.success = fooled(model(adv), labels, targeted=targeted).cpu()
            stats.frames = mask.cpu()
    return adv


def _chosen(model, clean, labels, per, k, frames, targeted) -> torch.Tensor:
    """(N,) bool: the frames to perturb."""
    n = clean.shape[0]
    if frames is not None:
        positions = _positions(frames, per)
        mask = torch.zeros(n // per, per, dtype=torch.bool, device=clean.device)
        mask[:, list(positions)] = True
        return mask.flatten()
    k = check_positive_int(k, "k")
    if k > per:
        raise InputError(f"k must be at most the {per} keyframes per video, got {k}")
    grad, _ = input_gradient(model, clean, labels)  # targeted or not, |grad| is the same
    saliency = grad.flatten(1).norm(dim=1).view(n // per, per)
    mask = torch.zeros_like(saliency, dtype=torch.bool)
    mask.scatter_(1, saliency.topk(k, dim=1).indices, True)
    return mask.flatten()


def _positions(frames: Any, per: int) -> tuple[int, ...]:
    items = (frames,) if isinstance(frames, int) else tuple(frames)
    if not items or not all(isinstance(f, int) and not isinstance(f, bool) and 0 <= f < per
                            for f in items):
        raise InputError(f"frames must be keyframe positions in [0, {per - 1}], got "
                         f"{frames!r}")
    return items
