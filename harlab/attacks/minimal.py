"""Minimal-norm L2 attacks: DeepFool (Moosavi-Dezfooli et al., 2016) and Carlini-Wagner L2 (2017).

Both look for the *smallest* L2 perturbation that changes the prediction rather than the worst
one inside a budget. ``eps`` caps the result: a perturbation longer than ``eps`` is scaled back
onto the L2 ball (as foolbox does with minimisation attacks), so every attack's output stays in
its budget; ``eps=inf`` leaves it unbounded. ``stats.min_norms`` receives the smallest flipping
norm found (``inf`` where none was), ``stats.norms`` the norm of the image returned.
"""

from __future__ import annotations

import torch
from torch import nn

from harlab.attacks._checks import check_batch, check_l2_eps, eval_mode
from harlab.attacks._losses import INF, checked_logits, fooled, l2, margin
from harlab.attacks.stats import AttackStats
from harlab.errors import InputError
from harlab.validation import check_positive_int


def deepfool(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, *,
             steps: int = 50, overshoot: float = 0.02, candidates: int = 10,
             targeted: bool = False, stats: AttackStats | None = None) -> torch.Tensor:
    """DeepFool: step to the nearest linearised class boundary until the prediction changes.

    Each step linearises ``z_k - z_y`` for the ``candidates`` likeliest other classes ``k``
    (one backward pass each), moves to the closest boundary ``r = (|f_l| + 1e-4) w_l /
    ||w_l||^2``, and the total is scaled by ``1 + overshoot``. Targeted: the only candidate is
    the target and ``y`` is the current prediction.

    Args:
        steps: the most linearisation steps (50 in the paper's code).
        overshoot: how far past the boundary the total goes (0.02 in the paper).
        candidates: the likeliest other classes considered at each step (10 in the paper's
            code).

    Shape:
        images: ``(N, C, H, W)`` float in ``[0, 1]``; labels: ``(N,)``. Returns ``(N, C, H, W)``.
    """
    eps = check_l2_eps(eps)
    steps = check_positive_int(steps, "steps")
    candidates = check_positive_int(candidates, "candidates")
    if isinstance(overshoot, bool) or not isinstance(overshoot, (int, float)) or overshoot < 0:
        raise InputError(f"overshoot must be a number >= 0 (0.02 in the paper), got "
                         f"{overshoot!r}")
    labels = check_batch(model, images, labels)
    clean = images.detach()
    with eval_mode(model):
        logits = checked_logits(model, clean, labels)
        if eps == 0:
            return _finish(model, clean, clean.clone(), labels, eps, targeted, stats)
        total = torch.zeros_like(clean)
        k = min(candidates, logits.shape[1] - 1)
        for _ in range(steps):
            x = (clean + (1 + overshoot) * total).clamp_(0.0, 1.0)
            with torch.no_grad():
                pred = model(x).argmax(1)
            active = (pred != labels if targeted else pred == labels).nonzero()[:, 0]
            if active.numel() == 0:
                break
            total[active] += _step(model, x[active], labels[active], pred[active], k, targeted)
        adv = (clean + (1 + overshoot) * total).clamp_(0.0, 1.0)
        return _finish(model, clean, adv, labels, eps, targeted, stats)


