"""Stronger L-inf attacks with FGSM's call shape: BIM / I-FGSM, PGD and MI-FGSM.

All three repeat a signed-gradient step of size ``alpha`` and project back onto the ``eps``
ball around the clean images and onto ``[0, 1]`` after every step:

* **BIM / I-FGSM** (Kurakin et al., 2017): start at the clean images.
* **PGD** (Madry et al., 2018): start at a uniform random point of the ``eps`` ball.
* **MI-FGSM** (Dong et al., 2018): step along the sign of a momentum of L1-normalised gradients.

The default ``alpha`` is ``2.5 * eps / steps`` for BIM and PGD (Madry et al.'s rule, so that the
iterate can cross the ball) and ``eps / steps`` for MI-FGSM (Dong et al.).
"""

from __future__ import annotations

import torch
from torch import nn

from harlab.attacks._checks import check_batch, check_eps, eval_mode
from harlab.attacks.fgsm import input_gradient
from harlab.errors import InputError
from harlab.validation import check_positive_int


def bim(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, *,
        steps: int = 10, alpha: float | None = None, targeted: bool = False) -> torch.Tensor:
    """Basic Iterative Method (I-FGSM): ``steps`` projected FGSM steps of size ``alpha``.

    Shape:
        images: ``(N, C, H, W)`` float in ``[0, 1]``; labels: ``(N,)``. Returns ``(N, C, H, W)``.
    """
    return _iterate(model, images, labels, eps, steps=steps, alpha=alpha, targeted=targeted,
                    random_start=False, decay=None, generator=None, default_alpha_scale=2.5)


def pgd(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, *,
        steps: int = 10, alpha: float | None = None, random_start: bool = True,
        targeted: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
    """Projected Gradient Descent with an optional uniform random start in the eps ball.

    Args:
        generator: a ``torch.Generator`` on the images' device for a reproducible start.

    Shape:
        images: ``(N, C, H, W)`` float in ``[0, 1]``; labels: ``(N,)``. Returns ``(N, C, H, W)``.
    """
    return _iterate(model, images, labels, eps, steps=steps, alpha=alpha, targeted=targeted,
                    random_start=random_start, decay=None, generator=generator,
                    default_alpha_scale=2.5)


def mifgsm(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, *,
           steps: int = 10, alpha: float | None = None, decay: float = 1.0,
           targeted: bool = False) -> torch.Tensor:
    """Momentum Iterative FGSM: ``g = decay * g + grad / mean|grad|``, step ``alpha * sign(g)``.

    Shape:
        images: ``(N, C, H, W)`` float in ``[0, 1]``; labels: ``(N,)``. Returns ``(N, C, H, W)``.
    """
    if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0 <= decay:
        raise InputError(f"decay must be a number >= 0 (1.0 in the MI-FGSM paper), got "
                         f"{decay!r}")
    return _iterate(model, images, labels, eps, steps=steps, alpha=alpha, targeted=targeted,
                    random_start=False, decay=float(decay), generator=None,
                    default_alpha_scale=1.0)


def _iterate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, *,
             steps: int, alpha: float | None, targeted: bool, random_start: bool,
             decay: float | None, generator: torch.Generator | None,
             default_alpha_scale: float) -> torch.Tensor:

    eps = check_eps(eps)
    steps = check_positive_int(steps, "steps")
    alpha = default_alpha_scale * eps / steps if alpha is None else check_eps(alpha,
                                                                              name="alpha")
    labels = check_batch(model, images, labels)
    clean = images.detach()
    low, high = (clean - eps).clamp_(min=0.0), (clean + eps).clamp_(max=1.0)
    adv = clean.clone()
    if random_start and eps > 0:
        noise = torch.rand(clean.shape, generator=generator, device=clean.device,
                           dtype=clean.dtype)
        adv = torch.minimum(torch.maximum(adv + noise.mul_(2 * eps).sub_(eps), low), high)
    momentum = torch.zeros_like(clean) if decay is not None else None
    direction = -alpha if targeted else alpha
    with eval_mode(model):
        for _ in range(steps):
            grad, _ = input_gradient(model, adv, labels)
            if momentum is not None:
                l1 = grad.abs().mean(dim=tuple(range(1, grad.ndim)), keepdim=True)
                grad = momentum.mul_(decay).add_(grad / l1.clamp_min(1e-12))
            adv = adv.add(grad.sign(), alpha=direction)
            adv = torch.minimum(torch.maximum(adv, low), high)
    return adv
