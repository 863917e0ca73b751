"""Choosing the compute device: CUDA when present, CPU otherwise."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harlab.errors import InputError

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str = "auto") -> torch.device:
    """Map ``auto``/``cpu``/``cuda``/``cuda:N`` to a ``torch.device``, checking availability."""
    import torch

    name = (name or "auto").strip().lower()
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
    raise InputError(f"unknown device {name!r}; valid devices: auto, cpu, cuda, cuda:N")


def describe_device(name: str = "auto") -> str:
    """A short human label, e.g. ``CUDA: NVIDIA H100`` or ``CPU (2 threads)``."""
    import torch

    dev = resolve_device(name)
    if dev.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(dev)}"
    return f"CPU ({torch.get_num_threads()} threads)"
