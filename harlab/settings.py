"""Typed application settings: paths and the compute device (the LLM has its own LLMConfig).

A settings store (the GUI's QSettings, a file, a test's dict) holds strings under the keys
named in each field's metadata; :meth:`AppSettings.from_mapping` and
:meth:`AppSettings.to_mapping` are the only translation between the two, and
:func:`llm_to_mapping` does the same for :class:`~harlab.llm.config.LLMConfig` (whose
``from_mapping`` reads it back). No secret is ever part of a setting: an API key is named by its
environment variable only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harlab.errors import InputError
from harlab.llm.config import LLMConfig
from harlab.validation import DEVICE_CHOICES, check_device

LLM_PREFIX = "llm/"


@dataclass(frozen=True)
class AppSettings:
    """Where things are and what to compute on.

    Attributes:
        dataset_root: the dataset folder new projects start with ("" = none yet).
        weights_file: an ImageNet weights file for machines that cannot download ("" = none).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    """

    dataset_root: str = field(default="", metadata={
        "key": "data/dataset_root", "label": "Default dataset folder", "kind": "dir"})
    weights_file: str = field(default="", metadata={
        "key": "train/weights_file", "label": "ImageNet weights file (optional)",
        "kind": "file"})
    device: str = field(default="auto", metadata={
        "key": "compute/device", "label": "Device", "choices": DEVICE_CHOICES})

    def __post_init__(self) -> None:
        object.__setattr__(self, "dataset_root", str(self.dataset_root or "").strip())
        object.__setattr__(self, "weights_file", str(self.weights_file or "").strip())
        object.__setattr__(self, "device", check_device(self.device))

    @staticmethod
    def keys() -> dict[str, str]:
        """Field name -> settings key."""
        return {f.name: f.metadata["key"] for f in dataclasses.fields(AppSettings)}

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> AppSettings:
        """Build from a store's ``key -> value``; missing or empty keys keep the default."""
        kwargs = {}
        for name, key in cls.keys().items():
            value = values.get(key)
            if value is not None and str(value).strip():
                kwargs[name] = str(value)
        return cls(**kwargs)

    def to_mapping(self) -> dict[str, str]:
        return {key: str(getattr(self, name)) for name, key in self.keys().items()}


def llm_keys() -> list[str]:
    """The settings key of every :class:`LLMConfig` field."""
    return [LLM_PREFIX + f.name for f in dataclasses.fields(LLMConfig)]


def llm_to_mapping(config: LLMConfig) -> dict[str, str]:
    """Every field of ``config`` as the strings :meth:`LLMConfig.from_mapping` reads back."""
    if not isinstance(config, LLMConfig):
        raise InputError(f"config must be an LLMConfig, got {type(config).__name__}")
    out = {}
    for f in dataclasses.fields(LLMConfig):
        value = getattr(config, f.name)
        if f.name == "supports_images":
            text = "auto" if value is None else str(value).lower()
        elif value is None:
            # "" reads back as the field's default; a field whose default is not None (the
            # temperature, the seed) stores "none" to stay unset
            text = "" if f.default is None else "none"
        else:
            text = str(value)
        out[LLM_PREFIX + f.name] = text
    return out


def llm_from_mapping(values: Mapping[str, Any]) -> LLMConfig:
    """Read back what :func:`llm_to_mapping` stored (``"none"`` keeps a field unset)."""
    defaults = {f.name: f.default for f in dataclasses.fields(LLMConfig)}
    unset, rest = [], {}
    for key, value in values.items():
        name = key[len(LLM_PREFIX):] if key.startswith(LLM_PREFIX) else key
        if (isinstance(value, str) and value.strip().lower() == "none"
                and defaults.get(name, 0) is not None and name != "seed"):
            unset.append(name)
        else:
            rest[key] = value
    config = LLMConfig.from_mapping(rest)
    return dataclasses.replace(config, **{name: None for name in unset}) if unset else config
