"""Checkpoints: weights, config, class names, metrics, versions and (optionally) training state.

A checkpoint is one ``torch.save`` file holding only tensors and plain Python values, so it
loads with ``torch.load(..., weights_only=True)``. Writes go to a temporary file in the same
folder and are moved into place with ``os.replace``, so a good checkpoint is never left
half-overwritten.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torchvision

from harlab import __version__
from harlab.device import resolve_device
from harlab.errors import CheckpointError
from harlab.train.models import build_model, describe_load_error

FORMAT = "harlab-classifier"
FORMAT_VERSION = 1
_REQUIRED = ("arch", "classes", "image_size", "config", "model_state")


@dataclass
class LoadedClassifier:
    """A classifier ready to use: ``model`` is in eval mode on the chosen device."""

    model: Any
    classes: list[str]
    image_size: int
    config: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def versions() -> dict[str, str]:
    # str(): torch.__version__ is a TorchVersion, which weights_only loading refuses.
    return {"harlab": str(__version__), "torch": str(torch.__version__),
            "torchvision": str(torchvision.__version__)}


def save_checkpoint(path: str | Path, *, model: Any, classes: list[str], image_size: int,
                    config: dict[str, Any], metrics: dict[str, Any] | None = None,
                    train_state: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint atomically and return its path.

    Args:
        model: a ``NormalizedClassifier`` (a DDP wrapper is unwrapped).
        classes: class names, index = label.
        image_size: the square input size the model was trained at.
        config: the training config as a plain dict.
        metrics: e.g. ``{"best_val_acc": 0.9, "epoch": 3}``.
        train_state: optimizer/scheduler/scaler states, epoch, step... for resuming.
    """

    model = getattr(model, "module", model)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "arch": model.arch,
        "num_classes": int(model.num_classes),
        "classes": list(classes),
        "image_size": int(image_size),
        "config": dict(config),
        "metrics": dict(metrics or {}),
        "versions": versions(),
        "model_state": {k: v.detach().to("cpu", copy=True).contiguous()
                        for k, v in model.state_dict().items()},
        "train_state": train_state,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a checkpoint is an ordinary shared file
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load and check a checkpoint file (on the CPU); raises :class:`CheckpointError`."""

    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist; expected a .pt file "
                              "written by HARLab training (best.pt or last.pt). Train a model "
                              "first or pick an existing file.")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, pickle of foreign classes, not torch at all
        raise CheckpointError(f"checkpoint {str(path)!r} is corrupt or not a PyTorch file "
                              f"({describe_load_error(exc)}). "
                              "Pick another file, or train again.") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is a PyTorch file but not a HARLab classifier "
                              f"checkpoint (no format {FORMAT!r} marker). Use a best.pt/last.pt "
                              "from `harlab train`, or pass plain weights as a weights file.")
    if data.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {str(path)!r} has format version "
                              f"{data['format_version']}, newer than this HARLab understands "
                              f"({FORMAT_VERSION}); update HARLab.")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise CheckpointError(f"checkpoint {str(path)!r} lacks {', '.join(missing)}; it is "
                              "damaged. Pick another file, or train again.")
    return data


def check_classes(path: str | Path, saved: list[str], expected: list[str]) -> None:
    """Raise when a checkpoint was trained on another class set than the dataset's."""
    if list(saved) == list(expected):
        return
    only_ckpt = [c for c in saved if c not in expected][:3]
    only_data = [c for c in expected if c not in saved][:3]
    detail = (f"only in checkpoint: {only_ckpt}; only in dataset: {only_data}"
              if only_ckpt or only_data else "same names in another order")
    raise CheckpointError(f"checkpoint {str(path)!r} was trained on {len(saved)} classes but "
                          f"the dataset has {len(expected)} ({detail}). Use a checkpoint "
                          "trained on this dataset, or train one.")


def load_classifier(path: str | Path, device: str = "auto",
                    expected_classes: list[str] | None = None) -> LoadedClassifier:
    """Rebuild the model from a checkpoint, in eval mode on ``device``.

    Raises:
        CheckpointError: the file is missing, corrupt, foreign, or (with
            ``expected_classes``) for another class set.
    """

    dev = resolve_device(device)
    data = read_checkpoint(path)
    classes = [str(c) for c in data["classes"]]
    if expected_classes is not None:
        check_classes(path, classes, list(expected_classes))
    model, _ = build_model(data["arch"], len(classes), weights="none")
    try:
        model.load_state_dict(data["model_state"])
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} weights do not fit a {data['arch']} "
                              f"with {len(classes)} classes ({str(exc).splitlines()[0]}). The "
                              "file is damaged or was edited; train again.") from exc
    model.to(dev).eval()
    return LoadedClassifier(model=model, classes=classes, image_size=int(data["image_size"]),
                            config=dict(data["config"]), metrics=dict(data["metrics"]),
                            path=Path(path))
