"""Square Attack (Andriushchenko et al., ECCV 2020), L-inf: a score-based black box.

"Square Attack: a query-efficient black-box adversarial attack via random search". Only
forward passes (scores) are used, never gradients:

* start from vertical stripes: every column of every channel at ``+eps`` or ``-eps``;
* each iteration, per image still standing, draw a square window of side
  ``s = round(sqrt(p * H * W))`` at a random place and set it, per channel, to ``+eps`` or
  ``-eps`` around the clean image; keep the change if the loss (the margin
  ``z_y - max_{i != y} z_i`` by default) went down or the image is now misclassified;
* ``p`` starts at ``p_init`` and is halved at iterations 10, 50, 200, 500, 1000, 2000, 4000,
  6000 and 8000 of a 10,000-query schedule rescaled to ``n_queries``.

Unlike AutoAttack's batched version, the window and its signs are drawn per image (as in the
paper's algorithm). An image stops costing queries once it is fooled.
"""

from __future__ import annotations

import math

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
from harlab.attacks._losses import INF, generator_for
from harlab.attacks.stats import AttackStats
from harlab.errors import InputError
from harlab.validation import check_positive_int

LOSSES = ("margin", "ce")
_SCHEDULE = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


def square(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, *,
           n_queries: int = 5000, p_init: float = 0.8, loss: str = "margin", seed: int = 0,
           targeted: bool = False, stats: AttackStats | None = None) -> torch.Tensor:
    """Random-search L-inf attack using only the model's scores.

    Args:
        n_queries: the query budget per image (forward passes, the first one included).
        p_init: the initial fraction of pixels a square covers (0.8 in AutoAttack).
        loss: ``margin`` (``z_y - max_{i != y} z_i``) or ``ce`` (cross-entropy).
        seed: seed of the random search.

    ``stats.queries`` receives the queries each image used.

    Shape:
        images: ``(N, C, H, W)`` float in ``[0, 1]``; labels: ``(N,)``. Returns ``(N, C, H, W)``.
    """
    eps = check_eps(eps)
    n_queries = check_positive_int(n_queries, "n_queries")
    if isinstance(p_init, bool) or not isinstance(p_init, (int, float)) or not 0 < p_init <= 1:
        raise InputError(f"p_init must be a number in (0, 1] (0.8 in AutoAttack), got "
                         f"{p_init!r}")
    if loss not in LOSSES:
        raise InputError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    labels = check_batch(model, images, labels)
    clean = images.detach()
    n, c, h, w = clean.shape
    gen = generator_for(clean, seed)
    with torch.no_grad(), eval_mode(model):
        if eps == 0:
            x_best = clean.clone()
        else:
            stripes = _signs((n, c, 1, w), gen, clean)
            x_best = (clean + eps * stripes).clamp_(0.0, 1.0)
        logits = model(x_best)
        check_logits(logits, n)
        check_label_range(labels, logits.shape[1])
        margin, score = _margin_and_loss(logits, labels, targeted, loss)
        queries = torch.ones(n, dtype=torch.long, device=clean.device)
        low, high = (clean - eps).clamp_(min=0.0), (clean + eps).clamp_(max=1.0)
        rows = torch.arange(h, device=clean.device)
        cols = torch.arange(w, device=clean.device)
        for it in range(n_queries - 1 if eps > 0 else 0):
            active = (margin > 0).nonzero()[:, 0]
            if active.numel() == 0:
                break
            m = active.numel()
            side = min(max(round(math.sqrt(_p(p_init, it, n_queries) * h * w)), 1), h, w)
            top = torch.randint(0, h - side + 1, (m, 1), generator=gen, device=clean.device)
            left = torch.randint(0, w - side + 1, (m, 1), generator=gen, device=clean.device)
            in_rows = (rows >= top) & (rows < top + side)
            in_cols = (cols >= left) & (cols < left + side)
            window = (in_rows[:, :, None] & in_cols[:, None, :])[:, None]  # (m, 1, H, W)
            full = m == n  # no gather / scatter copies while every image is still standing
            current = x_best if full else x_best[active]
            up = torch.randint(0, 2, (m, c, 1, 1), generator=gen, device=clean.device) > 0
            proposal = torch.where(up, high if full else high[active],
                                   low if full else low[active])
            x_new = torch.where(window, proposal, current)
            new_margin, new_score = _margin_and_loss(model(x_new), labels[active], targeted,
                                                     loss)
            lower = new_score < score[active]
            keep = lower | (new_margin <= 0)
            score[active] = torch.where(lower, new_score, score[active])
            margin[active] = torch.where(keep, new_margin, margin[active])
            kept = torch.where(keep[:, None, None, None], x_new, current)
            if full:
                x_best = kept
            else:
                x_best[active] = kept
            queries[active] += 1
    if stats is not None:
        stats.queries = queries.cpu()
        stats.success = (margin <= 0).cpu()
    return x_best


def _margin_and_loss(logits, labels, targeted, loss):
    """(margin > 0 while the attack has not succeeded, loss to minimise)."""
    z_y = logits.gather(1, labels[:, None]).squeeze(1)
    z_other = logits.scatter(1, labels[:, None], -INF).amax(1)
    margin = z_other - z_y if targeted else z_y - z_other
    if loss == "margin":
        return margin, margin
    ce = F.cross_entropy(logits, labels, reduction="none")
    return margin, ce if targeted else -ce


def _signs(shape, gen, like) -> torch.Tensor:
    bits = torch.randint(0, 2, shape, generator=gen, device=like.device)
    return bits.to(like.dtype).mul_(2).sub_(1)


def _p(p_init: float, it: int, n_queries: int) -> float:
    """The square's pixel fraction at iteration ``it`` (the paper's schedule, rescaled)."""
    it = int(it / n_queries * 10000)
    return p_init / 2 ** sum(it > t for t in _SCHEDULE)

