"""Classifiers that take ``[0, 1]`` images: an explicit registry and weight resolution.

The attack contract needs models that map ``[0, 1]`` pixels to logits, so ImageNet
normalisation lives inside :class:`NormalizedClassifier`. Weights come from torchvision's own
cache folder (``torch.hub.get_dir()/checkpoints``), a download only when ``weights="imagenet"``
is asked for explicitly, or a local file; ``"auto"`` never touches the network and falls back to
training from scratch with a plain message.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torchvision.models as tvm
from torch import nn

from harlab.errors import CheckpointError, InputError

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
WEIGHT_CHOICES = ("auto", "imagenet", "none")


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry: torchvision builder name, its ImageNet weights enum, head path."""

    builder: str
    weights_enum: str
    head: str  # attribute path of the final Linear layer, e.g. "fc" or "classifier.3"


MODEL_REGISTRY: dict[str, ModelSpec] = {
    "resnet18": ModelSpec("resnet18", "ResNet18_Weights", "fc"),
    "resnet34": ModelSpec("resnet34", "ResNet34_Weights", "fc"),
    "resnet50": ModelSpec("resnet50", "ResNet50_Weights", "fc"),
    "mobilenet_v3_small": ModelSpec("mobilenet_v3_small", "MobileNet_V3_Small_Weights",
                                    "classifier.3"),
    "efficientnet_b0": ModelSpec("efficientnet_b0", "EfficientNet_B0_Weights", "classifier.1"),
}


@dataclass(frozen=True)
class WeightsInfo:
    """Where the starting weights came from.

    Attributes:
        source: ``imagenet``, ``file`` or ``scratch``.
        message: one line for the GUI notice and the CLI.
    """

    source: str
    message: str


class NormalizedClassifier(nn.Module):
    """A classifier fed ``[0, 1]`` RGB images; ImageNet normalisation happens inside.

    Shape:
        images: ``(N, 3, H, W)`` float in ``[0, 1]``.
        output: ``(N, num_classes)`` logits.
    """

    def __init__(self, net: nn.Module, arch: str, num_classes: int):
        super().__init__()
        self.net = net
        self.arch = arch
        self.num_classes = num_classes
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net((images - self.mean) / self.std)


def _spec(arch: str) -> ModelSpec:
    try:
        return MODEL_REGISTRY[arch]
    except KeyError:
        raise InputError(f"unknown model architecture {arch!r}; valid architectures: "
                         f"{', '.join(MODEL_REGISTRY)}") from None


def imagenet_weights_file(arch: str = "resnet18") -> Path:
    """Where torchvision caches ``arch``'s ImageNet weights (it may not exist)."""

    spec = _spec(arch)
    url = getattr(tvm, spec.weights_enum).DEFAULT.url
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def _replace_head(net: nn.Module, head: str, num_classes: int) -> None:
    *parents, last = head.split(".")
    owner = net
    for part in parents:
        owner = owner[int(part)] if part.isdigit() else getattr(owner, part)
    old = owner[int(last)] if last.isdigit() else getattr(owner, last)
    new = nn.Linear(old.in_features, num_classes)
    if last.isdigit():
        owner[int(last)] = new
    else:
        setattr(owner, last, new)


