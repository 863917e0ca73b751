"""The fine-tuning job: :func:`train` (dataset in, checkpoints out) and its loop, :func:`fit`.

The loop has the shape of torchvision's reference scripts: :func:`setup` builds the model,
optimizer and schedule into a :class:`Loop`; :func:`train_one_epoch` and :func:`validate` are
plain generators yielding one :class:`~harlab.jobs.Progress` per batch, whose ``data`` is a typed
event (:class:`TrainStarted`, :class:`TrainStep`, :class:`EpochDone`) for live views. ``last.pt``
(resumable) and ``best.pt`` (best validation accuracy) are written after every epoch; closing
the generator (Cancel, Ctrl-C) writes a resumable ``last.pt`` at the last optimizer step before
re-raising. Under ``torchrun`` (``WORLD_SIZE`` > 1) the same job runs with
DistributedDataParallel: gloo on the CPU, NCCL on CUDA; rank 0 writes checkpoints and the run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from harlab.data.framecache import CacheConfig
from harlab.device import resolve_device
from harlab.errors import CheckpointError, DatasetError, InputError
from harlab.jobs import Job, Progress
from harlab.store import Project
from harlab.train.augment import BatchAugment
from harlab.train.checkpoint import check_classes, read_checkpoint, save_checkpoint
from harlab.train.config import TrainConfig
from harlab.train.data import (
    TrainData,
    check_class_count,
    check_trainable,
    iter_frame_batches,
    load_split_data,
)
from harlab.train.inference import predict_frames, to_images
from harlab.train.models import build_model
from harlab.train.step_history import StepHistory

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- events
@dataclass(frozen=True)
class TrainStarted:
    """The run's set-up, sent once before the first batch."""

    weights: str
    weights_source: str
    device: str
    out_dir: str
    run_id: int | None
    world_size: int
    history: list[dict[str, Any]]
    batches_per_epoch: int


@dataclass(frozen=True)
class TrainStep:
    """One training batch."""

    epoch: int
    step: int
    loss: float
    lr: float
    eta_s: float


@dataclass(frozen=True)
class EpochDone:
    """An epoch's metrics row (train/val loss and accuracy, lr, time, best)."""

    row: dict[str, Any]
    best_epoch: int
    best_val_acc: float


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
    steps: StepHistory = field(default_factory=StepHistory)

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
                "steps": self.steps.to_dict(), "weights": self.weights_message,
                "completed": self.completed}


@dataclass
class TrainState:
    """Where training stands; saved in ``last.pt`` so that a run resumes exactly."""

    epoch: int = 0
    batch: int = 0
    opt_step: int = 0
    best_val_acc: float = -1.0
    best_epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    sums: list[float] = field(default_factory=lambda: [0.0, 0, 0])  # loss*n, correct, seen
    steps: StepHistory = field(default_factory=StepHistory)  # loss and lr, thinned

    @classmethod
    def from_saved(cls, saved: dict[str, Any]) -> TrainState:
        # checkpoints of older releases have no step history: it starts empty
        values = {f.name: saved[f.name] for f in dataclasses.fields(cls) if f.name in saved}
        values["steps"] = StepHistory.from_dict(saved.get("steps"))
        return cls(**values)


@dataclass
class Loop:
    """Everything :func:`setup` builds for one run of the loop."""

    config: TrainConfig
    model: torch.nn.Module
    net: torch.nn.Module          # the model, or its DDP wrapper
    device: torch.device
    use_amp: bool
    channels_last: bool
    amp_dtype: torch.dtype
    rank: int
    world: int
    sampler: DistributedSampler
    batches_per_epoch: int
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    augment: BatchAugment
    classes: list[str]
    image_size: int
    weights_message: str
    weights_source: str
    state: TrainState
    # The state at the last optimizer step: what a cancel saves (partial gradients are lost).
    boundary: dict[str, Any] = field(default_factory=dict)
    loader_workers: int | None = None  # None: harlab.train.data.default_loader_workers

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def mark_boundary(self, batch: int, sums: list[float]) -> None:
        self.boundary = {"batch": batch, "sums": list(sums), "rng": torch.get_rng_state()}

    def train_state(self, epoch: int, batch: int, sums: list[float], rng: torch.Tensor
                    ) -> dict[str, Any]:
        return {"epoch": epoch, "batch": batch, "opt_step": self.state.opt_step,
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict() if self.use_amp else {},
                "best_val_acc": self.state.best_val_acc, "best_epoch": self.state.best_epoch,
                "history": self.state.history, "steps": self.state.steps.to_dict(),
                "sums": sums, "rng": rng}

    def save(self, path: Path, train_state: dict[str, Any] | None) -> None:
        if self.rank == 0:
            metrics = {"best_val_acc": self.state.best_val_acc,
                       "best_epoch": self.state.best_epoch, "epochs_done": self.state.epoch,
                       "history": self.state.history}
            save_checkpoint(path, model=self.model, classes=self.classes,
                            image_size=self.image_size, config=self.config.to_dict(),
                            metrics=metrics, train_state=train_state)


