"""Attacks on ``[0, 1]`` images, behind one call shape and one registry of specs.

Every attack is ``attack(model, images, labels, eps, *, targeted=False, **params)`` and returns
new images (``(N, C, H, W)`` in ``[0, 1]``, within ``eps`` of the input in the attack's norm);
inputs are never modified and the model's train/eval mode is restored. Each attack is one
:class:`~harlab.attacks.registry.AttackSpec` (function, title, norm, reference, parameters read
from the signature), registered below; look one up with :func:`get_spec` or :func:`get_attack`.
:data:`ATTACKS`, :data:`ATTACK_PARAMS` and :data:`ATTACK_TITLES` are live views of the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harlab.attacks._checks import check_eps, parse_eps
from harlab.attacks.apgd import apgd, apgd_t
from harlab.attacks.autoattack import autoattack
from harlab.attacks.fgsm import fgsm
from harlab.attacks.iterative import bim, mifgsm, pgd
from harlab.attacks.minimal import cw_l2, deepfool
from harlab.attacks.registry import (
    AttackSpec,
    ParamSpec,
    RegistryView,
    get_spec,
    register,
    specs,
)
from harlab.attacks.sparse import sparse_frames
from harlab.attacks.square import square
from harlab.attacks.stats import AttackStats

Attack = Callable[..., Any]

register("fgsm", fgsm, title="FGSM", norm="linf",
         reference="Goodfellow et al., Explaining and harnessing adversarial examples, ICLR 2015")
register("bim", bim, title="BIM / I-FGSM", norm="linf", aliases=("ifgsm",),
         reference="Kurakin et al., Adversarial examples in the physical world, ICLR-W 2017")
register("pgd", pgd, title="PGD (random start)", norm="linf",
         reference="Madry et al., Towards deep learning models resistant to adversarial "
                   "attacks, ICLR 2018")
register("mifgsm", mifgsm, title="MI-FGSM", norm="linf",
         reference="Dong et al., Boosting adversarial attacks with momentum, CVPR 2018")

register("apgd", apgd, title="APGD-CE", norm="linf", aliases=("apgd-ce",),
         reference="Croce & Hein, Reliable evaluation of adversarial robustness with an "
                   "ensemble of diverse parameter-free attacks, ICML 2020")
register("apgd_t", apgd_t, title="APGD-T (targeted DLR)", norm="linf",
         reference="Croce & Hein, ICML 2020 (APGD with the targeted DLR loss)")
register("square", square, title="Square (black box)", norm="linf",
         threat="black-box (scores)",
         reference="Andriushchenko et al., Square Attack: a query-efficient black-box "
                   "adversarial attack via random search, ECCV 2020")
register("deepfool", deepfool, title="DeepFool (L2, minimal)", norm="l2",
         reference="Moosavi-Dezfooli et al., DeepFool: a simple and accurate method to fool "
                   "deep neural networks, CVPR 2016")
register("cw_l2", cw_l2, title="Carlini-Wagner L2 (minimal)", norm="l2",
         reference="Carlini & Wagner, Towards evaluating the robustness of neural networks, "
                   "IEEE S&P 2017")
register("autoattack", autoattack, title="AutoAttack-style (APGD-CE, APGD-T, Square)",
         norm="linf", reference="Croce & Hein, ICML 2020 (standard version without FAB-T)")
register("sparse", sparse_frames, title="Sparse frames (k keyframes per video)", norm="linf",
         aliases=("sparse_frames",),
         reference="perturb the k keyframes of largest input-gradient norm with a base attack "
                   "(norm: the base attack's)")

#: name -> attack function (a live view of the registry).
ATTACKS: RegistryView = RegistryView(lambda s: s.fn)
#: name -> ``{parameter: default}`` besides ``targeted`` (a live view of the registry).
ATTACK_PARAMS: RegistryView = RegistryView(lambda s: s.defaults)
#: name -> human label for selectors (a live view of the registry).
ATTACK_TITLES: RegistryView = RegistryView(lambda s: s.title)


def get_attack(name: str) -> Attack:
    """The attack function registered as ``name`` (case-insensitive; aliases allowed).

    Raises:
        InputError: unknown name; the message lists the valid ones.
    """
    return get_spec(name).fn


def check_attack_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Validate ``params`` (names and types) for attack ``name``; ``targeted`` is removed.

    Raises:
        InputError: unknown attack, unknown parameter (listing the valid ones) or a value of
            the wrong type.
    """
    return get_spec(name).check_params(params)


def canonical_name(name: str) -> str:
    """The registry key for ``name`` (e.g. ``I-FGSM`` -> ``bim``)."""
    return get_spec(name).name


__all__ = ["ATTACKS", "ATTACK_PARAMS", "ATTACK_TITLES", "AttackSpec", "AttackStats",
           "ParamSpec", "apgd", "apgd_t", "autoattack", "bim", "canonical_name",
           "check_attack_params", "check_eps", "cw_l2", "deepfool", "fgsm", "get_attack",
           "get_spec", "mifgsm", "parse_eps", "pgd", "register", "sparse_frames", "specs",
           "square"]
