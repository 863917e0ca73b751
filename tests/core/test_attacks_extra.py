"""The attacks beyond the FGSM family, on a tiny classifier trained here in about a second.

What each attack promises: APGD is at least as strong as PGD at the same budget and steps;
Square uses only forward passes and counts them; DeepFool's and CW's images flip the prediction
at the norm they report; the AutoAttack-style chain reports robust accuracy that only falls;
the sparse-frame wrapper touches only the frames it chose. APGD and Square are compared with
torchattacks 3.5.1 (the test oracle, installed ``--no-deps`` by scripts/setup.sh).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from harlab.attacks import (
    AttackStats,
    apgd,
    apgd_t,
    autoattack,
    cw_l2,
    deepfool,
    get_spec,
    pgd,
    sparse_frames,
    square,
)
from harlab.errors import InputError

CLASSES, SIDE = 10, 6
#: Where PGD leaves about 70% of this model's test points standing: room to compare attacks.
EPS = 24 / 255


def make_data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Ten noisy colour-texture prototypes; labels uniform."""
    protos = torch.rand(CLASSES, 3, SIDE, SIDE, generator=torch.Generator().manual_seed(123))
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, CLASSES, (n,), generator=g)
    noise = 0.12 * torch.randn(n, 3, SIDE, SIDE, generator=g)
    return (0.25 + 0.5 * protos[labels] + noise).clamp(0, 1), labels


@pytest.fixture(scope="module")
def trained() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    x, y = make_data(1024, seed=0)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * SIDE * SIDE, 32), nn.ReLU(),
                          nn.Linear(32, CLASSES))
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    g = torch.Generator().manual_seed(1)
    for _ in range(150):
        idx = torch.randint(0, len(x), (64,), generator=g)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval().requires_grad_(False)
    xt, yt = make_data(200, seed=2)
    assert accuracy(model, xt, yt) > 0.95
    return model, xt, yt


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(images).argmax(1) == labels).float().mean())


