"""The attack registry: one :class:`AttackSpec` per attack, registered once.

A spec holds everything the rest of HARLab needs to know about an attack: its function, a
title for selectors, its norm (``linf`` or ``l2``), its threat model, a one-line reference and
its parameters. Parameters are read from the function's keyword-only signature (name, default,
type hint, the one-line help from the docstring's ``Args:``), so a parameter is declared once,
in the function. Adding an attack is one module with a pure function and one
:func:`register` line in :mod:`harlab.attacks`.
"""

from __future__ import annotations

import inspect
import json
import math
import numbers
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from harlab.errors import InputError

NORMS = ("linf", "l2")
THREATS = ("white-box", "black-box (scores)")

#: Keyword arguments every attack may take that are not part of its configuration: the
#: direction, an output record and a random generator object (not storable in a config).
RUNTIME_KEYWORDS = frozenset({"targeted", "stats", "generator"})

_TRUE, _FALSE = frozenset({"true", "1", "yes", "on"}), frozenset({"false", "0", "no", "off"})
_NONE = frozenset({"none", "null", "default", ""})


@dataclass(frozen=True)
class ParamSpec:
    """One keyword parameter of an attack, read from its signature.

    Attributes:
        name: the keyword.
        default: its default value.
        type: the base type (``int``, ``float``, ``bool``, ``str`` or ``tuple``).
        optional: ``None`` is a valid value.
        item_type: the element type of a ``tuple[...]`` parameter.
        help: the one-line description from the function's docstring.
    """

    name: str
    default: Any
    type: type
    optional: bool = False
    item_type: type | None = None
    help: str = ""

    def check(self, value: Any, attack: str = "") -> Any:
        """``value`` checked against the type (lists become tuples); raises InputError."""
        if value is None and (self.optional or self.default is None):
            return None
        where = f"attack {attack!r} parameter {self.name!r}" if attack else self.name
        if self.type is tuple and isinstance(value, (list, tuple)):
            item = self.item_type or object
            if all(_is_instance(v, item) for v in value):
                return tuple(float(v) if item is float else v for v in value)
        elif _is_instance(value, self.type):
            return float(value) if self.type is float else value
        raise InputError(f"{where} must be {self.describe_type()}, got {value!r}")

    def parse(self, text: str, attack: str = "") -> Any:
        """The value a command line or form writes as ``text`` (``"2/255"``, ``"true"``...)."""
        raw = str(text).strip()
        if raw.lower() in _NONE and (self.optional or self.default is None):
            return None
        try:
            if self.type is dict:
                return self.check(json.loads(raw), attack)
            if self.type is tuple:
                parts = [p for p in re.split(r"[,\s]+", raw.strip("()[]")) if p]
                return self.check(tuple(_parse_scalar(p, self.item_type or str)
                                        for p in parts), attack)
            return self.check(_parse_scalar(raw, self.type), attack)
        except (ValueError, ZeroDivisionError) as exc:  # JSONDecodeError is a ValueError
            where = f"attack {attack!r} parameter {self.name!r}" if attack else self.name
            raise InputError(f"{where} must be {self.describe_type()}, got {text!r}") from exc

    def describe_type(self) -> str:
        name = {int: "a whole number", float: "a number", bool: "true or false",
                str: "a string", dict: 'a JSON object such as {"steps": 3}'}.get(self.type, "")
        if self.type is tuple:
            item = getattr(self.item_type, "__name__", "value")
            name = f"a list of {item} values such as 0,2"
        return name + (" or none" if self.optional or self.default is None else "")


