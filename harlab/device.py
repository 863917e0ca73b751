"""Choosing the compute device: CUDA when present, CPU otherwise."""

from __future__ import annotations

import torch

from harlab.errors import InputError
from harlab.validation import DEVICE_CHOICES, check_device


def resolve_device(name: str = "auto") -> torch.device:
    """Map ``auto``/``cpu``/``cuda``/``cuda:N`` to a ``torch.device``, checking availability."""

    name = check_device(name or "auto")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise InputError(f"device {name!r} was requested but CUDA is not available on this "
                             "machine; use --device cpu (or auto).")
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"device {name!r} does not exist: this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s); use cuda:0..")
        return dev
    raise InputError(f"unknown device {name!r}; valid devices: {', '.join(DEVICE_CHOICES)}, "
                     "cuda:N")


def describe_device(name: str = "auto") -> str:
    """A short human label, e.g. ``CUDA: NVIDIA H100`` or ``CPU (2 threads)``."""

    dev = resolve_device(name)
    if dev.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(dev)}"
    return f"CPU ({torch.get_num_threads()} threads)"
