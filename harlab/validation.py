"""Checks of plain values shared by every config: numbers in a range, counts, devices.

Each check raises :class:`~harlab.errors.InputError` naming the value, what was expected and,
where it helps, a hint; tensor checks for attacks live in :mod:`harlab.attacks._checks`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from harlab.errors import InputError
from harlab.vocab import DEVICE_CHOICES

__all__ = ["DEVICE_CHOICES", "check_device", "check_positive_int", "check_range"]


def check_range(name: str, value: Any, low: float, high: float, *, integer: bool = False,
                hint: str = "") -> None:
    """``value`` is a finite number (an integer when ``integer``) in ``[low, high]``."""
    ok_type = isinstance(value, numbers.Integral) if integer else isinstance(value, (int, float))
    if (isinstance(value, bool) or not ok_type or not math.isfinite(value)
            or not low <= value <= high):
        kind = "an integer" if integer else "a number"
        raise InputError(f"{name} must be {kind} in [{low:g}, {high:g}], got {value!r}"
                         + (f" ({hint})" if hint else ""))


def check_positive_int(value: object, name: str) -> int:
    """``value`` is a whole number >= 1; returns it as ``int``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InputError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)


def check_device(name: object) -> str:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (availability is checked when it is used)."""
    dev = str(name or "").strip().lower()
    if dev in DEVICE_CHOICES or (dev.startswith("cuda:") and dev[5:].isdigit()):
        return dev
    raise InputError(f"unknown device {name!r}; valid devices: {', '.join(DEVICE_CHOICES)}, "
                     "cuda:N")
