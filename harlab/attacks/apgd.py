"""Auto-PGD (Croce & Hein, ICML 2020): APGD-CE and APGD-T, L-inf.

"Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free
attacks". APGD is PGD with momentum and a step size that needs no tuning:

* start at a uniform random point of the ``eps`` ball with step ``eta = 2 * eps``;
* step ``z = P(x_k + eta * sign(grad))`` and ``x_{k+1} = P(x_k + a (z - x_k) + (1 - a)
  (x_k - x_{k-1}))`` with ``a = 0.75`` (``1`` on the first step);
* at checkpoints ``w_j = ceil(p_j * steps)``, ``p_0 = 0``, ``p_1 = 0.22``, ``p_{j+1} = p_j +
  max(p_j - p_{j-1} - 0.03, 0.06)``, halve ``eta`` and go back to the best point when the loss
  rose in at most ``rho = 0.75`` of the steps since the last checkpoint, or when neither the
  step nor the best loss changed since then;
* restarts: each further run (from a new random start) attacks only the points not yet fooled.

APGD-CE ascends the cross-entropy; APGD-T descends the targeted Difference of Logits Ratio
toward each of the ``n_target_classes`` likeliest other classes in turn, on what survived.
The step-size bookkeeping stays on the device: a step costs one forward and one backward pass
plus a few element-wise operations.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from harlab.attacks._checks import check_batch, check_eps, eval_mode
from harlab.attacks._losses import (
    ce_loss,
    checked_logits,
    dlr_loss,
    dlr_targeted_loss,
    fooled,
    generator_for,
    input_grad,
    runner_up,
)
from harlab.attacks.stats import AttackStats
from harlab.errors import InputError
from harlab.validation import check_positive_int

LOSSES = ("ce", "dlr")


def apgd(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, *,
         steps: int = 100, restarts: int = 1, loss: str = "ce", rho: float = 0.75,
         seed: int = 0, targeted: bool = False, stats: AttackStats | None = None,
         ) -> torch.Tensor:
    """APGD-CE (or APGD-DLR with ``loss="dlr"``): step-size-free PGD with momentum.

    Args:
        steps: iterations per run (100 in AutoAttack).
        restarts: random restarts; each attacks only the points not yet fooled.
        loss: ``ce`` (cross-entropy) or ``dlr`` (Difference of Logits Ratio).
        rho: the fraction of increasing steps below which the step size is halved.
        seed: seed of the random starts.

    Returns the first image found that fools the model, else the highest-loss one.

    Shape:
        images: ``(N, C, H, W)`` float in ``[0, 1]``; labels: ``(N,)``. Returns ``(N, C, H, W)``.
    """
    eps, steps, restarts, rho = _check(eps, steps, restarts, rho)
    if loss not in LOSSES:
        raise InputError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    labels = check_batch(model, images, labels)
    clean = images.detach()
    if eps == 0:
        return _identity(model, clean, labels, targeted, stats)
    gen = generator_for(clean, seed)
    with eval_mode(model):
        logits = checked_logits(model, clean, labels)
        if loss == "ce":
            def loss_for(idx):
                return ce_loss(labels[idx], targeted=targeted)
        elif targeted:
            other = runner_up(logits, labels)

            def loss_for(idx):
                return dlr_targeted_loss(other[idx], labels[idx])
        else:
            def loss_for(idx):
                return dlr_loss(labels[idx])
        adv, done = _restarts(model, clean, labels, eps, steps, restarts, rho, targeted,
                              loss_for, gen, runs=[None])
    return _finish(adv, done, stats)


def apgd_t(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, *,
           steps: int = 100, restarts: int = 1, n_target_classes: int = 9, rho: float = 0.75,
           seed: int = 0, targeted: bool = False, stats: AttackStats | None = None,
           ) -> torch.Tensor:
    """APGD-T: targeted DLR toward each of the ``n_target_classes`` likeliest other classes.

    Untargeted in aim: a point counts as fooled once it leaves its true class. With
    ``targeted=True`` the labels are the targets and the loss is the targeted DLR against
    the likeliest other class.

    Args:
        steps: iterations per run (100 in AutoAttack).
        restarts: random restarts per target class.
        n_target_classes: how many of the likeliest other classes to target (9 in AutoAttack;
            capped at the number of classes - 1).
        rho: the fraction of increasing steps below which the step size is halved.
        seed: seed of the random starts.

    Shape:
        images: ``(N, C, H, W)`` float in ``[0, 1]``; labels: ``(N,)``. Returns ``(N, C, H, W)``.
    """
    eps, steps, restarts, rho = _check(eps, steps, restarts, rho)
    n_target_classes = check_positive_int(n_target_classes, "n_target_classes")
    labels = check_batch(model, images, labels)
    clean = images.detach()
    if eps == 0:
        return _identity(model, clean, labels, targeted, stats)
    gen = generator_for(clean, seed)
    with eval_mode(model):
        logits = checked_logits(model, clean, labels)
        if targeted:
            other = runner_up(logits, labels)
            runs = [lambda idx: dlr_targeted_loss(other[idx], labels[idx])]
        else:
            ranked = logits.scatter(1, labels[:, None], -math.inf).argsort(1, descending=True)
            n = min(n_target_classes, logits.shape[1] - 1)
            runs = [(lambda idx, j=j: dlr_targeted_loss(labels[idx], ranked[idx, j]))
                    for j in range(n)]
        adv, done = _restarts(model, clean, labels, eps, steps, restarts, rho, targeted,
                              None, gen, runs=runs)
    return _finish(adv, done, stats)


# ---------------------------------------------------------------------------- the method
def _restarts(model, clean, labels, eps, steps, restarts, rho, targeted, loss_for, gen, *,
              runs) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (loss, restart) run on the points still standing; returns (adv, fooled)."""
    n = clean.shape[0]
    adv = clean.clone()
    best_loss = torch.full((n,), -math.inf, device=clean.device)
    done = torch.zeros(n, dtype=torch.bool, device=clean.device)
    first = True
    for run in runs:
        make_loss = loss_for if run is None else run
        for _ in range(restarts):
            idx = torch.arange(n, device=clean.device) if first else (~done).nonzero()[:, 0]
            first = False
            if idx.numel() == 0:
                return adv, done
            x_best, ok, x_adv, loss = _single_run(model, clean[idx], labels[idx], eps, steps,
                                                  rho, targeted, make_loss(idx), gen)
            # Fooled points keep their first adversarial image; the others the highest loss.
            better = ok | (~done[idx] & (loss > best_loss[idx]))
            adv[idx] = torch.where(better[:, None, None, None], torch.where(
                ok[:, None, None, None], x_adv, x_best), adv[idx])
            best_loss[idx] = torch.where(better, loss, best_loss[idx])
            done[idx] |= ok
    return adv, done


