"""Fine-tuning with the paper's recipe: :class:`TrainConfig`, in-memory data, the train job, DDP.

Training consumes arrays (uint8 frames, labels, groups, video ids) held in :class:`TrainData`,
built from the frame cache of a UCF-101-layout dataset, so tests can feed synthetic arrays.
``train()`` is a job (a generator yielding :class:`~harlab.jobs.Progress` once per batch) that
writes ``last.pt`` (resumable) and ``best.pt`` (best validation accuracy) in ``out_dir``. Under
``torchrun`` (``WORLD_SIZE`` > 1) the same job runs with DistributedDataParallel: gloo on the
CPU, NCCL on CUDA, rank 0 writes checkpoints and the project run.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harlab.errors import DatasetError, InputError
from harlab.jobs import Job

if TYPE_CHECKING:
    import numpy as np

    from harlab.store import Project

log = logging.getLogger(__name__)


def _check_range(name: str, value: Any, low: float, high: float, *, integer: bool = False,
                 hint: str = "") -> None:
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or not (low <= value <= high):
        kind = "an integer" if integer else "a number"
        raise InputError(f"{name} must be {kind} in [{low:g}, {high:g}], got {value!r}"
                         + (f" ({hint})" if hint else ""))


@dataclass(frozen=True)
class TrainConfig:
    """How to fine-tune; the defaults are the paper's recipe.

    Attributes:
        arch: a key of :data:`harlab.models.MODEL_REGISTRY`.
        weights: ``auto``, ``imagenet``, ``none`` or a weights file path.
        image_size: square input side in pixels (frames are cached at this size).
        frames_per_video: frames sampled from each training video.
        epochs: passes over the training frames.
        batch_size: frames per forward pass (per process under DDP).
        lr: AdamW learning rate, also the cyclic schedule's lower bound.
        max_lr: the cyclic schedule's upper bound.
        weight_decay: AdamW weight decay.
        accumulate: batches whose gradients are summed per optimizer step.
        lr_cycle_steps: optimizer steps from ``lr`` up to ``max_lr`` (0: half an epoch).
        flip: random horizontal flips.
        jitter: colour-jitter strength (brightness, contrast, saturation: ×(1 ± jitter)).
        hue: hue jitter, ± this share of the colour circle (0.5 = any hue).
        rotation_deg: random rotation range in degrees (±).
        zoom: random zoom and shift, ± this share of the side (not in the paper: 0).
        val_fraction: share of the training split's groups held out for validation.
        fold: UCF-101 split (1-3).
        seed: seeds shuffling, augmentation and initialisation.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        amp: mixed precision (CUDA only).
        channels_last: channels-last memory format (CUDA only).
    """

    arch: str = "resnet18"
    weights: str = "auto"
    image_size: int = 224
    frames_per_video: int = 50
    epochs: int = 50
    batch_size: int = 32
    lr: float = 1e-4
    max_lr: float = 1e-3
    weight_decay: float = 0.01
    accumulate: int = 4
    lr_cycle_steps: int = 0
    flip: bool = True
    jitter: float = 0.2
    hue: float = 0.05
    rotation_deg: float = 10.0
    zoom: float = 0.0
    val_fraction: float = 0.1
    fold: int = 1
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    channels_last: bool = True

    def __post_init__(self) -> None:
        from harlab.models import MODEL_REGISTRY

        if self.arch not in MODEL_REGISTRY:
            raise InputError(f"unknown model architecture {self.arch!r}; valid architectures: "
                             f"{', '.join(MODEL_REGISTRY)}")
        _check_range("image_size", self.image_size, 32, 1024, integer=True,
                     hint="ResNet needs at least 32 px; the paper uses 224")
        _check_range("frames_per_video", self.frames_per_video, 1, 1000, integer=True)
        _check_range("epochs", self.epochs, 1, 10000, integer=True)
        _check_range("batch_size", self.batch_size, 1, 4096, integer=True)
        _check_range("lr", self.lr, 1e-8, 1.0, hint="the paper uses 1e-4")
        _check_range("max_lr", self.max_lr, 1e-8, 1.0, hint="the paper uses 1e-3")
        if self.max_lr < self.lr:
            raise InputError(f"max_lr must be >= lr for the cyclic schedule, got max_lr "
                             f"{self.max_lr!r} < lr {self.lr!r}; swap them or raise max_lr.")
        _check_range("weight_decay", self.weight_decay, 0.0, 1.0)
        _check_range("accumulate", self.accumulate, 1, 1024, integer=True)
        _check_range("lr_cycle_steps", self.lr_cycle_steps, 0, 10**7, integer=True,
                     hint="0 means half an epoch")
        _check_range("jitter", self.jitter, 0.0, 1.0)
        _check_range("hue", self.hue, 0.0, 0.5)
        _check_range("rotation_deg", self.rotation_deg, 0.0, 180.0)
        _check_range("zoom", self.zoom, 0.0, 0.5)
        _check_range("val_fraction", self.val_fraction, 0.01, 0.9,
                     hint="a share of the training groups, e.g. 0.1")
        _check_range("fold", self.fold, 1, 3, integer=True)
        _check_range("seed", self.seed, 0, 2**31 - 1, integer=True)
        dev = str(self.device).strip().lower()
        if dev not in ("auto", "cpu", "cuda") and not dev.startswith("cuda:"):
            raise InputError(f"unknown device {self.device!r}; valid devices: auto, cpu, cuda, "
                             "cuda:N")
        if not str(self.weights).strip():
            raise InputError("weights must be auto, imagenet, none or a file path, got ''")

    @classmethod
    def paper(cls, **overrides: Any) -> TrainConfig:
        """The paper's recipe (the defaults)."""
        return cls(**overrides)

    @classmethod
    def demo(cls, **overrides: Any) -> TrainConfig:
        """A fast preset for the bundled demo data on a CPU; the paper's recipe otherwise.

        64 px inputs and 8 frames per video keep an epoch to about 19 s on two cores at batch
        64 (the demo's drawn actors stay recognisable at 64 px); 15 epochs fit in about 5
        minutes. One batch per optimizer step, and one cyclic-LR triangle over the whole run
        (245 steps up, 245 down: the demo has ~33 batches an epoch) instead of one per epoch,
        so training ends at the low LR. Stronger colour jitter (0.4, hue 0.25) because the
        demo's actors and scenes differ mostly in colour. Measured on demo v5, seed 0, a quiet
        2-core CPU: 90.2% video top-1 on the fold-1 test split in 4 min 59 s (batch 32 and 12
        epochs: 89.3%; per-epoch LR triangles and the default jitter: 83.0%). A tenth of the
        groups for validation.
        """
        preset = dict(image_size=64, frames_per_video=8, epochs=15, batch_size=64,
                      accumulate=1, lr_cycle_steps=245, jitter=0.4, hue=0.25,
                      val_fraction=0.1)
        preset.update(overrides)
        return cls(**preset)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Rebuild from a saved dict, ignoring keys this version does not know."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


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
        import numpy as np

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
        """From a ``harlab.framecache.FrameSplit``."""
        return cls(split.frames, split.labels, split.video_ids, split.groups, list(classes),
                   list(getattr(split, "videos", [])))

    def subset(self, mask: np.ndarray) -> TrainData:
        return TrainData(self.frames, self.labels[mask], self.video_ids[mask],
                         self.groups[mask], self.classes, self.videos, self.rows[mask])

    def split_groups(self, val_fraction: float, seed: int) -> tuple[TrainData, TrainData]:
        """Hold out whole groups (UCF-101's gXX) for validation; no group is in both parts."""
        import numpy as np

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
    import numpy as np

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
    from harlab.framecache import CacheConfig, build_cache
    from harlab.ucf101 import UCF101

    dataset = UCF101(dataset_root, fold=fold)
    cache = yield from build_cache(dataset, CacheConfig(frames_per_video=frames_per_video,
                                                        size=image_size))
    classes = list(cache.classes)
    train = TrainData.from_split(cache.split("train"), classes) if need_train else None
    test = TrainData.from_split(cache.split("test"), classes)
    return classes, train, test


