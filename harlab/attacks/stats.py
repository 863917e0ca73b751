"""What an attack reports besides its images: :class:`AttackStats`.

Attacks that have something to report (queries, norms, per-component robust accuracy, the
frames they touched) take ``stats=AttackStats()`` and fill it in; the plain call still returns
just the images, so every attack keeps the one call shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class AttackStats:
    """Filled in by an attack given ``stats=``; fields an attack has nothing to say on stay None.

    Attributes:
        success: per sample, the returned image is misclassified (untargeted) or classified
            as its target (targeted).
        queries: per sample, the model evaluations (forward passes) the attack spent on it.
        norms: per sample, the L2 norm of the returned perturbation.
        min_norms: per sample, the smallest flipping L2 norm the attack found before it was
            held to ``eps`` (``inf`` where it found none).
        frames: per sample, whether the frame was perturbed (sparse-frame attacks).
        robust_accuracy: accuracy on the attacked images after each stage, in order
            (``{"clean": 0.9, "apgd-ce": 0.2, ...}``), for composite attacks.

    Shape:
        success, frames: ``(N,)`` bool; queries: ``(N,)`` int64; norms, min_norms: ``(N,)``
        float. All on the CPU.
    """

    success: torch.Tensor | None = None
    queries: torch.Tensor | None = None
    norms: torch.Tensor | None = None
    min_norms: torch.Tensor | None = None
    frames: torch.Tensor | None = None
    robust_accuracy: dict[str, float] = field(default_factory=dict)

    @property
    def success_rate(self) -> float | None:
        """Fraction of samples for which the attack succeeded."""
        return None if self.success is None else float(self.success.float().mean())