# ---------------------------------------------------------------------------- entry point
def distributed_env() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from torchrun's environment (``(0, 1, 0)`` alone)."""
    return (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
            int(os.environ.get("LOCAL_RANK", 0)))


def init_distributed(device: str = "auto") -> bool:
    """Join the process group torchrun set up (gloo on CPU, NCCL on CUDA); False when alone."""
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
          project: Project | None = None, resume: str | Path | None = None,
          cache: CacheConfig | None = None, loader_workers: int | None = None
          ) -> Job[TrainResult]:
    """Fine-tune on a UCF-101-layout dataset; see :func:`fit` for the loop.

    Args:
        config: the recipe. On resume the checkpoint's config is used, except ``epochs`` and
            ``device``, which come from ``config`` (so a run can be extended).
        dataset_root: folder with ``UCF-101/`` and ``ucfTrainTestlist/``.
        out_dir: where ``last.pt``/``best.pt`` go; default ``project.checkpoints_dir /
            f"train-{run_id}"``, or the resumed checkpoint's folder.
        project: records a 'train' run (config, result with the best checkpoint's path).
        resume: a ``last.pt`` (or its folder) to continue from.
        cache: the frame cache's format (``CacheConfig(format="jpeg")``); its frames and size
            come from ``config``. Default: the cache of this shape already built, else raw.
        loader_workers: see :func:`fit`.
    """
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
            dataset_root, config.fold, config.frames_per_video, config.image_size, cache=cache)
        if dist.is_initialized() and rank == 0:
            dist.barrier()
        if state is not None:
            check_classes(resume, [str(c) for c in state["classes"]], classes)
        check_class_count(classes)
        if len(train_all) == 0:
            raise DatasetError(f"the training split of fold {config.fold} in "
                               f"{str(dataset_root)!r} is empty; expected videos listed in "
                               f"trainlist0{config.fold}.txt. Check the split files.")
        train_part, val_part = train_all.split_groups(config.val_fraction, config.seed)
        result = yield from fit(config, train_part, val_part, out_dir, project=project,
                                resume_state=state, dataset_root=str(dataset_root),
                                loader_workers=loader_workers)
    finally:
        if owned_group and dist.is_initialized():
            dist.destroy_process_group()
    return result


def read_resume_state(path: Path) -> dict[str, Any]:
    """A checkpoint that holds training state; raises :class:`CheckpointError` otherwise."""
    data = read_checkpoint(path)
    if not isinstance(data.get("train_state"), dict):
        raise CheckpointError(f"checkpoint {str(path)!r} holds weights only, no training "
                              "state to resume; resume from the run's last.pt (best.pt is for "
                              "evaluation), or start a new run with it as the weights file.")
    return data


