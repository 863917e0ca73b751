"""Input checks shared by every attack, and the model-mode guard.

Each check raises :class:`~harlab.errors.InputError` naming the value, what was expected and
the fix. They are cheap (one fused min/max for the pixel range, one for the labels) so that
validating never costs a noticeable share of an attack.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction

import torch
from torch import nn

from harlab.errors import InputError


def parse_eps(value: object, *, name: str = "eps") -> float:
    """Turn ``8/255``, ``"8/255"``, ``"0.03"`` or ``0.03`` into a float on the [0, 1] scale.

    Raises:
        InputError: not a number, negative, not finite, or above 1 (with a ``N/255`` hint).
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(Fraction(text.replace(" ", "")))
        except (ValueError, ZeroDivisionError) as exc:
            raise InputError(f"{name} must be a number such as 0.03 or 8/255, got {value!r}; "
                             "write it as a decimal or a fraction of 255.") from exc
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a real number on the [0, 1] pixel scale, got "
                         f"{value!r} ({type(value).__name__}); pass e.g. 8/255.")
    else:
        number = float(value)
    return check_eps(number, name=name)


def check_eps(eps: object, *, name: str = "eps") -> float:
    """Validate a budget on the [0, 1] pixel scale; ``0`` is allowed (the identity)."""
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise InputError(f"{name} must be a real number on the [0, 1] pixel scale, got "
                         f"{eps!r} ({type(eps).__name__}); pass e.g. 8/255.")
    eps = float(eps)
    if not math.isfinite(eps):
        raise InputError(f"{name} must be a finite number in [0, 1] on the [0, 1] pixel scale, "
                         f"got {eps}; pass e.g. 8/255.")
    if eps < 0:
        raise InputError(f"{name} must be in [0, 1] on the [0, 1] pixel scale, got {eps:g}; "
                         "a budget cannot be negative (use targeted=True to move toward a "
                         "label instead).")
    if eps > 1:
        hint = f"{eps:g}/255" if eps <= 255 else "a value at most 1"
        raise InputError(f"{name} must be in [0, 1] on the [0, 1] pixel scale, got {eps:g} "
                         f"(did you mean {hint}?)")
    return eps


def check_batch(model: nn.Module, images: torch.Tensor,
                labels: torch.Tensor) -> torch.Tensor:
    """Check an attack's tensors and return ``labels`` as int64.

    Shape:
        images: ``(N, C, H, W)`` floating point, values in ``[0, 1]``.
        labels: ``(N,)`` integer class indices on the same device as ``images``.
    """

    if not isinstance(model, nn.Module):
        raise InputError(f"model must be a torch.nn.Module mapping [0, 1] images to logits, "
                         f"got {type(model).__name__}")
    if not isinstance(images, torch.Tensor):
        raise InputError(f"images must be a torch.Tensor of shape (N, 3, H, W) in [0, 1], got "
                         f"{type(images).__name__}; convert with torch.as_tensor(x).")
    if images.ndim != 4:
        raise InputError(f"images must have shape (N, C, H, W), got shape "
                         f"{tuple(images.shape)}; add a batch axis with images.unsqueeze(0) "
                         "or permute (H, W, C) arrays to (C, H, W).")
    if not images.is_floating_point():
        raise InputError(f"images must be a floating-point tensor in [0, 1], got dtype "
                         f"{images.dtype}; convert uint8 frames with images.float() / 255.")
    if images.shape[0] == 0:
        raise InputError("images is an empty batch (N = 0); pass at least one image.")
    if not isinstance(labels, torch.Tensor):
        raise InputError(f"labels must be a torch.Tensor of class indices, got "
                         f"{type(labels).__name__}; use torch.as_tensor(labels).")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise InputError(f"labels must have shape (N,) = ({images.shape[0]},) to match images, "
                         f"got shape {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise InputError(f"labels must be integer class indices, got dtype {labels.dtype}; "
                         "use labels.long() (one-hot targets: labels.argmax(1)).")
    if labels.device != images.device:
        raise InputError(f"labels are on {labels.device} but images are on {images.device}; "
                         f"move them with labels.to({str(images.device)!r}).")
    param = next(iter(model.parameters()), None)
    if param is not None and param.device != images.device:
        raise InputError(f"images are on {images.device} but the model is on {param.device}; "
                         f"move them with images.to({str(param.device)!r}).")
    low, high = torch.aminmax(images.detach())
    low, high = float(low), float(high)
    if not (low >= 0.0 and high <= 1.0):  # also rejects NaN
        raise InputError(f"images must lie in [0, 1], got values in [{low:g}, {high:g}]; "
                         "pass un-normalised pixels (uint8 / 255) and keep the ImageNet "
                         "normalisation inside the model wrapper.")
    return labels.long()


def check_label_range(labels: torch.Tensor, num_classes: int) -> None:
    low, high = torch.aminmax(labels)
    low, high = int(low), int(high)
    if low < 0 or high >= num_classes:
        bad = low if low < 0 else high
        raise InputError(f"labels must be class indices in [0, {num_classes - 1}] for a model "
                         f"with {num_classes} outputs, got {bad}; check the class list the "
                         "model was trained with.")


def check_logits(logits: object, n: int) -> None:
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[0] != n:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise InputError(f"the model must return logits of shape (N, num_classes) = ({n}, C), "
                         f"got {shape}; wrap it so it returns plain logits.")


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Run the attack in eval mode, then restore every submodule's own train/eval flag."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def check_l2_eps(eps: object, *, name: str = "eps") -> float:
    """Validate an L2 budget on the ``[0, 1]`` pixel scale: ``>= 0``; ``inf`` means unbounded.

    An L2 norm over a whole image can exceed 1 (a 224 x 224 RGB image's largest is ~388), so
    there is no upper bound; ``0`` is the identity.
    """
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise InputError(f"{name} must be a real L2 budget on the [0, 1] pixel scale, got "
                         f"{eps!r} ({type(eps).__name__}); pass e.g. 0.5, or inf for none.")
    eps = float(eps)
    if math.isnan(eps) or eps < 0:
        raise InputError(f"{name} must be an L2 budget >= 0 on the [0, 1] pixel scale (inf: "
                         f"unbounded), got {eps:g}")
    return eps
