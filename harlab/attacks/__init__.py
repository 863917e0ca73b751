"""White-box L-inf attacks on ``[0, 1]`` images, behind one call shape and an explicit registry.

Every attack is ``attack(model, images, labels, eps, *, targeted=False, **params)`` and returns
new images (``(N, C, H, W)`` in ``[0, 1]``, ``|x_adv - x| <= eps``); inputs are never modified
and the model's train/eval mode is restored. Look one up by name with :func:`get_attack`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harlab.attacks._checks import check_eps, parse_eps
from harlab.attacks.fgsm import fgsm
from harlab.attacks.iterative import bim, mifgsm, pgd
from harlab.errors import InputError

Attack = Callable[..., Any]

#: name -> attack function (explicit; no lookup by attribute name).
ATTACKS: dict[str, Attack] = {
    "fgsm": fgsm,
    "bim": bim,
    "pgd": pgd,
    "mifgsm": mifgsm,
}

#: name -> the keyword parameters the attack takes besides ``targeted``, with their defaults.
ATTACK_PARAMS: dict[str, dict[str, Any]] = {
    "fgsm": {},
    "bim": {"steps": 10, "alpha": None},
    "pgd": {"steps": 10, "alpha": None, "random_start": True},
    "mifgsm": {"steps": 10, "alpha": None, "decay": 1.0},
}

#: human labels for selectors.
ATTACK_TITLES: dict[str, str] = {
    "fgsm": "FGSM",
    "bim": "BIM / I-FGSM",
    "pgd": "PGD (random start)",
    "mifgsm": "MI-FGSM",
}


def get_attack(name: str) -> Attack:
    """The attack registered as ``name`` (case-insensitive).

    Raises:
        InputError: unknown name; the message lists the valid ones.
    """
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    if key == "ifgsm":
        key = "bim"
    if key not in ATTACKS:
        raise InputError(f"unknown attack {name!r}; valid attacks: {', '.join(ATTACKS)}")
    return ATTACKS[key]


def check_attack_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Validate ``params`` for attack ``name`` and return them with ``targeted`` removed."""
    get_attack(name)
    key = canonical_name(name)
    allowed = ATTACK_PARAMS[key]
    unknown = sorted(set(params) - set(allowed) - {"targeted"})
    if unknown:
        valid = ", ".join(allowed) or "none"
        raise InputError(f"attack {key!r} has no parameter {unknown[0]!r}; valid parameters: "
                         f"{valid} (and targeted)")
    return {k: v for k, v in params.items() if k != "targeted"}


def canonical_name(name: str) -> str:
    """The registry key for ``name`` (e.g. ``I-FGSM`` -> ``bim``)."""
    attack = get_attack(name)
    return next(k for k, v in ATTACKS.items() if v is attack)


__all__ = ["ATTACKS", "ATTACK_PARAMS", "ATTACK_TITLES", "bim", "canonical_name",
           "check_attack_params", "check_eps", "fgsm", "get_attack", "mifgsm", "parse_eps",
           "pgd"]