def _single_run(model, x, y, eps, steps, rho, targeted, loss_fn, gen):
    """One APGD run; returns (max-loss point, fooled, last fooling point, max loss)."""
    n = x.shape[0]
    view = (n, 1, 1, 1)
    low, high = (x - eps).clamp_(min=0.0), (x + eps).clamp_(max=1.0)
    t = torch.rand(x.shape, generator=gen, device=x.device, dtype=x.dtype).mul_(2).sub_(1)
    t = t / t.flatten(1).abs().amax(1).clamp_min(1e-12).view(view)
    x_adv = torch.minimum(torch.maximum(x + eps * t, low), high)

    grad, logits, loss = input_grad(model, x_adv, loss_fn)
    ok = fooled(logits, y, targeted=targeted)
    x_fool = torch.where(ok.view(view), x_adv, x)
    x_best, grad_best, loss_best = x_adv.clone(), grad.clone(), loss.clone()
    history = torch.empty(steps + 1, n, device=x.device)
    history[0] = loss
    step = torch.full(view, 2.0 * eps, device=x.device, dtype=x.dtype)
    x_old = x_adv
    interval, interval_min, shrink = (max(int(0.22 * steps), 1), max(int(0.06 * steps), 1),
                                      max(int(0.03 * steps), 1))
    since, last_check = 0, 0
    best_at_check = loss_best.clone()
    reduced_at_check = torch.ones(n, dtype=torch.bool, device=x.device)
    for i in range(steps):
        momentum = 0.75 if i > 0 else 1.0
        z = torch.minimum(torch.maximum(x_adv + step * grad.sign(), low), high)
        x_new = x_adv + momentum * (z - x_adv) + (1 - momentum) * (x_adv - x_old)
        x_old, x_adv = x_adv, torch.minimum(torch.maximum(x_new, low), high)

        grad, logits, loss = input_grad(model, x_adv, loss_fn)
        now = fooled(logits, y, targeted=targeted)
        x_fool = torch.where(now.view(view), x_adv, x_fool)
        ok |= now
        history[i + 1] = loss
        up = loss > loss_best
        x_best = torch.where(up.view(view), x_adv, x_best)
        grad_best = torch.where(up.view(view), grad, grad_best)
        loss_best = torch.where(up, loss, loss_best)

        since += 1
        if since == interval:  # a checkpoint w_j
            window = history[last_check:i + 2]
            rose = (window[1:] > window[:-1]).sum(0)
            halve = (rose <= interval * rho) | (~reduced_at_check & (best_at_check >= loss_best))
            reduced_at_check, best_at_check = halve, loss_best.clone()
            step = torch.where(halve.view(view), step / 2, step)
            x_adv = torch.where(halve.view(view), x_best, x_adv)
            grad = torch.where(halve.view(view), grad_best, grad)
            since, last_check = 0, i + 1
            interval = max(interval - shrink, interval_min)
    return x_best, ok, x_fool, loss_best


# ---------------------------------------------------------------------------- shared
def _check(eps, steps, restarts, rho) -> tuple[float, int, int, float]:
    eps = check_eps(eps)
    steps = check_positive_int(steps, "steps")
    restarts = check_positive_int(restarts, "restarts")
    if isinstance(rho, bool) or not isinstance(rho, (int, float)) or not 0 < rho <= 1:
        raise InputError(f"rho must be a number in (0, 1] (0.75 in the APGD paper), got {rho!r}")
    return eps, steps, restarts, float(rho)


def _identity(model, clean, labels, targeted, stats) -> torch.Tensor:
    if stats is not None:
        with eval_mode(model):
            logits = checked_logits(model, clean, labels)
        stats.success = fooled(logits, labels, targeted=targeted).cpu()
        stats.queries = torch.ones(clean.shape[0], dtype=torch.long)
    return clean.clone()


def _finish(adv: torch.Tensor, done: torch.Tensor, stats: AttackStats | None) -> torch.Tensor:
    if stats is not None:
        stats.success = done.cpu()
    return adv
