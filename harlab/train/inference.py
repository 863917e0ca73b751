"""Batched prediction shared by training, evaluation and the attack stage.

Frames come as uint8 ``(N, H, W, 3)``; models take float ``(N, 3, H, W)`` in ``[0, 1]``
(ImageNet normalisation lives inside :class:`~harlab.train.models.NormalizedClassifier`).
"""

from __future__ import annotations

import numpy as np
import torch

from harlab.jobs import Job, Progress


def device_of(model: torch.nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    param = next(iter(model.parameters()), None)
    return param.device if param is not None else torch.device("cpu")


def to_images(batch: np.ndarray | torch.Tensor, device: torch.device,
              channels_last: bool = False) -> torch.Tensor:
    """uint8 frames -> float images in ``[0, 1]`` on ``device``.

    Shape:
        batch: ``(N, H, W, 3)`` uint8.
        result: ``(N, 3, H, W)`` float32.
    """
    if isinstance(batch, np.ndarray):
        batch = np.ascontiguousarray(batch)
    x = torch.as_tensor(batch).to(device, non_blocking=True)
    x = x.permute(0, 3, 1, 2).float().div_(255.0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return x.contiguous(memory_format=fmt)


def predict_probs(model: torch.nn.Module, images: torch.Tensor, batch_size: int) -> np.ndarray:
    """Softmax probabilities of float images, in eval mode (the model's mode is restored).

    Shape:
        images: ``(N, 3, H, W)`` in ``[0, 1]``; result: ``(N, num_classes)`` float32.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            out = [model(images[i:i + batch_size]).float().softmax(1).cpu()
                   for i in range(0, images.shape[0], batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out).numpy()


def predict_frames(model: torch.nn.Module, frames: np.ndarray, *, batch_size: int = 64,
                   device: torch.device | None = None, amp: bool = False,
                   channels_last: bool = False, indices: np.ndarray | None = None
                   ) -> Job[torch.Tensor]:
    """Softmax probabilities for uint8 frames (all, or those at ``indices``), on the CPU.

    A job: yields progress once per batch.

    Shape:
        frames: ``(M, S, S, 3)`` uint8.
        result: ``(len(indices) or M, num_classes)`` float32.
    """
    device = device or device_of(model)
    idx = np.arange(len(frames)) if indices is None else np.asarray(indices)
    was_training = model.training
    model.eval()
    out = []
    try:
        with torch.inference_mode():
            for start in range(0, len(idx), batch_size):
                x = to_images(frames[idx[start:start + batch_size]], device, channels_last)
                with torch.autocast(device.type, enabled=amp and device.type == "cuda"):
                    logits = model(x)
                out.append(logits.float().softmax(1).cpu())
                yield Progress(min(start + batch_size, len(idx)), len(idx), "predicting")
    finally:
        model.train(was_training)
    if not out:
        return torch.zeros(0, getattr(model, "num_classes", 0))
    return torch.cat(out)