# ---------------------------------------------------------------------------- the loop
def _lr_cycle_steps(config: TrainConfig, batches_per_epoch: int) -> int:
    if config.lr_cycle_steps:
        return config.lr_cycle_steps
    return max(1, math.ceil(batches_per_epoch / config.accumulate) // 2)


def setup(config: TrainConfig, train_data: TrainData,
          resume_state: dict[str, Any] | None = None) -> Loop:
    """Model (optionally DDP-wrapped), sampler, optimizer, cyclic LR, scaler and state."""
    distributed = dist.is_available() and dist.is_initialized()
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    device = resolve_device(config.device)
    if device.type == "cuda" and distributed:
        device = torch.device("cuda", torch.cuda.current_device())
    on_cuda = device.type == "cuda"
    # torch.compile picks convolution layouts itself; channels-last weights under it broke the
    # backward pass on torch 2.11 + H200 (an inductor stride assertion in convolution_backward).
    use_amp = config.amp and on_cuda
    channels_last = config.channels_last and on_cuda and not config.compile
    # bf16 keeps float32's range, so it needs no loss scaling; fp16 on older GPUs does.
    amp_dtype = (torch.bfloat16 if on_cuda and torch.cuda.is_bf16_supported()
                 else torch.float16)
    classes = train_data.classes

    torch.manual_seed(config.seed)
    model, info = build_model(config.arch, len(classes),
                              "none" if resume_state is not None else config.weights)
    if resume_state is not None:
        model.load_state_dict(resume_state["model_state"])
        message = f"resumed from {resume_state['config'].get('weights', '?')} run"
    else:
        message = info.message
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    net = model
    if distributed:
        net = DistributedDataParallel(model, device_ids=[device.index] if on_cuda else None)
    if config.compile and on_cuda:
        net = torch.compile(net)

    sampler = DistributedSampler(range(len(train_data)), num_replicas=world, rank=rank,
                                 shuffle=True, seed=config.seed, drop_last=False)
    batches_per_epoch = math.ceil(len(sampler) / config.batch_size)
    if len(sampler) % config.batch_size == 1 and batches_per_epoch > 1:
        batches_per_epoch -= 1  # a lone last frame joins the previous batch: BatchNorm needs 2
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CyclicLR(
        optimizer, base_lr=config.lr, max_lr=config.max_lr,
        step_size_up=_lr_cycle_steps(config, batches_per_epoch), cycle_momentum=False)
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp and amp_dtype == torch.float16)
    state = TrainState()
    if resume_state is not None:
        saved = resume_state["train_state"]
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        if use_amp and saved.get("scaler"):
            scaler.load_state_dict(saved["scaler"])
        state = TrainState.from_saved(saved)
        state.history, state.sums = list(state.history), list(state.sums)
        if isinstance(saved.get("rng"), torch.Tensor):
            torch.set_rng_state(saved["rng"])
    if state.epoch >= config.epochs:
        raise InputError(f"the run already finished {state.epoch} epochs and epochs is "
                         f"{config.epochs}; raise epochs to train further.")
    loop = Loop(config=config, model=model, net=net, device=device, use_amp=use_amp,
                channels_last=channels_last, amp_dtype=amp_dtype, rank=rank, world=world,
                sampler=sampler,
                batches_per_epoch=batches_per_epoch, optimizer=optimizer, scheduler=scheduler,
                scaler=scaler, augment=BatchAugment(config.flip, config.jitter,
                                                    config.rotation_deg, config.hue, config.zoom),
                classes=classes, image_size=train_data.image_size, weights_message=message,
                weights_source=info.source if resume_state is None else "resume", state=state)
    loop.mark_boundary(state.batch, state.sums)
    return loop


def train_one_epoch(loop: Loop, data: TrainData, epoch: int, clock: tuple[float, int]
                    ) -> Job[list[float]]:
    """One pass over this rank's share of the frames; returns ``[loss*n, correct, seen]``.

    ``clock`` is ``(start time, batches done at start)`` of this run, for the ETA.
    """
    config, state = loop.config, loop.state
    labels_all = torch.as_tensor(data.labels)
    loop.sampler.set_epoch(epoch)
    order = np.fromiter(iter(loop.sampler), dtype=np.int64, count=len(loop.sampler))
    start_batch = state.batch if epoch == state.epoch else 0
    sums = list(state.sums) if start_batch else [0.0, 0, 0]
    loop.optimizer.zero_grad(set_to_none=True)
    loop.net.train()
    n_batches, size = loop.batches_per_epoch, config.batch_size
    batches = [order[b * size:(b + 1) * size if b + 1 < n_batches else None]
               for b in range(start_batch, n_batches)]
    # JPEG frames are decoded ahead of the step (workers, or nvJPEG on CUDA); raw in-process.
    frame_batches = iter_frame_batches(data, batches, loop.device, workers=loop.loader_workers)
    try:
        for b, idx, frames in zip(range(start_batch, n_batches), batches, frame_batches,
                                  strict=True):
            loss_v, lr = _train_step(loop, b, frames, labels_all[idx], sums)
            done = epoch * n_batches + b + 1
            total = config.epochs * n_batches
            elapsed = time.perf_counter() - clock[0]
            eta = elapsed / max(1, done - clock[1]) * (total - done)
            state.steps.add(done, loss_v, lr)
            yield Progress(done, total, f"epoch {epoch + 1}/{config.epochs} loss {loss_v:.3f}",
                           TrainStep(epoch=epoch + 1, step=done, loss=loss_v, lr=lr, eta_s=eta))
    finally:
        frame_batches.close()
    return sums


