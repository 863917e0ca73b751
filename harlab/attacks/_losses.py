"""Losses and small helpers shared by the attacks beyond FGSM: margins, DLR, checked forwards.

Every loss here is per sample (``(N,)``) and is the quantity an attack *increases*.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from harlab.attacks._checks import check_label_range, check_logits

#: Finite stand-in for "no flipping perturbation found".
INF = float("inf")


def checked_logits(model: nn.Module, images: torch.Tensor,
                   labels: torch.Tensor) -> torch.Tensor:
    """``model(images)`` without gradients, with the logits' shape and the labels' range checked.

    Shape:
        images: ``(N, C, H, W)``; labels: ``(N,)``. Returns ``(N, num_classes)``.
    """
    with torch.no_grad():
        logits = model(images)
    check_logits(logits, images.shape[0])
    check_label_range(labels, logits.shape[1])
    return logits


def input_grad(model: nn.Module, images: torch.Tensor, loss_fn,
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradient of ``loss_fn(logits).sum()`` with respect to ``images`` only.

    Returns ``(grad, logits, per-sample loss)``, all detached.
    """
    with torch.enable_grad():
        x = images.detach().requires_grad_(True)
        logits = model(x)
        loss = loss_fn(logits)
        (grad,) = torch.autograd.grad(loss.sum(), x)
    return grad, logits.detach(), loss.detach()


def ce_loss(labels: torch.Tensor, *, targeted: bool = False):
    """Cross-entropy of ``labels`` (ascended), or its negative toward a target."""
    sign = -1.0 if targeted else 1.0
    return lambda logits: sign * F.cross_entropy(logits, labels, reduction="none")


def margin(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``z_y - max_{i != y} z_i``: positive while ``labels`` is the prediction."""
    z_y = logits.gather(1, labels[:, None]).squeeze(1)
    others = logits.scatter(1, labels[:, None], -INF)
    return z_y - others.amax(1)


def dlr_loss(labels: torch.Tensor):
    """Difference of Logits Ratio (Croce & Hein 2020), ascended by the untargeted attack.

    ``-(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3)``; scale- and shift-invariant in the logits.
    With two classes the denominator is 1 (the plain margin).
    """
    def loss(logits: torch.Tensor) -> torch.Tensor:
        top = logits.sort(1, descending=True).values
        scale = top[:, 0] - top[:, 2] if logits.shape[1] >= 3 else torch.ones_like(top[:, 0])
        return -margin(logits, labels) / (scale + 1e-12)
    return loss


def dlr_targeted_loss(labels: torch.Tensor, targets: torch.Tensor):
    """Targeted DLR: ``-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)`` (Croce & Hein 2020).

    With three classes the denominator is ``z_pi1 - z_pi3``; with two it is 1.
    """
    def loss(logits: torch.Tensor) -> torch.Tensor:
        top = logits.sort(1, descending=True).values
        c = logits.shape[1]
        if c >= 4:
            scale = top[:, 0] - 0.5 * (top[:, 2] + top[:, 3])
        elif c == 3:
            scale = top[:, 0] - top[:, 2]
        else:
            scale = torch.ones_like(top[:, 0])
        z_y = logits.gather(1, labels[:, None]).squeeze(1)
        z_t = logits.gather(1, targets[:, None]).squeeze(1)
        return -(z_y - z_t) / (scale + 1e-12)
    return loss


def fooled(logits: torch.Tensor, labels: torch.Tensor, *, targeted: bool) -> torch.Tensor:
    """Per sample: misclassified (untargeted) or classified as ``labels`` (targeted)."""
    pred = logits.argmax(1)
    return pred == labels if targeted else pred != labels


def runner_up(logits: torch.Tensor, exclude: torch.Tensor) -> torch.Tensor:
    """The likeliest class other than ``exclude`` (per sample)."""
    return logits.scatter(1, exclude[:, None], -INF).argmax(1)


def generator_for(images: torch.Tensor, seed: int) -> torch.Generator:
    """A generator on ``images``' device, seeded, so that a run is reproducible."""
    return torch.Generator(device=images.device).manual_seed(int(seed))


def l2(x: torch.Tensor) -> torch.Tensor:
    """Per-sample L2 norm of ``(N, ...)``."""
    return x.flatten(1).norm(dim=1)
