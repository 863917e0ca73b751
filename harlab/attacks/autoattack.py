"""An AutoAttack-style composite (Croce & Hein, ICML 2020): APGD-CE, APGD-T, then Square.

AutoAttack's standard L-inf evaluation (RobustBench) runs APGD-CE, APGD-T, FAB-T and Square in
turn, each only on the points every earlier attack left correctly classified, and reports the
robust accuracy after each. This composite runs the same chain without FAB-T (a minimal-norm
attack that rarely adds to APGD-T at a fixed budget; Croce & Hein, Table 2): robust accuracy
here is an upper bound on standard AutoAttack's.
"""

from __future__ import annotations

import torch
from torch import nn

from harlab.attacks._checks import check_batch, check_eps, eval_mode
from harlab.attacks._losses import checked_logits, fooled
from harlab.attacks.apgd import apgd, apgd_t
from harlab.attacks.square import square
from harlab.attacks.stats import AttackStats


def autoattack(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, *,
               steps: int = 100, n_target_classes: int = 9, n_queries: int = 5000,
               seed: int = 0, targeted: bool = False,
               stats: AttackStats | None = None) -> torch.Tensor:
    """APGD-CE, then APGD-T, then Square, each on what survived the ones before.

    Points misclassified before the attack come back unchanged (they are not robust at any
    budget); points that survive every component come back as APGD-CE's highest-loss image.
    ``stats.robust_accuracy`` receives the accuracy after each component
    (``clean``, ``apgd-ce``, ``apgd-t``, ``square``); targeted, the fraction not yet at
    its target.

    Args:
        steps: APGD iterations (100 in AutoAttack).
        n_target_classes: APGD-T's target classes (9 in AutoAttack).
        n_queries: Square's query budget (5000 in AutoAttack).
        seed: seed of every component's randomness.

    Shape:
        images: ``(N, C, H, W)`` float in ``[0, 1]``; labels: ``(N,)``. Returns ``(N, C, H, W)``.
    """
    eps = check_eps(eps)
    labels = check_batch(model, images, labels)
    clean = images.detach()
    components = (
        ("apgd-ce", apgd, {"steps": steps, "seed": seed}),
        ("apgd-t", apgd_t, {"steps": steps, "n_target_classes": n_target_classes,
                            "seed": seed}),
        ("square", square, {"n_queries": n_queries, "seed": seed}),
    )
    with eval_mode(model):
        robust = ~fooled(checked_logits(model, clean, labels), labels, targeted=targeted)
        accuracy = {"clean": float(robust.float().mean())}
        adv = clean.clone()
        for i, (name, attack, params) in enumerate(components):
            idx = robust.nonzero()[:, 0]
            if idx.numel() and eps > 0:
                part = AttackStats()
                out = attack(model, clean[idx], labels[idx], eps, targeted=targeted,
                             stats=part, **params)
                ok = part.success.to(clean.device)
                keep = ok if i else torch.ones_like(ok)
                adv[idx[keep]] = out[keep]
                robust[idx[ok]] = False
            accuracy[name] = float(robust.float().mean())
    if stats is not None:
        stats.success = (~robust).cpu()
        stats.robust_accuracy = accuracy
    return adv
