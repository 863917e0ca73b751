"""Attack tests in the manner of attack libraries: exact values on models whose gradient we know."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from harlab.attacks import (
    ATTACK_PARAMS,
    ATTACKS,
    bim,
    check_attack_params,
    fgsm,
    get_attack,
    get_spec,
    mifgsm,
    parse_eps,
    pgd,
)
from harlab.errors import InputError

EPS = 8 / 255


def tiny_cnn(num_classes: int = 3) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, num_classes))


class TwoClassLinear(nn.Module):
    """logits = [0, w . x]: the cross-entropy gradient sign is known in closed form.

    For label 0, d CE / dx = p1 * w (sign = sign(w)); for label 1, -(1 - p1) * w.
    """

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = (x.flatten(1) * self.w.flatten()).sum(1)
        return torch.stack([torch.zeros_like(s), s], dim=1)


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    images = torch.rand(6, 3, 8, 8, generator=g)
    images[0] = 0.0  # corners of the pixel range exercise the clipping
    images[1] = 1.0
    return images, torch.tensor([0, 1, 2, 0, 1, 2])


#: Small settings for the heavier attacks so that the shared contract tests stay fast.
FAST = {"apgd": {"steps": 4}, "apgd_t": {"steps": 4, "n_target_classes": 2},
        "square": {"n_queries": 20}, "deepfool": {"steps": 4}, "cw_l2": {"steps": 4,
                                                                         "search_steps": 2},
        "autoattack": {"steps": 3, "n_target_classes": 1, "n_queries": 10},
        "sparse": {"base_params": {"steps": 2}}}


def run(name, model, images, labels, eps, **kwargs):
    return get_attack(name)(model, images, labels, eps, **FAST.get(name, {}), **kwargs)


def sign_pattern() -> torch.Tensor:
    g = torch.Generator().manual_seed(2)
    return torch.randn(3, 4, 4, generator=g)


# ----------------------------------------------------------------------------- properties
@pytest.mark.parametrize("name", list(ATTACKS))
def test_eps_zero_is_identity(name, batch):
    images, labels = batch
    adv = run(name, tiny_cnn(), images, labels, 0.0)
    assert torch.equal(adv, images)


@pytest.mark.parametrize("name", list(ATTACKS))
@pytest.mark.parametrize("eps", [1 / 255, EPS, 0.3])
def test_linf_within_eps_and_clipped(name, eps, batch):
    images, labels = batch
    adv = run(name, tiny_cnn(), images, labels, eps)
    assert adv.shape == images.shape and adv.dtype == images.dtype
    assert adv.min().item() >= 0.0 and adv.max().item() <= 1.0
    if get_spec(name).norm == "l2":  # minimal-norm attacks: within the L2 ball
        assert (adv - images).flatten(1).norm(dim=1).max().item() <= eps + 1e-5
        return
    assert (adv - images).abs().max().item() <= eps + 1e-6
    # The budget is actually used (a no-op attack would pass the bound above).
    assert (adv - images).abs().max().item() >= min(eps, 1 / 255) - 1e-6


@pytest.mark.parametrize("name", list(ATTACKS))
def test_inputs_untouched_mode_restored_no_param_grads(name, batch):
    images, labels = batch
    model = tiny_cnn()
    model.train()
    model[1].eval()  # a mixed mode must come back exactly
    before_img, before_lbl = images.clone(), labels.clone()
    before_stats = model[1].running_mean.clone()
    run(name, model, images, labels, EPS)
    assert torch.equal(images, before_img) and torch.equal(labels, before_lbl)
    assert [m.training for m in model.modules()] == [True, True, False, True, True, True, True]
    assert all(p.grad is None for p in model.parameters())
    # Attacks run in eval mode: BatchNorm statistics are not updated by the attack.
    assert torch.equal(model[1].running_mean, before_stats)


def test_fgsm_exact_image_for_known_gradient_sign():
    w = sign_pattern()
    model = TwoClassLinear(w)
    images = torch.full((2, 3, 4, 4), 0.5)
    images[1, 0] = 0.99  # partly clipped
    labels = torch.tensor([0, 1])
    adv = fgsm(model, images, labels, EPS)
    expected = torch.stack([images[0] + EPS * w.sign(), images[1] - EPS * w.sign()]).clamp(0, 1)
    assert torch.equal(adv, expected)


def test_targeted_fgsm_exact_and_moves_toward_target():
    w = sign_pattern()
    model = TwoClassLinear(w)
    images = torch.full((1, 3, 4, 4), 0.5)
    target = torch.tensor([1])
    adv = fgsm(model, images, target, EPS, targeted=True)
    assert torch.equal(adv, (images + EPS * w.sign()).clamp(0, 1))
    p_before = model(images).softmax(1)[0, 1]
    p_after = model(adv).softmax(1)[0, 1]
    assert p_after > p_before


@pytest.mark.parametrize("name", ["bim", "pgd", "mifgsm"])
def test_targeted_iterative_moves_toward_target(name, batch):
    images, _ = batch
    model = tiny_cnn()
    target = torch.full((images.shape[0],), 2)
    with torch.no_grad():
        before = nn.functional.cross_entropy(model(images), target)
    adv = get_attack(name)(model, images, target, 0.1, targeted=True)
    with torch.no_grad():
        after = nn.functional.cross_entropy(model(adv), target)
    assert after < before


class Normalize(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


def test_pixel_space_attack_through_normalising_wrapper_equals_explicit(batch):
    images, labels = batch
    net = tiny_cnn().eval()
    wrapped = nn.Sequential(Normalize(), net)
    adv = fgsm(wrapped, images, labels, EPS)
    # Explicit: gradient in normalised space, chain rule through z = (x - mean) / std.
    norm = Normalize()
    z = norm(images).requires_grad_(True)
    loss = nn.functional.cross_entropy(net(z), labels, reduction="sum")
    (grad_z,) = torch.autograd.grad(loss, z)
    grad_x = grad_z / norm.std
    expected = (images + EPS * grad_x.sign()).clamp(0, 1)
    assert torch.equal(adv, expected)


@pytest.mark.parametrize("attack", [bim, mifgsm,
                                    lambda *a, **k: pgd(*a, random_start=False, **k)])
def test_one_iterative_step_of_size_eps_is_fgsm(attack, batch):
    images, labels = batch
    model = tiny_cnn()
    assert torch.equal(attack(model, images, labels, EPS, steps=1, alpha=EPS),
                       fgsm(model, images, labels, EPS))


def test_pgd_random_start_reproducible_and_different_from_bim(batch):
    images, labels = batch
    model = tiny_cnn()
    a = pgd(model, images, labels, EPS, steps=2, generator=torch.Generator().manual_seed(3))
    b = pgd(model, images, labels, EPS, steps=2, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert not torch.equal(a, bim(model, images, labels, EPS, steps=2))


@pytest.mark.slow
def test_iterative_attack_at_least_as_strong_as_fgsm_on_resnet():
    from torchvision.models import resnet18

    torch.manual_seed(0)
    model = resnet18(num_classes=3).eval()
    images = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    labels = torch.tensor([0, 1, 2, 1])
    with torch.no_grad():
        loss_f = nn.functional.cross_entropy(model(fgsm(model, images, labels, EPS)), labels)
        loss_b = nn.functional.cross_entropy(model(bim(model, images, labels, EPS, steps=3)),
                                             labels)
        clean = nn.functional.cross_entropy(model(images), labels)
    assert loss_f > clean
    assert loss_b > clean


def test_works_inside_no_grad(batch):
    images, labels = batch
    model = tiny_cnn()
    expected = fgsm(model, images, labels, EPS)
    with torch.no_grad():
        assert torch.equal(fgsm(model, images, labels, EPS), expected)


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("eps, match", [
    (8, r"got 8 \(did you mean 8/255\?\)"),
    (-0.1, r"cannot be negative"),
    (math.nan, r"finite"),
    ("8/255", r"real number"),
    (True, r"real number"),
    (300, r"did you mean a value at most 1"),
])
def test_bad_eps(eps, match, batch):
    images, labels = batch
    with pytest.raises(InputError, match=match):
        fgsm(tiny_cnn(), images, labels, eps)


@pytest.mark.parametrize("images, labels, match", [
    (torch.rand(3, 8, 8), torch.tensor([0]), r"shape \(N, C, H, W\), got shape \(3, 8, 8\)"),
    ((torch.rand(1, 3, 8, 8) * 255).to(torch.uint8), torch.tensor([0]), r"floating-point.*/ 255"),
    (torch.rand(1, 3, 8, 8) * 2, torch.tensor([0]), r"lie in \[0, 1\]"),
    (torch.full((1, 3, 8, 8), math.nan), torch.tensor([0]), r"lie in \[0, 1\]"),
    (torch.rand(0, 3, 8, 8), torch.zeros(0, dtype=torch.long), r"empty batch"),
    (torch.rand(2, 3, 8, 8), torch.tensor([0]), r"shape \(N,\) = \(2,\)"),
    (torch.rand(1, 3, 8, 8), torch.tensor([0.0]), r"integer class indices.*float32"),
    (torch.rand(1, 3, 8, 8), [0], r"labels must be a torch.Tensor"),
    (torch.rand(1, 3, 8, 8), torch.tensor([3]), r"\[0, 2\].*got 3"),
    (torch.rand(1, 3, 8, 8), torch.tensor([-1]), r"\[0, 2\].*got -1"),
    ("img", torch.tensor([0]), r"images must be a torch.Tensor"),
])
def test_bad_tensors(images, labels, match):
    for attack in ATTACKS.values():
        with pytest.raises(InputError, match=match):
            attack(tiny_cnn(), images, labels, EPS)


def test_bad_devices():
    model = tiny_cnn()
    with pytest.raises(InputError, match=r"images are on meta but the model is on cpu"):
        fgsm(model, torch.rand(1, 3, 8, 8, device="meta"), torch.zeros(1, dtype=torch.long,
                                                                       device="meta"), EPS)
    with pytest.raises(InputError, match=r"labels are on meta but images are on cpu"):
        fgsm(model, torch.rand(1, 3, 8, 8), torch.zeros(1, dtype=torch.long, device="meta"), EPS)


def test_bad_model_and_outputs():
    with pytest.raises(InputError, match=r"torch.nn.Module"):
        fgsm(lambda x: x, torch.rand(1, 3, 8, 8), torch.tensor([0]), EPS)
    with pytest.raises(InputError, match=r"logits of shape \(N, num_classes\)"):
        fgsm(nn.Flatten(0), torch.rand(1, 3, 8, 8), torch.tensor([0]), EPS)


def test_bad_iterative_params(batch):
    images, labels = batch
    with pytest.raises(InputError, match=r"steps must be a whole number >= 1, got 0"):
        bim(tiny_cnn(), images, labels, EPS, steps=0)
    with pytest.raises(InputError, match=r"alpha must be in \[0, 1\].*did you mean 2/255"):
        pgd(tiny_cnn(), images, labels, EPS, alpha=2)
    with pytest.raises(InputError, match=r"decay must be a number >= 0"):
        mifgsm(tiny_cnn(), images, labels, EPS, decay=-1)


def test_registry_lookup_and_params():
    assert get_attack("FGSM") is fgsm and get_attack("I-FGSM") is bim
    assert set(ATTACK_PARAMS) == set(ATTACKS)
    with pytest.raises(InputError, match=r"unknown attack 'fab'; valid attacks: fgsm, bim, pgd"):
        get_attack("fab")
    assert get_attack("CW-L2") is get_attack("cw_l2")
    assert check_attack_params("pgd", {"steps": 3, "targeted": True}) == {"steps": 3}
    with pytest.raises(InputError, match=r"attack 'fgsm' has no parameter 'steps'; valid "
                                         r"parameters: none"):
        check_attack_params("fgsm", {"steps": 3})


@pytest.mark.parametrize("text, value", [("8/255", 8 / 255), (" 0.03 ", 0.03), ("0", 0.0),
                                         (2 / 255, 2 / 255), (1, 1.0)])
def test_parse_eps(text, value):
    assert parse_eps(text) == pytest.approx(value)


@pytest.mark.parametrize("text, match", [("abc", r"number such as 0.03 or 8/255, got 'abc'"),
                                         ("8/0", r"got '8/0'"),
                                         ("8", r"did you mean 8/255"),
                                         (None, r"real number")])
def test_parse_eps_errors(text, match):
    with pytest.raises(InputError, match=match):
        parse_eps(text)


def test_pixel_space_attack_through_harlab_wrapper_equals_explicit():
    from harlab.train.models import build_model

    torch.manual_seed(0)
    wrapped, _ = build_model("resnet18", 3, weights="none")
    wrapped.eval()
    images = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    labels = torch.tensor([0, 2])
    adv = fgsm(wrapped, images, labels, EPS)
    z = ((images - wrapped.mean) / wrapped.std).requires_grad_(True)
    loss = nn.functional.cross_entropy(wrapped.net(z), labels, reduction="sum")
    (grad_z,) = torch.autograd.grad(loss, z)
    # d z / d x = 1 / std > 0, so the pixel-space sign is the normalised-space sign.
    assert torch.equal(adv, (images + EPS * grad_z.sign()).clamp(0, 1))


# ----------------------------------------------------------------------------- registry
def test_specs_read_parameters_from_the_signature():
    spec = get_spec("PGD")
    assert spec.name == "pgd" and spec.norm == "linf" and "Madry" in spec.reference
    steps, alpha, random_start = spec.params  # generator / targeted are runtime keywords
    assert (steps.name, steps.default, steps.type) == ("steps", 10, int)
    assert (alpha.type, alpha.optional) == (float, True)
    assert random_start.type is bool
    assert get_spec("mifgsm").param("decay").default == 1.0
    assert ATTACK_PARAMS["bim"] == {"steps": 10, "alpha": None}


def test_param_parse_and_type_check():
    spec = get_spec("pgd")
    assert spec.param("alpha").parse("2/255") == pytest.approx(2 / 255)
    assert spec.param("alpha").parse("none") is None
    assert spec.param("random_start").parse("false") is False
    assert spec.param("steps").parse("7") == 7
    with pytest.raises(InputError, match=r"attack 'pgd' parameter 'steps' must be a whole "
                                         r"number, got 'x'"):
        spec.param("steps").parse("x", "pgd")
    with pytest.raises(InputError, match=r"parameter 'steps' must be a whole number, got 2.5"):
        check_attack_params("pgd", {"steps": 2.5})
    with pytest.raises(InputError, match=r"parameter 'random_start' must be true or false"):
        check_attack_params("pgd", {"random_start": 1})


def test_register_refuses_a_taken_name_and_a_bad_norm():
    from harlab.attacks import register

    with pytest.raises(InputError, match=r"'ifgsm' is already registered"):
        register("ifgsm", fgsm, title="x", norm="linf", reference="x")
    with pytest.raises(InputError, match=r"norm must be one of linf, l2, got 'l1'"):
        register("new_attack_l1", fgsm, title="x", norm="l1", reference="x")