def _step(model, x, labels, pred, k, targeted) -> torch.Tensor:
    """One DeepFool step for still-standing images ``x``."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        logits = model(x)
        if targeted:
            source, others = pred, labels[:, None]
        else:
            source = labels
            others = logits.detach().scatter(1, labels[:, None], -INF).topk(k, 1).indices
        z_src = logits.gather(1, source[:, None])
        best_dist = torch.full((x.shape[0],), INF, device=x.device)
        best = torch.zeros_like(x)
        for j in range(others.shape[1]):
            f = (logits.gather(1, others[:, j:j + 1]) - z_src).squeeze(1)
            (w,) = torch.autograd.grad(f.sum(), x, retain_graph=j < others.shape[1] - 1)
            w_norm = l2(w).clamp_min(1e-12)
            dist = f.detach().abs() / w_norm
            closer = dist < best_dist
            r = ((f.detach().abs() + 1e-4) / w_norm**2)[:, None, None, None] * w
            best = torch.where(closer[:, None, None, None], r, best)
            best_dist = torch.where(closer, dist, best_dist)
    return best


def cw_l2(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, *,
          c: float = 1.0, kappa: float = 0.0, steps: int = 100, lr: float = 0.01,
          search_steps: int = 5, targeted: bool = False,
          stats: AttackStats | None = None) -> torch.Tensor:
    """Carlini-Wagner L2: Adam on ``w`` with ``x = (tanh(w) + 1) / 2``, binary search over c.

    Minimises ``||x - x0||^2 + c * max(z_y - max_{i != y} z_i, -kappa)`` (targeted:
    ``max(max_{i != t} z_i - z_t, -kappa)``). After each run of ``steps`` Adam steps, ``c``
    is bisected per image between the largest value that failed and the smallest that
    succeeded (times 10 while none has). Keeps the smallest flipping image found.

    Args:
        c: the initial trade-off constant.
        kappa: confidence margin (0 in the paper's L2 results).
        steps: Adam steps per value of c.
        lr: Adam's learning rate (0.01 in the paper).
        search_steps: values of c tried (binary search).

    Shape:
        images: ``(N, C, H, W)`` float in ``[0, 1]``; labels: ``(N,)``. Returns ``(N, C, H, W)``.
    """
    eps = check_l2_eps(eps)
    steps = check_positive_int(steps, "steps")
    search_steps = check_positive_int(search_steps, "search_steps")
    for name, value in (("c", c), ("lr", lr)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise InputError(f"{name} must be a number > 0, got {value!r}")
    if isinstance(kappa, bool) or not isinstance(kappa, (int, float)) or kappa < 0:
        raise InputError(f"kappa must be a number >= 0, got {kappa!r}")
    labels = check_batch(model, images, labels)
    clean = images.detach()
    n = clean.shape[0]
    with eval_mode(model):
        checked_logits(model, clean, labels)
        if eps == 0:
            return _finish(model, clean, clean.clone(), labels, eps, targeted, stats)
        w0 = torch.atanh((clean * 2 - 1).clamp(-1 + 1e-6, 1 - 1e-6))
        const = torch.full((n,), float(c), device=clean.device)
        low = torch.zeros(n, device=clean.device)
        high = torch.full((n,), INF, device=clean.device)
        best_norm = torch.full((n,), INF, device=clean.device)
        best = clean.clone()
        for _ in range(search_steps):
            w = w0.clone().requires_grad_(True)
            opt = torch.optim.Adam([w], lr=lr)
            success = torch.zeros(n, dtype=torch.bool, device=clean.device)
            for _ in range(steps):
                with torch.enable_grad():
                    x = (torch.tanh(w) + 1) / 2
                    logits = model(x)
                    side = margin(logits, labels)
                    side = -side if targeted else side
                    dist = (x - clean).flatten(1).pow(2).sum(1)
                    loss = (dist + const * side.clamp(min=-kappa)).sum()
                    (w.grad,) = torch.autograd.grad(loss, w)
                ok = fooled(logits.detach(), labels, targeted=targeted)
                norm = dist.detach().sqrt()
                better = ok & (norm < best_norm)
                best = torch.where(better[:, None, None, None], x.detach(), best)
                best_norm = torch.where(better, norm, best_norm)
                success |= ok
                opt.step()
            high = torch.where(success, torch.minimum(high, const), high)
            low = torch.where(success, low, torch.maximum(low, const))
            const = torch.where(high < INF, (low + high) / 2, const * 10)
        return _finish(model, clean, best, labels, eps, targeted, stats)


def _finish(model, clean, adv, labels, eps, targeted, stats) -> torch.Tensor:
    """Hold ``adv`` to the L2 ball of radius ``eps`` and fill ``stats``."""
    delta = adv - clean
    norm = l2(delta)
    scale = (eps / norm.clamp_min(1e-12)).clamp(max=1.0)
    out = (clean + delta * scale[:, None, None, None]).clamp_(0.0, 1.0)
    if stats is not None:
        with torch.no_grad():
            found = fooled(model(adv), labels, targeted=targeted)
            stats.success = fooled(model(out), labels, targeted=targeted).cpu()
        stats.min_norms = torch.where(found, norm, torch.full_like(norm, INF)).cpu()
        stats.norms = l2(out - clean).cpu()
    return out