class CountingModel(nn.Module):
    """Counts the images it scores; refuses to be differentiated (a score-only black box)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net, self.images = net, 0

    def forward(self, x):
        if torch.is_grad_enabled() and x.requires_grad:
            raise AssertionError("a black-box attack asked for gradients")
        self.images += x.shape[0]
        return self.net(x)


# ------------------------------------------------------------------------------- APGD
def test_apgd_at_least_as_strong_as_pgd_at_the_same_budget_and_steps(trained):
    model, x, y = trained
    gen = torch.Generator().manual_seed(0)
    robust_pgd = accuracy(model, pgd(model, x, y, EPS, steps=20, generator=gen), y)
    robust_apgd = accuracy(model, apgd(model, x, y, EPS, steps=20), y)
    robust_apgd_t = accuracy(model, apgd_t(model, x, y, EPS, steps=20, n_target_classes=3), y)
    assert robust_apgd <= robust_pgd < 0.95
    assert robust_apgd_t <= robust_pgd


def test_apgd_reports_success_and_is_reproducible(trained):
    model, x, y = trained
    stats = AttackStats()
    a = apgd(model, x[:40], y[:40], EPS, steps=10, restarts=2, stats=stats)
    assert torch.equal(a, apgd(model, x[:40], y[:40], EPS, steps=10, restarts=2))
    with torch.no_grad():
        assert torch.equal(stats.success, model(a).argmax(1) != y[:40])
    dlr = apgd(model, x[:40], y[:40], EPS, steps=10, loss="dlr")
    assert accuracy(model, dlr, y[:40]) < 1.0


@pytest.mark.parametrize("attack", [apgd, apgd_t])
def test_targeted_apgd_reaches_targets(trained, attack):
    model, x, y = trained
    target = (y[:40] + 1) % CLASSES
    stats = AttackStats()
    adv = attack(model, x[:40], target, 60 / 255, steps=20, targeted=True, stats=stats)
    with torch.no_grad():
        hit = model(adv).argmax(1) == target
    assert torch.equal(stats.success, hit) and hit.float().mean() > 0.5


# ------------------------------------------------------------------------------- Square
def test_square_uses_only_forward_passes_and_counts_them(trained):
    net, x, y = trained
    model = CountingModel(net)
    stats = AttackStats()
    adv = square(model, x[:50], y[:50], EPS, n_queries=100, stats=stats)
    assert int(stats.queries.sum()) == model.images
    assert stats.queries.min() >= 1 and stats.queries.max() <= 100
    assert (adv - x[:50]).abs().max() <= EPS + 1e-6
    with torch.no_grad():
        fooled = net(adv).argmax(1) != y[:50]
    assert torch.equal(stats.success, fooled)
    # A fooled image stops costing queries.
    assert (stats.queries[fooled] < 100).all() and (stats.queries[~fooled] == 100).all()


def test_square_lowers_robust_accuracy(trained):
    model, x, y = trained
    assert accuracy(model, square(model, x, y, EPS, n_queries=300), y) < accuracy(model, x, y)


# ------------------------------------------------------------------------- minimal norm
@pytest.mark.parametrize("attack, kwargs", [(deepfool, {}),
                                            (cw_l2, {"steps": 30, "search_steps": 4})])
def test_minimal_norm_attacks_flip_at_the_reported_norm(trained, attack, kwargs):
    model, x, y = trained
    x, y = x[:40], y[:40]
    stats = AttackStats()
    adv = attack(model, x, y, math.inf, stats=stats, **kwargs)
    with torch.no_grad():
        flipped = model(adv).argmax(1) != y
    assert flipped.float().mean() >= 0.9
    assert torch.equal(stats.success, flipped)
    norms = (adv - x).flatten(1).norm(dim=1)
    assert torch.allclose(stats.norms, norms, atol=1e-5)
    assert torch.allclose(stats.min_norms[flipped], norms[flipped], atol=1e-5)
    # Minimal: well inside what a blind L2 step would need, and the budget caps it.
    capped = AttackStats()
    small = attack(model, x, y, 0.5, stats=capped, **kwargs)
    assert (small - x).flatten(1).norm(dim=1).max() <= 0.5 + 1e-5
    assert capped.success.float().mean() < stats.success.float().mean()


def test_deepfool_targeted_reaches_the_target(trained):
    model, x, y = trained
    target = (y[:20] + 3) % CLASSES
    adv = deepfool(model, x[:20], target, math.inf, targeted=True)
    with torch.no_grad():
        assert (model(adv).argmax(1) == target).float().mean() >= 0.9


# ------------------------------------------------------------------------- AutoAttack
def test_autoattack_robust_accuracy_falls_component_by_component(trained):
    model, x, y = trained
    stats = AttackStats()
    adv = autoattack(model, x, y, EPS, steps=20, n_target_classes=3, n_queries=100,
                     stats=stats)
    acc = stats.robust_accuracy
    assert list(acc) == ["clean", "apgd-ce", "apgd-t", "square"]
    assert acc["clean"] >= acc["apgd-ce"] >= acc["apgd-t"] >= acc["square"]
    assert acc["square"] == pytest.approx(accuracy(model, adv, y))
    assert acc["apgd-ce"] == pytest.approx(accuracy(model, apgd(model, x, y, EPS, steps=20), y))
    assert (adv - x).abs().max() <= EPS + 1e-6


# ------------------------------------------------------------------------- sparse frames
def test_sparse_frames_perturbs_only_the_most_salient_k_per_video(trained):
    model, x, y = trained
    videos, per = 4, 5
    frames, labels = x[:videos * per], y[:videos * per].view(videos, per)[:, :1].repeat(1, per)
    labels = labels.flatten()
    stats = AttackStats()
    adv = sparse_frames(model, frames, labels, EPS, k=2, frames_per_video=per, stats=stats,
                        base_params={"steps": 5})
    changed = (adv - frames).flatten(1).abs().amax(1) > 0
    assert torch.equal(changed, stats.frames)
    assert stats.frames.view(videos, per).sum(1).tolist() == [2] * videos
    xg = frames.clone().requires_grad_(True)
    loss = F.cross_entropy(model(xg), labels, reduction="sum")
    (grad,) = torch.autograd.grad(loss, xg)
    top = grad.flatten(1).norm(dim=1).view(videos, per).topk(2, dim=1).indices
    assert set(stats.frames.view(videos, per).nonzero()[:, 1].view(videos, 2).flatten()
               .tolist()) <= set(range(per))
    assert (stats.frames.view(videos, per).gather(1, top)).all()


def test_sparse_frames_given_positions_and_one_frame(trained):
    model, x, y = trained
    frames = x[:10]
    adv = sparse_frames(model, frames, y[:10], EPS, frames=(0, 3), frames_per_video=5,
                        base="fgsm")
    changed = ((adv - frames).flatten(1).abs().amax(1) > 0).view(2, 5)
    assert changed.tolist() == [[True, False, False, True, False]] * 2
    one = sparse_frames(model, frames[:5], y[:5], EPS, k=1, base="square",
                        base_params={"n_queries": 5})
    assert int(((one - frames[:5]).flatten(1).abs().amax(1) > 0).sum()) == 1


@pytest.mark.parametrize("kwargs, match", [
    ({"frames_per_video": 3}, r"not a whole number of videos of frames_per_video=3"),
    ({"frames_per_video": 5, "k": 6}, r"k must be at most the 5 keyframes"),
    ({"frames_per_video": 5, "frames": (5,)}, r"frames must be keyframe positions in \[0, 4\]"),
    ({"base": "sparse"}, r"base must be a frame attack"),
    ({"base": "nope"}, r"unknown attack 'nope'; valid attacks: fgsm"),
    ({"base_params": {"decay": 1.0}}, r"attack 'pgd' has no parameter 'decay'"),
])
def test_sparse_frames_errors(trained, kwargs, match):
    model, x, y = trained
    with pytest.raises(InputError, match=match):
        sparse_frames(model, x[:10], y[:10], EPS, **kwargs)


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("attack, kwargs, match", [
    (apgd, {"loss": "hinge"}, r"loss must be one of ce, dlr, got 'hinge'"),
    (apgd, {"rho": 0}, r"rho must be a number in \(0, 1\]"),
    (apgd_t, {"n_target_classes": 0}, r"n_target_classes must be a whole number >= 1"),
    (square, {"p_init": 2}, r"p_init must be a number in \(0, 1\]"),
    (square, {"n_queries": 0}, r"n_queries must be a whole number >= 1"),
    (deepfool, {"overshoot": -1}, r"overshoot must be a number >= 0"),
    (cw_l2, {"c": 0}, r"c must be a number > 0"),
    (cw_l2, {"kappa": -1}, r"kappa must be a number >= 0"),
])
def test_bad_parameters(trained, attack, kwargs, match):
    model, x, y = trained
    with pytest.raises(InputError, match=match):
        attack(model, x[:2], y[:2], EPS, **kwargs)


@pytest.mark.parametrize("eps, match", [(-1.0, r"L2 budget >= 0"), (math.nan, r"L2 budget"),
                                        ("1", r"real L2 budget")])
def test_bad_l2_budget(trained, eps, match):
    model, x, y = trained
    with pytest.raises(InputError, match=match):
        deepfool(model, x[:2], y[:2], eps)


def test_specs_of_the_new_attacks():
    assert get_spec("deepfool").norm == get_spec("CW-L2").norm == "l2"
    assert get_spec("square").threat == "black-box (scores)"
    assert get_spec("APGD-T").param("n_target_classes").default == 9
    sparse = get_spec("sparse")
    assert sparse.param("frames").parse("0, 3") == (0, 3)
    assert sparse.param("base_params").parse('{"steps": 3}') == {"steps": 3}
    assert sparse.param("frames_per_video").parse("none") is None
    with pytest.raises(InputError, match=r"parameter 'base_params' must be a JSON object"):
        sparse.param("base_params").parse("steps=3", "sparse")


# --------------------------------------------------------------- torchattacks as oracle
def _torchattacks():
    return pytest.importorskip(
        "torchattacks", reason="torchattacks 3.5.1 is the test oracle; install it with "
                               "pip install --no-deps torchattacks==3.5.1 (scripts/setup.sh)")


def test_apgd_matches_torchattacks(trained):
    ta = _torchattacks()
    model, x, y = trained
    ours = accuracy(model, apgd(model, x, y, EPS, steps=20), y)
    theirs = accuracy(model, ta.APGD(model, eps=EPS, steps=20, seed=0)(x, y), y)
    assert abs(ours - theirs) <= 0.04, (ours, theirs)
    ours_t = accuracy(model, apgd_t(model, x, y, EPS, steps=20, n_target_classes=3), y)
    theirs_t = accuracy(model, ta.APGDT(model, eps=EPS, steps=20, n_classes=4, seed=0)(x, y),
                        y)
    assert abs(ours_t - theirs_t) <= 0.04, (ours_t, theirs_t)


class Cropped(nn.Module):
    """Scores the top-left ``SIDE x SIDE`` of a larger image: the border is dead pixels."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x[..., :SIDE, :SIDE])


def test_square_matches_torchattacks(trained):
    """Same robust accuracy within a few points, once torchattacks' off-by-one is neutralised.

    The reference code draws a square's corner in ``[0, H - s)`` (``np.random.randint(0,
    h - s)``), so the last row and column are never searched after the stripes; HARLab draws
    in ``[0, H - s]``. On 6 x 6 images that freezes 11 of 36 pixels and makes the reference
    much weaker, so the reference attacks the images padded with a dead row and column the
    model ignores: its corners then range over exactly the live pixels, as HARLab's do.
    """
    ta = _torchattacks()
    net, x, y = trained
    ours = accuracy(net, square(net, x, y, EPS, n_queries=300), y)
    padded = F.pad(x, (0, 1, 0, 1), value=0.5)
    theirs = accuracy(net, ta.Square(Cropped(net), eps=EPS, n_queries=300, seed=0)(padded, y)
                      [..., :SIDE, :SIDE], y)
    assert abs(ours - theirs) <= 0.05, (ours, theirs)
    # On the plain images HARLab's search (the whole image) is at least as strong.
    assert ours <= accuracy(net, ta.Square(net, eps=EPS, n_queries=300, seed=0)(x, y), y)
