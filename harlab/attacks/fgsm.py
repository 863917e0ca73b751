"""The Fast Gradient Sign Method (Goodfellow et al., 2015), exactly as in the study.

``x_adv = clip(x + eps * sign(grad_x J(theta, x, y)), 0, 1)`` for the untargeted attack, and
``clip(x - eps * sign(grad_x J(theta, x, t)), 0, 1)`` for the targeted one (descend the loss of
the target ``t``). The gradient is taken with :func:`torch.autograd.grad` with respect to the
input only, so no parameter gradients are computed or accumulated in ``.grad``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from harlab.attacks._checks import (
    check_batch,
    check_eps,
    check_label_range,
    check_logits,
    eval_mode,
)


def input_gradient(model: nn.Module, images: torch.Tensor,
                   labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient of the summed cross-entropy with respect to ``images`` (checked inputs).

    The sum (not the mean) keeps each image's gradient independent of the batch size; only
    its sign or its own norm is ever used.

    Shape:
        images: ``(N, C, H, W)``; labels: ``(N,)`` int64.
        Returns ``(grad (N, C, H, W), logits (N, num_classes))``, both detached.
    """

    with torch.enable_grad():
        x = images.detach().requires_grad_(True)
        logits = model(x)
        check_logits(logits, x.shape[0])
        check_label_range(labels, logits.shape[1])
        loss = F.cross_entropy(logits, labels, reduction="sum")
        (grad,) = torch.autograd.grad(loss, x)
    return grad, logits.detach()


def fgsm(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, *,
         targeted: bool = False) -> torch.Tensor:
    """One signed-gradient step of size ``eps``, clipped to the valid pixel range.

    Args:
        model: maps ``[0, 1]`` images to logits (normalisation lives inside the model).
            Run in eval mode; every submodule's train/eval flag is restored afterwards.
        images: clean images; never modified.
        labels: true classes (untargeted: ascend their loss) or target classes
            (``targeted=True``: descend their loss).
        eps: L-inf budget on the ``[0, 1]`` scale (``8/255``, not ``8``); ``0`` returns a copy.
        targeted: move toward ``labels`` instead of away from them.

    Shape:
        images: ``(N, C, H, W)`` float in ``[0, 1]``; labels: ``(N,)`` integer.
        Returns: ``(N, C, H, W)``, same dtype and device, ``|x_adv - x| <= eps``.

    Raises:
        InputError: bad eps, shapes, dtypes, value range, label range or devices.
    """
    eps = check_eps(eps)
    labels = check_batch(model, images, labels)
    with eval_mode(model):
        grad, _ = input_gradient(model, images, labels)
    # Out of place: autograd may hand back an expanded (shared-memory) gradient.
    return images.detach().add(grad.sign(), alpha=-eps if targeted else eps).clamp_(0.0, 1.0)
