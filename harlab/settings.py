"""Typed application settings: paths and the compute device (the LLM has its own LLMConfig).

A settings store (the GUI's QSettings, a file, a test's dict) holds strings under the keys
named in each field's metadata; :func:`harlab.fields.to_strings` and
:func:`harlab.fields.from_strings` are the one translation for every config. No secret is ever
part of a setting: an API key is named by its environment variable only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harlab.fields import from_strings, setting, settings_keys, to_strings
from harlab.llm.config import LLMConfig
from harlab.validation import check_device
from harlab.vocab import DEVICE_CHOICES


@dataclass(frozen=True)
class AppSettings:
    """Where things are and what to compute on.

    Attributes:
        dataset_root: the dataset folder new projects start with ("" = none yet).
        weights_file: an ImageNet weights file for machines that cannot download ("" = none).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    """

    dataset_root: str = setting("", key="data/dataset_root", label="Default dataset folder",
                                kind="dir")
    weights_file: str = setting("", key="train/weights_file",
                                label="ImageNet weights file (optional)", kind="file")
    device: str = setting("auto", key="compute/device", label="Device", choices=DEVICE_CHOICES,
                          kind="editable", help="auto, cpu, cuda or cuda:N")

    def __post_init__(self) -> None:
        object.__setattr__(self, "dataset_root", str(self.dataset_root or "").strip())
        object.__setattr__(self, "weights_file", str(self.weights_file or "").strip())
        object.__setattr__(self, "device", check_device(self.device))

    @staticmethod
    def keys() -> dict[str, str]:
        """Field name -> settings key."""
        return dict(zip(AppSettings.__dataclass_fields__, settings_keys(AppSettings),
                        strict=True))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> AppSettings:
        """Build from a store's ``key -> value``; missing or empty keys keep the default."""
        return from_strings(cls, values)

    def to_mapping(self) -> dict[str, str]:
        return to_strings(self)


# Kept for callers of the old names; both are the generic reader/writer.
def llm_to_mapping(config: LLMConfig) -> dict[str, str]:
    """Every field of ``config`` as the strings :meth:`LLMConfig.from_mapping` reads back."""
    return to_strings(config)


def llm_from_mapping(values: Mapping[str, Any]) -> LLMConfig:
    """Read back what :func:`llm_to_mapping` stored (``"none"`` keeps a field unset)."""
    return LLMConfig.from_mapping(values)
