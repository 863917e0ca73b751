"""What shapes an attack run: :class:`AttackConfig`, saved with every run."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from harlab.attacks import ATTACK_TITLES, get_spec, parse_eps
from harlab.attacks._checks import check_l2_eps
from harlab.errors import InputError
from harlab.fields import setting
from harlab.validation import check_positive_int
from harlab.vocab import DEVICE_CHOICES, KEYFRAME_METHODS

SPLITS = ("train", "test")


@dataclass(frozen=True)
class AttackConfig:
    """Everything that shapes an attack run; saved with the run.

    Attributes:
        attack: a name from :data:`harlab.attacks.ATTACKS`.
        eps: the budget on the ``[0, 1]`` scale (``"8/255"`` strings are accepted): an L-inf
            budget in ``[0, 1]`` for L-inf attacks, an L2 radius ``>= 0`` (``inf``: unbounded)
            for the L2 ones (``deepfool``, ``cw_l2``; see ``spec.norm``). The paper
            does not state its eps; 8/255 is the standard ImageNet-scale L-inf budget (Madry et
            al.; RobustBench), invisible at a glance and a multiple of 1/255, so the uint8 PNG
            holds the FGSM image exactly. Use the eps sweep to see how success grows with eps.
        params: the attack's own keyword arguments (``steps``, ``alpha``, ``decay``...).
        keyframes: K keyframes per video (5: enough to cover a UCF-101 clip's action, few
            enough to show side by side and to send to a multimodal model).
        keyframe_method: ``uniform`` or ``content``.
        classes: the true classes to select samples from (the paper: BabyCrawling, Biking).
        per_class: samples to keep per class (the paper: 25 each, 50 in all).
        split: which split of the fold to draw videos from (``test``: never seen in training).
        fold: UCF-101 fold (1-3).
        seed: order in which candidate videos are tried.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        batch_size: keyframes per forward/backward pass (videos are never split).
        surrogate: the transfer threat model: craft the attack on this classifier checkpoint
            (another seed or architecture trained on the same data) and classify the result
            with the target; None: white-box on the target.
    """

    attack: str = setting("fgsm", label="Attack", choices=ATTACK_TITLES)
    eps: float = setting(8 / 255, label="eps", low=0.0, high=1.0,
                         help="L-inf budget on the [0, 1] scale (an L2 radius for the L2 "
                              "attacks)")
    params: dict[str, Any] = setting(label="Attack parameters", default_factory=dict)
    keyframes: int = setting(5, label="Keyframes", low=1, high=32)
    keyframe_method: str = setting("uniform", label="Keyframe method", choices=KEYFRAME_METHODS)
    classes: tuple[str, ...] = setting(("BabyCrawling", "Biking"), label="Classes",
                                       help="comma-separated class names")
    per_class: int = setting(25, label="Per class", low=1, high=10000)
    split: str = setting("test", label="Split", choices=SPLITS)
    fold: int = setting(1, label="Fold", low=1, high=3)
    seed: int = setting(0, label="Seed")
    device: str = setting("auto", label="Device", choices=DEVICE_CHOICES, kind="editable")
    batch_size: int = setting(64, label="Batch size", low=1, high=4096)
    surrogate: str | None = setting(None, label="Surrogate checkpoint", kind="file",
                                    blank_is_none=True,
                                    help="transfer: craft on this classifier, evaluate on the "
                                         "target (empty: white-box on the target)")

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        spec = get_spec(self.attack)
        set_(self, "attack", spec.name)
        set_(self, "eps", parse_budget(self.eps, spec.norm))
        if not isinstance(self.params, dict):
            raise InputError(f"params must be a dict of the attack's keyword arguments, got "
                             f"{type(self.params).__name__}")
        set_(self, "params", spec.check_params(dict(self.params)))
        check_positive_int(self.keyframes, "keyframes")
        check_positive_int(self.per_class, "per_class")
        check_positive_int(self.batch_size, "batch_size")
        if self.keyframe_method not in KEYFRAME_METHODS:
            raise InputError(f"unknown keyframe method {self.keyframe_method!r}; valid "
                             f"methods: {', '.join(KEYFRAME_METHODS)}")
        if self.split not in SPLITS:
            raise InputError(f"split must be 'train' or 'test', got {self.split!r}")
        if self.fold not in (1, 2, 3):
            raise InputError(f"fold must be 1, 2 or 3 (UCF-101's three splits), got "
                             f"{self.fold!r}")
        classes = (self.classes,) if isinstance(self.classes, str) else tuple(self.classes)
        if not classes or not all(isinstance(c, str) and c.strip() for c in classes):
            raise InputError(f"classes must be one or more class names, got {self.classes!r}")
        set_(self, "classes", tuple(c.strip() for c in classes))
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise InputError(f"seed must be an integer, got {self.seed!r}")
        if self.surrogate is not None:
            if not isinstance(self.surrogate, str) or not self.surrogate.strip():
                raise InputError(f"surrogate must be a checkpoint path or None, got "
                                 f"{self.surrogate!r}")
            set_(self, "surrogate", self.surrogate.strip())

    @property
    def norm(self) -> str:
        """``linf`` or ``l2``: what ``eps`` bounds (the attack's spec says)."""
        return get_spec(self.attack).norm

    @property
    def eps_255(self) -> float:
        return self.eps * 255.0

    def describe(self) -> str:
        extra = "".join(f", {k}={v}" for k, v in sorted(self.params.items()))
        transfer = f", crafted on {self.surrogate}" if self.surrogate else ""
        return f"{self.attack} {describe_eps(self.eps, self.norm)}{extra}{transfer}"


def parse_budget(value: object, norm: str) -> float:
    """``eps`` for an attack of ``norm``: an L-inf budget in [0, 1], or an L2 radius >= 0.

    Strings such as ``"8/255"``, ``"0.5"`` or (L2 only) ``"inf"`` are accepted.

    Raises:
        InputError: not a number, or out of range for the norm (the message says which).
    """
    if norm != "l2":
        return parse_eps(value)
    name = "eps (an L2 radius on the [0, 1] pixel scale)"
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        try:
            value = math.inf if text in ("inf", "infinity") else float(Fraction(text))
        except (ValueError, ZeroDivisionError) as exc:
            raise InputError(f"{name} must be a number such as 0.5, 2 or inf, got "
                             f"{value!r}") from exc
    return check_l2_eps(value, name=name)


def describe_eps(eps: float, norm: str) -> str:
    """``eps=8/255`` for an L-inf budget, ``L2 radius=0.5`` for an L2 one."""
    if norm == "l2":
        return f"L2 radius={eps:.4g}"
    return f"eps={eps * 255:.4g}/255"