def _train_step(loop: Loop, b: int, frames: torch.Tensor, labels: torch.Tensor,
                sums: list[float]) -> tuple[float, float]:
    """Forward and backward on batch ``b``; an optimizer step every ``accumulate`` batches.

    Adds to ``sums`` and returns ``(loss, lr)``.

    Shape:
        frames: ``(N, S, S, 3)`` uint8 (CPU, or already on the device); labels: ``(N,)``.
    """
    config, net = loop.config, loop.net
    images = loop.augment(to_images(frames, loop.device, loop.channels_last))
    labels = labels.to(loop.device, non_blocking=True)
    step_now = (b + 1) % config.accumulate == 0 or b + 1 == loop.batches_per_epoch
    sync = net.no_sync() if loop.distributed and not step_now else contextlib.nullcontext()
    with sync:
        with torch.autocast(loop.device.type, dtype=loop.amp_dtype, enabled=loop.use_amp):
            logits = net(images)
            loss = torch.nn.functional.cross_entropy(logits, labels)
        loop.scaler.scale(loss / config.accumulate).backward()
    loss_v = loss.item()
    sums[0] += loss_v * len(labels)
    sums[1] += int((logits.detach().argmax(1) == labels).sum())
    sums[2] += len(labels)
    lr = loop.optimizer.param_groups[0]["lr"]
    if step_now:
        loop.scaler.step(loop.optimizer)
        loop.scaler.update()
        loop.optimizer.zero_grad(set_to_none=True)
        loop.scheduler.step()
        loop.state.opt_step += 1
        loop.mark_boundary(b + 1, sums)
    return loss_v, lr


def validate(loop: Loop, data: TrainData, sums: list[float]) -> Job[dict[str, Any]]:
    """Validation loss/accuracy over this rank's share of the frames, summed over ranks.

    ``sums`` (the epoch's training sums) are reduced along, so every rank gets the same row.
    """
    mine = np.arange(loop.rank, len(data), loop.world)
    probs = yield from predict_frames(loop.model, data.frames,
                                      batch_size=loop.config.batch_size * 2, device=loop.device,
                                      amp=loop.use_amp, channels_last=loop.channels_last,
                                      indices=data.rows[mine])
    loop.net.train()
    labels = torch.as_tensor(data.labels[mine])
    nll = torch.nn.functional.nll_loss(probs.clamp_min(1e-12).log(), labels, reduction="sum")
    stats = torch.tensor([nll.item(), float((probs.argmax(1) == labels).sum()), len(mine),
                          sums[0], sums[1], sums[2]], dtype=torch.float64)
    if loop.distributed:
        stats = stats.to(loop.device)  # NCCL reduces CUDA tensors only
        dist.all_reduce(stats)
        stats = stats.cpu()
    val_loss, val_correct, val_n, tr_loss, tr_correct, tr_n = stats.tolist()
    return {"train_loss": tr_loss / max(tr_n, 1), "train_acc": tr_correct / max(tr_n, 1),
            "val_loss": val_loss / max(val_n, 1), "val_acc": val_correct / max(val_n, 1)}


