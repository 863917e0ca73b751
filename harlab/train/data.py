"""Frames for training and evaluation: :class:`TrainData`, its batch loader, loading a fold.

Training consumes arrays (uint8 frames, labels, groups, video ids) held in :class:`TrainData`,
built from the frame cache of a UCF-101-layout dataset, so tests can feed synthetic arrays.
The frames are a numpy array (in memory or a raw cache's memmap) or a JPEG cache's
:class:`~harlab.data.jpeg_frames.JpegFrames`; :func:`iter_frame_batches` reads batches of
either, decoding JPEG ahead of the model in DataLoader workers (CPU) or batched on the GPU.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from harlab.data.framecache import CacheConfig, FrameCache, build_cache, cache_folder
from harlab.data.jpeg_frames import JpegFrames, decode_batch
from harlab.data.ucf101 import UCF101
from harlab.errors import DatasetError, InputError
from harlab.jobs import Job

log = logging.getLogger(__name__)


@dataclass
class TrainData:
    """Frames (in memory or a memmap) with one label, video and group per used row.

    A subset shares ``frames`` and keeps the row numbers it uses in ``rows``, so splitting a
    memory-mapped cache copies nothing.

    Shape:
        frames: ``(R, S, S, 3)`` uint8; labels, video_ids, groups, rows: ``(M,)`` int64.
    """

    frames: np.ndarray | JpegFrames
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

    @property
    def compressed(self) -> bool:
        """Whether reading rows decodes JPEG (a JPEG frame cache)."""
        return isinstance(self.frames, JpegFrames)

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


def find_cache_config(dataset: UCF101, frames_per_video: int, image_size: int,
                      cache_dir: Path | None = None) -> CacheConfig:
    """The config of an existing cache of this shape: raw if built, else the newest JPEG one.

    With neither built, a raw config (building a JPEG cache is a choice: `harlab data cache
    --format jpeg`). So training and evaluation read whatever cache the user built.
    """
    raw = CacheConfig(frames_per_video=frames_per_video, size=image_size)
    folder = cache_folder(dataset, raw, cache_dir)
    if (folder / "cache.json").is_file():
        return raw
    jpeg = sorted(folder.parent.glob(folder.name + "-jpeg*/cache.json"),
                  key=lambda p: p.stat().st_mtime_ns)
    for meta in reversed(jpeg):
        try:
            return FrameCache.open(meta.parent).config
        except (DatasetError, ValueError, KeyError, TypeError):
            continue
    return raw


def load_split_data(dataset_root: str | Path, fold: int, frames_per_video: int, image_size: int,
                    *, need_train: bool = True, cache: CacheConfig | None = None
                    ) -> Job[tuple[list[str], TrainData | None, TrainData]]:
    """Index the dataset, build (or reuse) the frame cache, return ``(classes, train, test)``.

    ``cache`` chooses the cache's format (its frames and size are those given here); by
    default an existing cache of this shape is used, raw or JPEG (:func:`find_cache_config`).
    """
    dataset = UCF101(dataset_root, fold=fold)
    if cache is None:
        config = find_cache_config(dataset, frames_per_video, image_size)
    else:
        config = CacheConfig(frames_per_video=frames_per_video, size=image_size,
                             format=cache.format, jpeg_quality=cache.jpeg_quality)
    built = yield from build_cache(dataset, config)
    classes = list(built.classes)
    train = TrainData.from_split(built.split("train"), classes) if need_train else None
    test = TrainData.from_split(built.split("test"), classes)
    return classes, train, test


# ---------------------------------------------------------------------------- batch loader
def default_loader_workers(data: TrainData, device: torch.device) -> int:
    """DataLoader workers for reading ``data``: 0 (in-process) unless frames are JPEG.

    Raw frames are a memmap slice away. JPEG frames are decoded by worker processes: up to 2
    on the CPU (they run beside the training step), and on CUDA all cores but two, up to 8
    (on an H200 with 16 cores, 8 workers decoded 9,500 frames/s against nvJPEG's 2,200-3,000;
    benchmarks/bench_gpu_train.py). With fewer than 6 cores a CUDA machine reads the bytes in
    2 workers and decodes them on the GPU (:func:`gpu_decodes`).
    """
    if not data.compressed:
        return 0
    cores = os.cpu_count() or 1
    if device.type == "cuda" and not gpu_decodes(device):
        return min(8, cores - 2)
    return min(2, cores)


def gpu_decodes(device: torch.device) -> bool:
    """Whether JPEG frames for ``device`` are decoded there (nvJPEG): on CUDA machines with
    fewer than 6 cores, where CPU workers would starve the GPU less than they slow the host."""
    return device.type == "cuda" and (os.cpu_count() or 1) < 6


class _Batches(Dataset):
    """Item ``i`` is batch ``i``: its decoded frames, or its JPEG bytes when ``encoded``."""

    def __init__(self, data: TrainData, batches: Sequence[np.ndarray], encoded: bool):
        self.frames, self.rows, self.encoded = data.frames, data.rows, encoded
        self.batches = [np.asarray(b, np.int64) for b in batches]

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> torch.Tensor | list[torch.Tensor]:
        rows = self.rows[self.batches[i]]
        if self.encoded:
            return self.frames.encoded(rows)
        return torch.from_numpy(np.ascontiguousarray(self.frames[rows]))


def iter_frame_batches(data: TrainData, batches: Sequence[np.ndarray],
                       device: torch.device | str = "cpu", *, workers: int | None = None,
                       prefetch: int = 2, gpu_decode: bool | None = None
                       ) -> Iterator[torch.Tensor]:
    """The frames at each batch of positions of ``data``, read ahead of the consumer.

    Raw frames with ``workers=0`` are read in-process, exactly as ``data.take(batch)``. JPEG
    frames are decoded in ``workers`` DataLoader processes (``prefetch`` batches ahead each,
    in pinned memory when ``device`` is CUDA) or, on CUDA with ``gpu_decode`` (the default on
    machines with few cores, :func:`gpu_decodes`), only read there and decoded on the GPU in
    one batched nvJPEG call per batch, ``prefetch`` batches ahead on a side stream, so decoding
    overlaps the training step. Close the iterator (or exhaust it) to stop the workers.

    Shape:
        each result: ``(len(batch), S, S, 3)`` uint8, on ``device`` for GPU-decoded JPEG,
        else on the CPU.
    """
    device = torch.device(device)
    if workers is None:
        workers = default_loader_workers(data, device)
    if workers < 0:
        raise InputError(f"workers must be >= 0 DataLoader processes, got {workers}")
    if gpu_decode is None:
        gpu_decode = gpu_decodes(device)
    gpu_decode = gpu_decode and data.compressed and device.type == "cuda"
    if workers == 0 and not gpu_decode:
        for idx in batches:
            yield torch.from_numpy(np.ascontiguousarray(data.take(idx)))
        return
    dataset = _Batches(data, batches, encoded=gpu_decode)
    loader = DataLoader(dataset, batch_size=None, shuffle=False, num_workers=workers,
                        pin_memory=device.type == "cuda" and not gpu_decode,
                        prefetch_factor=prefetch if workers else None)
    it = iter(loader)
    try:
        if gpu_decode:
            yield from _decoded_ahead(it, device, prefetch)
        else:
            yield from it
    finally:
        del it  # shuts the worker processes down now, also when the consumer stops early


def _decoded_ahead(encoded: Iterator[list[torch.Tensor]], device: torch.device,
                   depth: int) -> Iterator[torch.Tensor]:
    """nvJPEG-decode each batch of ``encoded`` in a thread on its own CUDA stream, ``depth``
    batches ahead, handing each over with an event the consumer's stream waits on.

    The decode call holds no GIL while the GPU works, and its stream is not the training
    step's, so the two overlap instead of taking turns (measured on an H200: see
    benchmarks/bench_gpu_train.py).
    """
    stream = torch.cuda.Stream(device)
    ready: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def work() -> None:
        try:
            with torch.cuda.stream(stream):
                for item in encoded:
                    if stop.is_set():
                        return
                    frames = decode_batch(item, device)
                    done = torch.cuda.Event()
                    done.record(stream)
                    ready.put((frames, done))
            ready.put(None)
        except BaseException as exc:  # handed to the consumer, which raises it
            ready.put(exc)

    thread = threading.Thread(target=work, name="nvjpeg-decode", daemon=True)
    thread.start()
    try:
        while (got := ready.get()) is not None:
            if isinstance(got, BaseException):
                raise got
            frames, done = got
            current = torch.cuda.current_stream(device)
            current.wait_event(done)
            frames.record_stream(current)  # the allocator keeps it until the step is done
            yield frames
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                ready.get(timeout=0.05)
            except queue.Empty:
                pass
        thread.join()