@dataclass
class TrainResult:
    """What a training run produced."""

    out_dir: Path
    best_checkpoint: Path
    last_checkpoint: Path
    best_val_acc: float
    best_epoch: int
    epochs_done: int
    history: list[dict[str, Any]]
    weights_message: str
    completed: bool = True
    run_id: int | None = None

    def to_dict(self, project: Project | None = None) -> dict[str, Any]:
        def rel(path: Path) -> str:
            if project is not None:
                try:
                    return project.relpath(path)
                except ValueError:
                    pass
            return str(path)

        return {"best_checkpoint": rel(self.best_checkpoint),
                "last_checkpoint": rel(self.last_checkpoint), "out_dir": rel(self.out_dir),
                "best_val_acc": self.best_val_acc, "best_epoch": self.best_epoch,
                "epochs_done": self.epochs_done, "history": self.history,
                "weights": self.weights_message, "completed": self.completed}


def distributed_env() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from torchrun's environment (``(0, 1, 0)`` alone)."""
    return (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
            int(os.environ.get("LOCAL_RANK", 0)))


def init_distributed(device: str = "auto") -> bool:
    """Join the process group torchrun set up (gloo on CPU, NCCL on CUDA); False when alone."""
    import torch
    import torch.distributed as dist

    from harlab.device import resolve_device

    rank, world, local_rank = distributed_env()
    if world <= 1 or dist.is_initialized():
        return dist.is_initialized()
    dev = resolve_device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
    dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    log.info("DDP rank %d/%d on %s", rank, world, dev)
    return True