_REFUSED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def describe_load_error(exc: BaseException) -> str:
    """One clause saying why ``torch.load(..., weights_only=True)`` failed on a file.

    Torch's own text for a refused pickle first advises ``weights_only=False`` and only later
    warns that this runs arbitrary code; a user must never read the first half alone. So a
    refusal is reported by what the file tried to import, and other errors by their first line.
    """
    text = str(exc)
    if "weights only load failed" in text.lower() or "weights_only" in text:
        match = _REFUSED_GLOBAL.search(text)
        what = (f"it tries to import {match.group(1)}" if match
                else "it holds pickled objects other than tensors and plain values")
        return (f"{what}, which could run arbitrary code, so HARLab will not load it; "
                "use a file from a source you trust")
    first = text.strip().splitlines()[0][:200] if text.strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _load_state_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(f"weights file {str(path)!r} does not exist; expected a .pth "
                              "state dict or a HARLab checkpoint. Pick an existing file, or use "
                              "weights 'auto' or 'none'.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors all mean "not a weights file"
        raise CheckpointError(f"weights file {str(path)!r} cannot be read as PyTorch weights "
                              f"({describe_load_error(exc)}); expected a state dict saved "
                              "with torch.save. Pick another file.") from exc
    if isinstance(state, dict) and "model_state" in state:  # a HARLab checkpoint
        state = {k.removeprefix("net."): v for k, v in state["model_state"].items()}
    elif isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(hasattr(v, "shape") for v in state.values()):
        raise CheckpointError(f"weights file {str(path)!r} holds a {type(state).__name__}, "
                              "not a state dict of tensors; save one with "
                              "torch.save(model.state_dict(), path).")
    return {k.removeprefix("module."): v for k, v in state.items()}


def _apply_state(net: nn.Module, state: dict[str, Any], head: str, origin: str) -> None:
    """Load ``state`` into ``net``, skipping the classification head when its shape differs."""
    own = net.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    missing = [k for k in own if k not in usable and not k.startswith(head + ".")]
    if missing:
        raise CheckpointError(f"{origin} does not fit this architecture: {len(missing)} "
                              f"tensors missing or of another shape (e.g. {missing[0]!r}). "
                              "Pick weights made for the same architecture.")
    net.load_state_dict(usable, strict=False)


def build_model(arch: str = "resnet18", num_classes: int = 101,
                weights: str | Path = "auto") -> tuple[Any, WeightsInfo]:
    """A torchvision classifier with its head reshaped to ``num_classes``, wrapped for [0, 1].

    Args:
        arch: a key of :data:`MODEL_REGISTRY`.
        num_classes: classes of the dataset (at least 2).
        weights: ``auto`` (ImageNet when torchvision's cache holds it, else scratch; never
            downloads), ``imagenet`` (cache, else download; an error when that fails),
            ``none`` (scratch) or a path to a state dict / HARLab checkpoint.

    Returns:
        ``(NormalizedClassifier, WeightsInfo)``; the model is on the CPU in train mode.
    """

    spec = _spec(arch)
    if not isinstance(num_classes, int) or num_classes < 2:
        raise InputError(f"num_classes must be an integer >= 2, got {num_classes!r}; a "
                         "classifier needs at least two classes.")
    net = getattr(tvm, spec.builder)(weights=None)
    choice = str(weights).strip()
    if choice.lower() in WEIGHT_CHOICES:
        choice = choice.lower()
    if choice == "none":
        info = WeightsInfo("scratch", f"{arch}: training from scratch (weights 'none').")
    elif choice in ("auto", "imagenet"):
        info = _load_imagenet(net, spec, arch, download=choice == "imagenet")
    else:
        path = Path(choice).expanduser()
        _apply_state(net, _load_state_file(path), spec.head, f"weights file {str(path)!r}")
        info = WeightsInfo("file", f"{arch}: weights from {path}.")
    _replace_head(net, spec.head, num_classes)
    model = NormalizedClassifier(net, arch, num_classes)
    log.info(info.message)
    return model, info


def _load_imagenet(net: nn.Module, spec: ModelSpec, arch: str, *, download: bool) -> WeightsInfo:
    """ImageNet weights from torchvision's cache (or a download when ``download``).

    A cached file that cannot be read or does not fit is named in the message: with ``auto``
    (``download=False``) training falls back to scratch with a notice, with ``imagenet`` it is
    an error, because the user asked for those weights.
    """
    cached = imagenet_weights_file(arch)
    if cached.is_file():
        try:
            state = torch.load(cached, map_location="cpu", weights_only=True)
            if not isinstance(state, dict):
                raise CheckpointError(f"it holds a {type(state).__name__}, not a state dict")
            _apply_state(net, state, spec.head, f"cached ImageNet weights {str(cached)!r}")
        except Exception as exc:  # pickle, zip, torch and shape errors: an unusable file
            detail = (str(exc) if isinstance(exc, CheckpointError)
                      else describe_load_error(exc))
            problem = (f"the cached ImageNet weights file {str(cached)!r} cannot be used "
                       f"({detail})")
            if download:
                raise CheckpointError(f"{problem}. Delete or replace that file (torchvision "
                                      "downloads it again when online), or use weights "
                                      "'none'.") from exc
            log.warning("%s", problem)
            return WeightsInfo("scratch", f"{arch}: {problem}; training from scratch. Delete "
                                          "or replace that file to use ImageNet weights.")
        return WeightsInfo("imagenet", f"{arch}: ImageNet weights from {cached}.")
    if not download:
        return WeightsInfo("scratch", f"{arch}: no ImageNet weights in torchvision's cache "
                                      f"({cached}); training from scratch. Put the file there, "
                                      "choose a weights file, or use weights 'imagenet' online.")

    url = getattr(tvm, spec.weights_enum).DEFAULT.url
    try:
        state = torch.hub.load_state_dict_from_url(url, progress=False, check_hash=True)
    except Exception as exc:  # URLError, HTTPError, hash mismatch...
        raise CheckpointError(f"ImageNet weights for {arch} are not cached ({cached}) and the "
                              f"download from {url} failed ({type(exc).__name__}: {exc}). "
                              "Go online once, copy the file there, or use weights 'auto' "
                              "to train from scratch.") from exc
    _apply_state(net, state, spec.head, f"downloaded ImageNet weights {url!r}")
    return WeightsInfo("imagenet", f"{arch}: ImageNet weights downloaded to {cached}.")