def _out_dir(loop: Loop, out_dir: str | Path | None, project: Project | None,
             run_id: int | None) -> Path:
    """Rank 0 decides where checkpoints go; the other ranks follow."""
    if out_dir is None and project is not None and run_id is not None:
        out_dir = project.checkpoints_dir / f"train-{run_id}"
    if loop.distributed:
        box = [str(out_dir) if out_dir is not None else None]
        dist.broadcast_object_list(box, src=0)
        out_dir = box[0]
    if out_dir is None:
        raise InputError("out_dir is required without a project; give a folder for last.pt "
                         "and best.pt (e.g. --out runs/demo).")
    return Path(out_dir)


def fit(config: TrainConfig, train_data: TrainData, val_data: TrainData,
        out_dir: str | Path | None, *, project: Project | None = None,
        resume_state: dict[str, Any] | None = None, dataset_root: str = "",
        loader_workers: int | None = None) -> Job[TrainResult]:
    """Train on cached frames (raw or JPEG), validating and checkpointing after each epoch.

    With a project, rank 0 records a ``train`` run whose result (kept on cancel too) holds the
    per-epoch history and the checkpoint paths. ``loader_workers``: DataLoader processes that
    read (and on the CPU decode) batches ahead; None picks 0 for raw frames, 2 for JPEG.
    """
    check_trainable(train_data, val_data)
    loop = setup(config, train_data, resume_state)
    loop.loader_workers = loader_workers
    record_run = loop.rank == 0 and project is not None
    run_ctx = (project.run("train", {**config.to_dict(), "dataset_root": dataset_root,
                                     "resumed": resume_state is not None},
                           name=f"{config.arch} {config.image_size}px")
               if record_run else contextlib.nullcontext())
    with run_ctx as record:
        run_id = record.id if record_run else None
        out = _out_dir(loop, out_dir, project, run_id)
        last_path, best_path, state = out / "last.pt", out / "best.pt", loop.state

        def result(completed: bool) -> TrainResult:
            res = TrainResult(out_dir=out, best_checkpoint=best_path, last_checkpoint=last_path,
                              best_val_acc=state.best_val_acc, best_epoch=state.best_epoch,
                              epochs_done=state.epoch, history=state.history,
                              weights_message=loop.weights_message, completed=completed,
                              run_id=run_id, steps=state.steps)
            if record_run:
                record.result = res.to_dict(project)
            return res

        n = loop.batches_per_epoch
        total, done0 = config.epochs * n, state.epoch * n + state.batch
        clock = (time.perf_counter(), done0)
        result(False)
        yield Progress(done0, total, loop.weights_message, TrainStarted(
            weights=loop.weights_message, weights_source=loop.weights_source,
            device=str(loop.device), out_dir=str(out), run_id=run_id, world_size=loop.world,
            history=state.history, batches_per_epoch=n))
        try:
            for epoch in range(state.epoch, config.epochs):
                t_epoch = time.perf_counter()
                sums = yield from train_one_epoch(loop, train_data, epoch, clock)
                state.epoch, state.batch, state.sums = epoch, n, sums
                row = yield from validate(loop, val_data, sums)
                row.update(epoch=epoch + 1, lr=loop.optimizer.param_groups[0]["lr"],
                           time_s=time.perf_counter() - t_epoch)
                row["best"] = row["val_acc"] > state.best_val_acc
                state.history.append(row)
                state.epoch, state.batch, state.sums = epoch + 1, 0, [0.0, 0, 0]
                loop.mark_boundary(0, state.sums)
                if row["best"]:
                    state.best_val_acc, state.best_epoch = row["val_acc"], epoch + 1
                    loop.save(best_path, None)
                loop.save(last_path, loop.train_state(state.epoch, 0, [0.0, 0, 0],
                                                      loop.boundary["rng"]))
                result(False)
                if loop.distributed:
                    dist.barrier()
                yield Progress(state.epoch * n, total,
                               f"epoch {epoch + 1}: val acc {row['val_acc']:.1%}",
                               EpochDone(row=row, best_epoch=state.best_epoch,
                                         best_val_acc=state.best_val_acc))
        except GeneratorExit:
            # Cancelled between two batches: keep a resumable state at the last optimizer step.
            b = loop.boundary
            loop.save(last_path, loop.train_state(state.epoch, b["batch"], b["sums"], b["rng"]))
            raise
        return result(True)