def train(config: TrainConfig, dataset_root: str | Path, out_dir: str | Path | None = None, *,
          project: Project | None = None, resume: str | Path | None = None
          ) -> Job[TrainResult]:
    """Fine-tune on a UCF-101-layout dataset; see :func:`harlab.fit.fit` for the loop.

    Args:
        config: the recipe. On resume the checkpoint's config is used, except ``epochs`` and
            ``device``, which come from ``config`` (so a run can be extended).
        dataset_root: folder with ``UCF-101/`` and ``ucfTrainTestlist/``.
        out_dir: where ``last.pt``/``best.pt`` go; default ``project.checkpoints_dir /
            f"train-{run_id}"``, or the resumed checkpoint's folder.
        project: records a 'train' run (config, result with the best checkpoint's path).
        resume: a ``last.pt`` (or its folder) to continue from.
    """
    import torch.distributed as dist

    from harlab.fit import fit, read_resume_state

    state = None
    if resume is not None:
        resume = Path(resume)
        if resume.is_dir():
            resume = resume / "last.pt"
        state = read_resume_state(resume)
        config = dataclasses.replace(TrainConfig.from_dict(state["config"]),
                                     epochs=config.epochs, device=config.device)
        if out_dir is None:
            out_dir = resume.parent
    was_initialized = dist.is_initialized()
    init_distributed(config.device)
    owned_group = dist.is_initialized() and not was_initialized
    rank = dist.get_rank() if dist.is_initialized() else 0
    try:
        if dist.is_initialized() and rank != 0:
            dist.barrier()  # rank 0 builds the frame cache first; the others then reuse it
        classes, train_all, _ = yield from load_split_data(
            dataset_root, config.fold, config.frames_per_video, config.image_size)
        if dist.is_initialized() and rank == 0:
            dist.barrier()
        if state is not None:
            from harlab.checkpoint import check_classes

            check_classes(resume, [str(c) for c in state["classes"]], classes)
        check_class_count(classes)
        if len(train_all) == 0:
            raise DatasetError(f"the training split of fold {config.fold} in "
                               f"{str(dataset_root)!r} is empty; expected videos listed in "
                               f"trainlist0{config.fold}.txt. Check the split files.")
        train_part, val_part = train_all.split_groups(config.val_fraction, config.seed)
        result = yield from fit(config, train_part, val_part, out_dir, project=project,
                                resume_state=state, dataset_root=str(dataset_root))
    finally:
        if owned_group and dist.is_initialized():
            dist.destroy_process_group()
    return result