@dataclass(frozen=True)
class AttackSpec:
    """Everything known about one attack.

    Attributes:
        name: the registry key (lower case, no dashes).
        fn: ``fn(model, images, labels, eps, *, targeted=False, **params) -> images``.
        title: the label selectors show.
        norm: ``linf`` or ``l2``: what ``eps`` bounds.
        reference: the paper, in one line.
        threat: ``white-box`` (gradients) or ``black-box (scores)`` (forward passes only).
        aliases: other names that resolve to this attack (``i-fgsm``).
        params: keyword parameters besides :data:`RUNTIME_KEYWORDS`, read from ``fn``.
    """

    name: str
    fn: Callable[..., Any]
    title: str
    norm: str
    reference: str
    threat: str = "white-box"
    aliases: tuple[str, ...] = ()
    params: tuple[ParamSpec, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise InputError(f"attack {self.name!r}: norm must be one of {', '.join(NORMS)}, "
                             f"got {self.norm!r}")
        if self.threat not in THREATS:
            raise InputError(f"attack {self.name!r}: threat must be one of "
                             f"{', '.join(THREATS)}, got {self.threat!r}")
        if not self.params:
            object.__setattr__(self, "params", params_of(self.fn))

    @property
    def defaults(self) -> dict[str, Any]:
        """``{parameter: default}``."""
        return {p.name: p.default for p in self.params}

    @property
    def takes_stats(self) -> bool:
        return "stats" in inspect.signature(self.fn).parameters

    def param(self, name: str) -> ParamSpec:
        for p in self.params:
            if p.name == name:
                return p
        valid = ", ".join(p.name for p in self.params) or "none"
        raise InputError(f"attack {self.name!r} has no parameter {name!r}; valid parameters: "
                         f"{valid} (and targeted)")

    def check_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` checked by name and type, ``targeted`` removed."""
        return {k: self.param(k).check(v, self.name) for k, v in params.items()
                if k != "targeted"}


_REGISTRY: dict[str, AttackSpec] = {}
_LOOKUP: dict[str, str] = {}  # name or alias with case, "-" and "_" folded -> registry key


def register(name: str, fn: Callable[..., Any], *, title: str, norm: str, reference: str,
             threat: str = "white-box", aliases: tuple[str, ...] = ()) -> AttackSpec:
    """Register ``fn`` as attack ``name``; returns its spec.

    Raises:
        InputError: the name or an alias is taken, or the norm or threat is unknown.
    """
    key = str(name).strip().lower()
    spec = AttackSpec(key, fn, title, norm, reference, threat,
                      tuple(str(a).strip().lower() for a in aliases))
    for k in (key, *spec.aliases):
        if _fold(k) in _LOOKUP:
            raise InputError(f"attack name {k!r} is already registered")
    _REGISTRY[key] = spec
    _LOOKUP.update({_fold(k): key for k in (key, *spec.aliases)})
    return spec


def get_spec(name: str) -> AttackSpec:
    """The spec registered as ``name`` or one of its aliases (case, ``-`` and ``_`` ignored).

    Raises:
        InputError: unknown name; the message lists the valid ones.
    """
    key = _LOOKUP.get(_fold(name))
    if key is None:
        raise InputError(f"unknown attack {name!r}; valid attacks: {', '.join(_REGISTRY)}")
    return _REGISTRY[key]


def specs() -> dict[str, AttackSpec]:
    """Every registered spec, in registration order (a copy)."""
    return dict(_REGISTRY)


class RegistryView(Mapping):
    """A read-only live mapping ``name -> f(spec)`` over the registry."""

    def __init__(self, get: Callable[[AttackSpec], Any]):
        self._get = get

    def __getitem__(self, name: str) -> Any:
        if name not in _REGISTRY:
            raise KeyError(name)
        return self._get(_REGISTRY[name])

    def __iter__(self):
        return iter(list(_REGISTRY))

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __repr__(self) -> str:
        return repr(dict(self))


def params_of(fn: Callable[..., Any]) -> tuple[ParamSpec, ...]:
    """The keyword-only parameters of ``fn`` (minus :data:`RUNTIME_KEYWORDS`) as specs."""
    hints = typing.get_type_hints(fn)
    helps = _arg_help(fn.__doc__ or "")
    out = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind is not inspect.Parameter.KEYWORD_ONLY or p.name in RUNTIME_KEYWORDS:
            continue
        base, optional, item = _base_type(hints.get(p.name, type(p.default)))
        out.append(ParamSpec(p.name, p.default, base, optional, item, helps.get(p.name, "")))
    return tuple(out)


def _fold(name: object) -> str:
    return str(name).strip().lower().replace("-", "").replace("_", "")


def _base_type(hint: Any) -> tuple[type, bool, type | None]:
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        rest = [a for a in args if a is not type(None)]
        optional = len(rest) < len(args)
        hint = rest[0] if len(rest) == 1 else str
    origin = typing.get_origin(hint)
    if origin in (tuple, list) or hint in (tuple, list):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return tuple, optional, (args[0] if args else None)
    return (hint if isinstance(hint, type) else str), optional, None


def _is_instance(value: Any, kind: type) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if kind is float:
        return (isinstance(value, numbers.Real) and not isinstance(value, bool)
                and not math.isnan(float(value)))
    return isinstance(value, kind)


def _parse_scalar(text: str, kind: type) -> Any:
    if kind is bool:
        low = text.lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        raise ValueError(text)
    if kind is int:
        return int(text)
    if kind is float:
        low = text.lower()
        return math.inf if low in ("inf", "infinity") else float(Fraction(text.replace(" ", "")))
    return text


def _arg_help(doc: str) -> dict[str, str]:
    """``name -> first line`` of the Google-style ``Args:`` section."""
    out: dict[str, str] = {}
    in_args = False
    for line in inspect.cleandoc(doc).splitlines():
        if line.strip() in ("Args:", "Arguments:"):
            in_args = True
            continue
        if in_args:
            if line and not line.startswith(" "):
                break
            m = re.match(r"^ {4}(\w+)(?: \([^)]*\))?: (.*)$", line)
            if m:
                out[m.group(1)] = m.group(2).strip()
    return out
