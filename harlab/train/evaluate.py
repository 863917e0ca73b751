"""Evaluating a classifier on a fold's test split: frame and video level, per class, confusion.

Video-level predictions average the softmax over a video's frames. Everything runs under
``torch.inference_mode()`` in batches, yielding progress once per batch.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harlab.errors import InputError
from harlab.jobs import Job
from harlab.store import Project
from harlab.train.checkpoint import check_classes, load_classifier
from harlab.train.data import TrainData, load_split_data
from harlab.train.inference import predict_frames
from harlab.validation import check_device, check_positive_int

log = logging.getLogger(__name__)


@dataclass
class EvalResult:
    """Test metrics; ``confusion[i][j]`` counts videos of class i predicted as class j."""

    classes: list[str]
    frame_top1: float
    frame_top5: float
    video_top1: float
    video_top5: float
    per_class_acc: dict[str, float]
    confusion: list[list[int]]
    n_frames: int
    n_videos: int
    checkpoint: str = ""
    run_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (f"video top-1 {self.video_top1:.1%}, top-5 {self.video_top5:.1%}; frame top-1 "
                f"{self.frame_top1:.1%}, top-5 {self.frame_top5:.1%} "
                f"({self.n_videos} videos, {self.n_frames} frames)")


@dataclass(frozen=True)
class EvalConfig:
    """What :func:`evaluate` tests: a checkpoint on the test split of a fold.

    Attributes:
        checkpoint: a ``best.pt``/``last.pt`` from training.
        dataset_root: a UCF-101-layout folder.
        fold: UCF-101 split 1-3.
        batch_size: frames per forward pass.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        frames_per_video: frames sampled per test video; None = as trained.
    """

    checkpoint: str
    dataset_root: str
    fold: int = 1
    batch_size: int = 64
    device: str = "auto"
    frames_per_video: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "checkpoint", str(self.checkpoint))
        object.__setattr__(self, "dataset_root", str(self.dataset_root))
        if self.fold not in (1, 2, 3):
            raise InputError(f"fold must be 1, 2 or 3 (UCF-101's three splits), got "
                             f"{self.fold!r}")
        check_positive_int(self.batch_size, "batch_size")
        check_device(self.device)
        if self.frames_per_video is not None:
            check_positive_int(self.frames_per_video, "frames_per_video")


def metrics_from_probs(probs: torch.Tensor, labels: np.ndarray, video_ids: np.ndarray,
                       classes: list[str]) -> EvalResult:
    """Frame/video top-1/top-5, per-class (video-level) accuracy and confusion matrix."""

    labels_t = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    k = min(5, len(classes))
    frame_top1 = (probs.argmax(1) == labels_t).float().mean().item()
    frame_top5 = (probs.topk(k, 1).indices == labels_t[:, None]).any(1).float().mean().item()
    vids, inverse = np.unique(np.asarray(video_ids), return_inverse=True)
    inv = torch.as_tensor(inverse, dtype=torch.long)
    vprobs = torch.zeros(len(vids), probs.shape[1]).index_add_(0, inv, probs)
    vlabels = torch.zeros(len(vids), dtype=torch.long).index_copy_(0, inv, labels_t)
    vpred = vprobs.argmax(1)
    video_top1 = (vpred == vlabels).float().mean().item()
    video_top5 = (vprobs.topk(k, 1).indices == vlabels[:, None]).any(1).float().mean().item()
    n = len(classes)
    confusion = torch.zeros(n, n, dtype=torch.long)
    confusion.index_put_((vlabels, vpred), torch.ones_like(vpred), accumulate=True)
    per_class = {}
    for i, name in enumerate(classes):
        total = int(confusion[i].sum())
        per_class[name] = float(confusion[i, i]) / total if total else float("nan")
    return EvalResult(classes=list(classes), frame_top1=frame_top1, frame_top5=frame_top5,
                      video_top1=video_top1, video_top5=video_top5, per_class_acc=per_class,
                      confusion=confusion.tolist(), n_frames=len(labels_t), n_videos=len(vids))


def evaluate_data(model: torch.nn.Module, data: TrainData, *, batch_size: int = 64,
                  device: torch.device | None = None, amp: bool = False) -> Job[EvalResult]:
    """Evaluate ``model`` on in-memory frames (see :class:`harlab.train.data.TrainData`)."""
    if len(data) == 0:
        raise InputError("the evaluation split is empty (0 frames); expected at least one "
                         "video. Check the dataset's test list for this fold.")
    probs = yield from predict_frames(model, data.frames, batch_size=batch_size, device=device,
                                      amp=amp, indices=data.rows)
    return metrics_from_probs(probs, data.labels, data.video_ids, data.classes)


def evaluate(checkpoint: str | Path, dataset_root: str | Path, fold: int = 1, *,
             project: Project | None = None, batch_size: int = 64, device: str = "auto",
             frames_per_video: int | None = None) -> Job[EvalResult]:
    """Evaluate a checkpoint on the test split of ``fold``; recorded as an 'evaluate' run.

    Args:
        checkpoint: a ``best.pt``/``last.pt`` from training.
        dataset_root: a UCF-101-layout folder.
        frames_per_video: frames sampled per test video (default: the checkpoint's).
    """

    if not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
    loaded = load_classifier(checkpoint, device=device)
    fpv = frames_per_video or int(loaded.config.get("frames_per_video", 16))
    classes, _, test = yield from load_split_data(dataset_root, fold, fpv, loaded.image_size,
                                                  need_train=False)
    check_classes(checkpoint, loaded.classes, classes)
    config = {"checkpoint": str(checkpoint), "dataset_root": str(dataset_root), "fold": fold,
              "frames_per_video": fpv, "batch_size": batch_size, "device": device}
    recording = (project.run("evaluate", config, name=Path(checkpoint).name)
                 if project is not None else contextlib.nullcontext())
    with recording as record:
        dev = next(loaded.model.parameters()).device
        result = yield from evaluate_data(loaded.model, test, batch_size=batch_size, device=dev,
                                          amp=bool(loaded.config.get("amp", False)))
        result.checkpoint = str(checkpoint)
        if record is not None:
            result.run_id = record.id
            record.result = result.to_dict()
    log.info("evaluation: %s", result.summary())
    return result
