"""Frames for training and evaluation: :class:`TrainData` and loading a fold from the cache.

Training consumes arrays (uint8 frames, labels, groups, video ids) held in :class:`TrainData`,
built from the frame cache of a UCF-101-layout dataset, so tests can feed synthetic arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harlab.data.framecache import CacheConfig, build_cache
from harlab.data.ucf101 import UCF101
from harlab.errors import DatasetError, InputError
from harlab.jobs import Job


@dataclass
class TrainData:
    """Frames (in memory or a memmap) with one label, video and group per used row.

    A subset shares ``frames`` and keeps the row numbers it uses in ``rows``, so splitting a
    memory-mapped cache copies nothing.

    Shape:
        frames: ``(R, S, S, 3)`` uint8; labels, video_ids, groups, rows: ``(M,)`` int64.
    """

    frames: np.ndarray
    labels: np.ndarray
    video_ids: np.ndarray
    groups: np.ndarray
    classes: list[str]
    videos: list[str] = field(default_factory=list)
    rows: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.video_ids = np.asarray(self.video_ids, dtype=np.int64)
        self.groups = np.asarray(self.groups, dtype=np.int64)
        if self.rows is None:
            self.rows = np.arange(len(self.frames), dtype=np.int64)
        self.rows = np.asarray(self.rows, dtype=np.int64)
        m = len(self.rows)
        if self.frames.dtype != np.uint8 or self.frames.ndim != 4 or self.frames.shape[3] != 3:
            raise InputError(f"frames must be uint8 (M, S, S, 3), got {self.frames.dtype} "
                             f"{tuple(self.frames.shape)}")
        for name in ("labels", "video_ids", "groups"):
            if len(getattr(self, name)) != m:
                raise InputError(f"{name} has {len(getattr(self, name))} entries but there are "
                                 f"{m} frames; they must match one to one")
        if m and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            raise InputError(f"labels must be in [0, {len(self.classes) - 1}] for "
                             f"{len(self.classes)} classes, got {self.labels.min()}.."
                             f"{self.labels.max()}")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def image_size(self) -> int:
        return int(self.frames.shape[1])

    def take(self, idx: np.ndarray) -> np.ndarray:
        """uint8 frames ``(len(idx), S, S, 3)`` for positions ``idx`` of this data."""
        return self.frames[self.rows[idx]]

    @classmethod
    def from_split(cls, split: Any, classes: list[str]) -> TrainData:
        """From a ``harlab.data.framecache.FrameSplit``."""
        return cls(split.frames, split.labels, split.video_ids, split.groups, list(classes),
                   list(getattr(split, "videos", [])))

    def subset(self, mask: np.ndarray) -> TrainData:
        return TrainData(self.frames, self.labels[mask], self.video_ids[mask],
                         self.groups[mask], self.classes, self.videos, self.rows[mask])

    def split_groups(self, val_fraction: float, seed: int) -> tuple[TrainData, TrainData]:
        """Hold out whole groups (UCF-101's gXX) for validation; no group is in both parts."""
        groups = np.unique(self.groups)
        if len(groups) < 2:
            raise DatasetError(f"the training split has {len(groups)} group(s); validation "
                               "holds out whole groups, so at least 2 are needed. Use a "
                               "dataset whose video names carry _gXX_ groups.")
        n_val = min(len(groups) - 1, max(1, round(val_fraction * len(groups))))
        rng = np.random.default_rng(seed)
        val_groups = rng.choice(groups, size=n_val, replace=False)
        is_val = np.isin(self.groups, val_groups)
        return self.subset(~is_val), self.subset(is_val)


def check_class_count(classes: list[str]) -> None:
    if len(classes) < 2:
        raise DatasetError(f"the dataset has {len(classes)} class(es) "
                           f"({', '.join(classes) or 'none'}); a classifier needs at "
                           "least 2. Add class folders and list them in classInd.txt.")


def check_trainable(train: TrainData, val: TrainData) -> None:
    """Raise for data that cannot train a classifier."""
    check_class_count(train.classes)
    if len(train) == 0:
        raise DatasetError("the training split is empty (0 frames); expected videos listed in "
                           "the fold's trainlist. Check the split files and video folders.")
    if len(val) == 0:
        raise DatasetError("the validation part is empty (0 frames); raise val_fraction or add "
                           "training videos from more groups.")
    present = np.unique(train.labels)
    if len(present) < 2:
        raise DatasetError(f"the training frames cover only class "
                           f"{train.classes[int(present[0])]!r}; a classifier needs at least "
                           "2 classes with videos. Add videos for the other classes.")


def load_split_data(dataset_root: str | Path, fold: int, frames_per_video: int, image_size: int,
                    *, need_train: bool = True
                    ) -> Job[tuple[list[str], TrainData | None, TrainData]]:
    """Index the dataset, build (or reuse) the frame cache, return ``(classes, train, test)``."""
    dataset = UCF101(dataset_root, fold=fold)
    cache = yield from build_cache(dataset, CacheConfig(frames_per_video=frames_per_video,
                                                        size=image_size))
    classes = list(cache.classes)
    train = TrainData.from_split(cache.split("train"), classes) if need_train else None
    test = TrainData.from_split(cache.split("test"), classes)
    return classes, train, test
