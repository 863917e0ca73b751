"""Field metadata for configs, and the one string reader/writer built on it.

A config field made with :func:`setting` carries what a form and a settings store need: a
label, choices, a range, help text and, for values kept in a settings store, its key. The GUI
builds every form from this metadata (``ui.widgets.config_form``); :func:`to_strings` and
:func:`from_strings` translate any config to and from a flat ``key -> str`` mapping, driven by
the type hints (QSettings, a YAML file, a test's dict all look alike to them).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from typing import Any

from harlab.errors import InputError
from harlab.validation import check_range

#: Words a stored value may use for "unset" in a field that may be None (besides its own
#: ``none_text``). A bare ``""`` means "keep the default".
NONE_WORDS = frozenset({"none", "null", "default"})
_TRUE, _FALSE = frozenset({"true", "1", "yes"}), frozenset({"false", "0", "no"})


def setting(default: Any = dataclasses.MISSING, *, label: str, choices: Any = None,
            low: float | None = None, high: float | None = None, help: str = "",  # noqa: A002
            key: str | None = None, hint: str = "", decimals: int | None = None,
            kind: str = "", none_text: str = "none", blank_is_none: bool = False,
            default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field with the metadata that forms and settings stores read.

    Args:
        label: the form's row label.
        choices: the valid values (a sequence), or ``{value: title}`` to show titles.
        low, high: the valid range of a number (also the form's editor range).
        help: tooltip text.
        key: the settings-store key (default: the field name, after any prefix).
        hint: appended to a range error, e.g. ``"the paper uses 224"``.
        decimals: digits a float editor shows.
        kind: ``"dir"`` or ``"file"`` for a path with a Browse button; ``"editable"`` for
            choices that also take free text (``cuda:1``).
        none_text: how None is written (``"auto"`` for a tri-state bool).
        blank_is_none: ``""`` means None rather than the default (a seed left empty).
    """
    metadata = {"label": label, "choices": choices, "low": low, "high": high, "help": help,
                "key": key, "hint": hint, "decimals": decimals, "kind": kind,
                "none_text": none_text, "blank_is_none": blank_is_none}
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata=metadata)


def meta(f: dataclasses.Field, name: str, default: Any = None) -> Any:
    """One metadata entry of a field (fields made without :func:`setting` have none)."""
    value = f.metadata.get(name)
    return default if value is None else value


def base_type(hint: Any) -> tuple[Any, bool]:
    """``(type, optional)``: ``int | None`` -> ``(int, True)``; ``tuple[str, ...]`` -> tuple."""
    args = typing.get_args(hint)
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        optional = len(rest) < len(args)
        hint = rest[0] if len(rest) == 1 else str
    return typing.get_origin(hint) or hint, optional


def hints(cls: type) -> dict[str, tuple[Any, bool]]:
    """Every field's :func:`base_type`."""
    return {name: base_type(hint) for name, hint in typing.get_type_hints(cls).items()}


def settings_key(f: dataclasses.Field, prefix: str = "") -> str:
    return meta(f, "key") or prefix + f.name


def settings_keys(cls: type, prefix: str = "") -> list[str]:
    """The settings key of every field of ``cls``."""
    return [settings_key(f, prefix) for f in dataclasses.fields(cls)]


# ---------------------------------------------------------------------------- writing
def to_text(f: dataclasses.Field, kind: Any, value: Any) -> str:
    """One value as the string :func:`from_strings` reads back."""
    if value is None:
        return "" if kind is str else meta(f, "none_text", "none")
    if kind is bool:
        return str(bool(value)).lower()
    if kind in (tuple, list):
        return ",".join(str(v) for v in value)
    if kind is dict:
        return json.dumps(value, sort_keys=True)
    return str(value)


def to_strings(config: Any, prefix: str = "") -> dict[str, str]:
    """Every field of ``config`` as ``settings key -> string``."""
    types_ = hints(type(config))
    return {settings_key(f, prefix): to_text(f, types_[f.name][0], getattr(config, f.name))
            for f in dataclasses.fields(config)}


# ---------------------------------------------------------------------------- reading
def from_text(f: dataclasses.Field, kind: Any, optional: bool, value: Any) -> Any:
    """Parse one stored value (a string, or a YAML scalar/list) into the field's type."""
    text = value.strip() if isinstance(value, str) else value
    none_text = meta(f, "none_text", "none")
    if (optional and kind is not str and isinstance(text, str)
            and text.lower() in NONE_WORDS | {none_text}):
        return None
    if kind is bool:
        if isinstance(text, bool):
            return text
        if str(text).lower() in _TRUE | _FALSE:
            return str(text).lower() in _TRUE
        word = f", false or {none_text}" if optional else " or false"
        raise InputError(f"{f.name} must be true{word}, got {value!r}")
    if kind is int:
        return _whole(f.name, text, value)
    if kind is float:
        try:
            return float(text)
        except (TypeError, ValueError):
            raise InputError(f"{f.name} must be a number, got {value!r}") from None
    if kind in (tuple, list):
        items = text.split(",") if isinstance(text, str) else list(text)
        return tuple(str(item).strip() for item in items if str(item).strip())
    if kind is dict:
        return _mapping(f.name, text)
    return str(text)


def _whole(name: str, text: Any, value: Any) -> int:
    if isinstance(text, bool):
        raise InputError(f"{name} must be a whole number, got {value!r}")
    try:
        number = float(text)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a whole number, got {value!r}") from None
    if not number.is_integer():
        raise InputError(f"{name} must be a whole number, got {value!r}")
    return int(number)


def _mapping(name: str, text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except ValueError as exc:
        raise InputError(f"{name} must be a JSON object such as {{\"steps\": 10}}, got "
                         f"{text!r}") from exc
    if not isinstance(value, dict):
        raise InputError(f"{name} must be a mapping such as {{\"steps\": 10}}, got {text!r}")
    return value


def from_strings(cls: type, values: Mapping[str, Any], prefix: str = "", *,
                 noun: str = "") -> Any:
    """Build ``cls`` from ``settings key (or field name) -> value``.

    ``""`` or None keeps a field's default (None for a ``blank_is_none`` field); ``"none"``
    sets a field that may be None to None. Unknown keys are rejected, naming the valid ones.
    """
    by_key: dict[str, dataclasses.Field] = {}
    for f in dataclasses.fields(cls):
        by_key[f.name] = by_key[settings_key(f, prefix)] = f
    types_ = hints(cls)
    kwargs: dict[str, Any] = {}
    for raw_key, value in values.items():
        f = by_key.get(raw_key)
        if f is None:
            what = f"{noun} setting" if noun else "setting"
            raise InputError(f"unknown {what} {raw_key!r}; valid settings: "
                             f"{', '.join(f.name for f in dataclasses.fields(cls))}")
        if value is None or (isinstance(value, str) and not value.strip()):
            if meta(f, "blank_is_none", False):
                kwargs[f.name] = None
            continue
        kwargs[f.name] = from_text(f, *types_[f.name], value)
    return cls(**kwargs)


# ---------------------------------------------------------------------------- checking
def check_ranges(config: Any) -> None:
    """Check every set field with a ``low``/``high`` range (integers for ``int`` fields)."""
    types_ = hints(type(config))
    for f in dataclasses.fields(config):
        low, high, value = meta(f, "low"), meta(f, "high"), getattr(config, f.name)
        if low is None or high is None or value is None:
            continue
        check_range(f.name, value, low, high, integer=types_[f.name][0] is int,
                    hint=meta(f, "hint", ""))
