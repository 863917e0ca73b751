"""The training loop behind :func:`harlab.training.train`: augmentation, steps, checkpoints.

Kept apart from ``training.py`` (config, data, entry point) so each stays readable. The loop is
a plain generator: one :class:`~harlab.jobs.Progress` per batch, whose ``data`` carries live
metrics for the GUI's curves. Closing the generator (Cancel, Ctrl-C) writes a resumable
``last.pt`` at the last optimizer step before re-raising.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harlab.errors import CheckpointError, InputError
from harlab.jobs import Job, Progress

if TYPE_CHECKING:
    import torch

    from harlab.store import Project
    from harlab.training import TrainConfig, TrainData, TrainResult

log = logging.getLogger(__name__)


class BatchAugment:
    """Per-sample random flip, colour jitter and rotation on a whole batch at once.

    torchvision's v2 transforms draw one set of random parameters per call, i.e. per batch;
    here every image gets its own draw, vectorised, on the batch's device. Flip and rotation
    share one ``grid_sample`` with the optional zoom/shift; hue is a rotation in YIQ space (a
    3x3 matrix per image).

    Shape:
        images: ``(N, 3, H, W)`` float in ``[0, 1]``; returns the same shape, clamped.
    """

    def __init__(self, flip: bool = True, jitter: float = 0.2, rotation_deg: float = 10.0,
                 hue: float = 0.05, zoom: float = 0.0):
        self.flip, self.jitter, self.rotation_deg = flip, jitter, rotation_deg
        self.hue, self.zoom = hue, zoom

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        import torch
        import torch.nn.functional as F

        n, dev = images.shape[0], images.device
        x = images
        if self.jitter > 0 or self.hue > 0:
            # Brightness, contrast, saturation and hue are all affine in RGB, so they fold
            # into one 3x3 matrix and one offset per image: a single pass over the pixels.
            j = self.jitter
            r = torch.rand(n, 4, device=dev) * 2 - 1  # in [-1, 1)
            b, c, s = 1 + j * r[:, 0], 1 + j * r[:, 1], 1 + j * r[:, 2]
            w = torch.tensor([0.299, 0.587, 0.114], device=dev)
            mean_gray = torch.einsum("c,nchw->n", w, x) / (x.shape[2] * x.shape[3])
            eye = torch.eye(3, device=dev).expand(n, 3, 3)
            sat = s.view(n, 1, 1) * eye + (1 - s).view(n, 1, 1) * w.view(1, 1, 3)
            mat = sat * (c * b).view(n, 1, 1)
            if self.hue > 0:
                mat = self._hue_matrix(r[:, 3] * self.hue * 2 * math.pi) @ mat
            offset = ((1 - c) * b * mean_gray).view(n, 1, 1, 1)  # gray stays gray under mat
            x = torch.einsum("nij,njhw->nihw", mat, x) + offset
        if self.rotation_deg > 0 or self.zoom > 0:
            u = torch.rand(n, 5, device=dev) * 2 - 1  # in [-1, 1)
            angle = u[:, 0] * math.radians(self.rotation_deg)
            sign = torch.where(u[:, 1] < 0, -1.0, 1.0) if self.flip else torch.ones(n, device=dev)
            scale = 1 + self.zoom * u[:, 2]  # output samples a window `scale` times the image
            shift_x, shift_y = self.zoom * u[:, 3], self.zoom * u[:, 4]
            cos, sin = angle.cos() * scale, angle.sin() * scale
            theta = torch.stack([torch.stack([cos * sign, -sin, shift_x], 1),
                                 torch.stack([sin * sign, cos, shift_y], 1)], 1)
            grid = F.affine_grid(theta, list(x.shape), align_corners=False)
            x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros",
                              align_corners=False)
        elif self.flip:
            mask = (torch.rand(n, device=dev) < 0.5).view(n, 1, 1, 1)
            x = torch.where(mask, x.flip(-1), x)
        return x.clamp_(0, 1) if x is not images else x.clone()

    @staticmethod
    def _hue_matrix(angle: torch.Tensor) -> torch.Tensor:
        """Per-image RGB matrices rotating hue by ``angle`` radians (in YIQ space)."""
        import torch

        to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322],
                               [0.211, -0.523, 0.312]], device=angle.device)
        cos, sin = angle.cos(), angle.sin()
        rot = torch.zeros(len(angle), 3, 3, device=angle.device)
        rot[:, 0, 0] = 1
        rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = cos, -sin, sin, cos
        return torch.linalg.inv(to_yiq) @ rot @ to_yiq  # (N, 3, 3)

    @classmethod
    def _hue(cls, x: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
        import torch

        return torch.einsum("nij,njhw->nihw", cls._hue_matrix(angle), x)


def read_resume_state(path: Path) -> dict[str, Any]:
    """A checkpoint that holds training state; raises :class:`CheckpointError` otherwise."""
    from harlab.checkpoint import read_checkpoint

    data = read_checkpoint(path)
    if not isinstance(data.get("train_state"), dict):
        raise CheckpointError(f"checkpoint {str(path)!r} holds weights only, no training "
                              "state to resume; resume from the run's last.pt (best.pt is for "
                              "evaluation), or start a new run with it as the weights file.")
    return data


def _lr_cycle_steps(config: TrainConfig, batches_per_epoch: int) -> int:
    if config.lr_cycle_steps:
        return config.lr_cycle_steps
    return max(1, math.ceil(batches_per_epoch / config.accumulate) // 2)


def fit(config: TrainConfig, train_data: TrainData, val_data: TrainData,
        out_dir: str | Path | None, *, project: Project | None = None,
        resume_state: dict[str, Any] | None = None, dataset_root: str = ""
        ) -> Job[TrainResult]:
    """Train on in-memory frames, validating each epoch; see :func:`harlab.training.train`."""
    import numpy as np
    import torch
    import torch.distributed as dist
    from torch.utils.data import DistributedSampler

    from harlab.checkpoint import save_checkpoint
    from harlab.device import resolve_device
    from harlab.evaluation import predict_frames, to_images
    from harlab.models import build_model
    from harlab.training import TrainResult, check_trainable

    check_trainable(train_data, val_data)
    distributed = dist.is_available() and dist.is_initialized()
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    device = resolve_device(config.device)
    if device.type == "cuda" and distributed:
        device = torch.device("cuda", torch.cuda.current_device())
    on_cuda = device.type == "cuda"
    use_amp, channels_last = config.amp and on_cuda, config.channels_last and on_cuda
    classes = train_data.classes

    torch.manual_seed(config.seed)
    weights = "none" if resume_state is not None else config.weights
    model, info = build_model(config.arch, len(classes), weights)
    if resume_state is not None:
        model.load_state_dict(resume_state["model_state"])
        info_message = f"resumed from {resume_state['config'].get('weights', '?')} run"
    else:
        info_message = info.message
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    net = model
    if distributed:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if on_cuda else None)

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
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
    augment = BatchAugment(config.flip, config.jitter, config.rotation_deg, config.hue,
                           config.zoom)
    loss_fn = torch.nn.CrossEntropyLoss()
    labels_all = torch.as_tensor(train_data.labels)

    ts = dict(epoch=0, batch=0, opt_step=0, best_val_acc=-1.0, best_epoch=0, history=[],
              sums=[0.0, 0, 0])
    if resume_state is not None:
        saved = resume_state["train_state"]
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        if use_amp and saved.get("scaler"):
            scaler.load_state_dict(saved["scaler"])
        ts.update({k: saved[k] for k in ("epoch", "batch", "opt_step", "best_val_acc",
                                         "best_epoch", "history", "sums")})
        if isinstance(saved.get("rng"), torch.Tensor):
            torch.set_rng_state(saved["rng"])
        ts["history"] = list(ts["history"])
        ts["sums"] = list(ts["sums"])
    if ts["epoch"] >= config.epochs:
        raise InputError(f"the run already finished {ts['epoch']} epochs and epochs is "
                         f"{config.epochs}; raise epochs to train further.")

    # Output folder and project run: rank 0 decides, the others follow.
    run_id = None
    if rank == 0 and project is not None:
        run_id = project.start_run("train", {**config.to_dict(), "dataset_root": dataset_root,
                                             "resumed": resume_state is not None},
                                   name=f"{config.arch} {config.image_size}px")
        if out_dir is None:
            out_dir = project.checkpoints_dir / f"train-{run_id}"
    if distributed:
        box = [str(out_dir) if out_dir is not None else None]
        dist.broadcast_object_list(box, src=0)
        out_dir = box[0]
    if out_dir is None:
        raise InputError("out_dir is required without a project; give a folder for last.pt "
                         "and best.pt (e.g. --out runs/demo).")
    out_dir = Path(out_dir)
    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"
    image_size = train_data.image_size

    # The state at the last optimizer step: what a cancel saves (partial gradients are lost).
    boundary = {"batch": ts["batch"], "sums": list(ts["sums"]), "rng": torch.get_rng_state()}

    def train_state(epoch: int, batch: int, sums: list, rng: torch.Tensor) -> dict[str, Any]:
        return {"epoch": epoch, "batch": batch, "opt_step": ts["opt_step"],
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict() if use_amp else {},
                "best_val_acc": ts["best_val_acc"], "best_epoch": ts["best_epoch"],
                "history": ts["history"], "sums": sums, "rng": rng}

    def metrics() -> dict[str, Any]:
        return {"best_val_acc": ts["best_val_acc"], "best_epoch": ts["best_epoch"],
                "epochs_done": ts["epoch"], "history": ts["history"]}

    def save(path: Path, state: dict[str, Any] | None) -> None:
        if rank == 0:
            save_checkpoint(path, model=model, classes=classes, image_size=image_size,
                            config=config.to_dict(), metrics=metrics(), train_state=state)

    def result(completed: bool) -> TrainResult:
        return TrainResult(out_dir=out_dir, best_checkpoint=best_path, last_checkpoint=last_path,
                           best_val_acc=ts["best_val_acc"], best_epoch=ts["best_epoch"],
                           epochs_done=ts["epoch"], history=ts["history"],
                           weights_message=info_message, completed=completed, run_id=run_id)

    total = config.epochs * batches_per_epoch
    done0 = ts["epoch"] * batches_per_epoch + ts["batch"]
    t_start = time.perf_counter()
    yield Progress(done0, total, info_message,
                   {"kind": "start", "weights": info_message, "weights_source": info.source
                    if resume_state is None else "resume", "device": str(device),
                    "out_dir": str(out_dir), "run_id": run_id, "world_size": world,
                    "history": ts["history"], "batches_per_epoch": batches_per_epoch})
    net.train()
    try:
        for epoch in range(ts["epoch"], config.epochs):
            t_epoch = time.perf_counter()
            sampler.set_epoch(epoch)
            order = np.fromiter(iter(sampler), dtype=np.int64, count=len(sampler))
            start_batch = ts["batch"] if epoch == ts["epoch"] else 0
            sums = ts["sums"] if start_batch else [0.0, 0, 0]  # loss*n, correct, seen
            optimizer.zero_grad(set_to_none=True)
            for b in range(start_batch, batches_per_epoch):
                end = (b + 1) * config.batch_size if b + 1 < batches_per_epoch else None
                idx = order[b * config.batch_size:end]
                images = augment(to_images(train_data.take(idx), device, channels_last))
                labels = labels_all[idx].to(device, non_blocking=True)
                step_now = (b + 1) % config.accumulate == 0 or b + 1 == batches_per_epoch
                sync = net.no_sync() if distributed and not step_now else _nullcontext()
                with sync:
                    with torch.autocast(device.type, enabled=use_amp):
                        logits = net(images)
                        loss = loss_fn(logits, labels)
                    scaler.scale(loss / config.accumulate).backward()
                loss_v = loss.item()
                sums[0] += loss_v * len(idx)
                sums[1] += int((logits.detach().argmax(1) == labels).sum())
                sums[2] += len(idx)
                lr = optimizer.param_groups[0]["lr"]
                if step_now:
                    scaler.step(optimizer)
                    scaler.update()
                    optimizer.zero_grad(set_to_none=True)
                    scheduler.step()
                    ts["opt_step"] += 1
                    boundary = {"batch": b + 1, "sums": list(sums), "rng": torch.get_rng_state()}
                done = epoch * batches_per_epoch + b + 1
                elapsed = time.perf_counter() - t_start
                eta = elapsed / max(1, done - done0) * (total - done)
                yield Progress(done, total, f"epoch {epoch + 1}/{config.epochs} loss {loss_v:.3f}",
                               {"kind": "step", "epoch": epoch + 1, "step": done, "loss": loss_v,
                                "lr": lr, "eta_s": eta})
            ts["epoch"], ts["batch"], ts["sums"] = epoch, batches_per_epoch, sums
            row = yield from _validate(net, model, val_data, config, device, use_amp,
                                       channels_last, sums, rank, world, predict_frames)
            row.update(epoch=epoch + 1, lr=optimizer.param_groups[0]["lr"],
                       time_s=time.perf_counter() - t_epoch)
            row["best"] = row["val_acc"] > ts["best_val_acc"]
            ts["history"].append(row)
            ts["epoch"], ts["batch"], ts["sums"] = epoch + 1, 0, [0.0, 0, 0]
            boundary = {"batch": 0, "sums": [0.0, 0, 0], "rng": torch.get_rng_state()}
            if row["best"]:
                ts["best_val_acc"], ts["best_epoch"] = row["val_acc"], epoch + 1
                save(best_path, None)
            save(last_path, train_state(ts["epoch"], 0, [0.0, 0, 0], boundary["rng"]))
            if distributed:
                dist.barrier()
            yield Progress(ts["epoch"] * batches_per_epoch, total,
                           f"epoch {epoch + 1}: val acc {row['val_acc']:.1%}",
                           {"kind": "epoch", "row": row, "best_epoch": ts["best_epoch"],
                            "best_val_acc": ts["best_val_acc"]})
    except GeneratorExit:
        # Cancelled between two batches: keep a resumable state at the last optimizer step.
        save(last_path, train_state(ts["epoch"], boundary["batch"], boundary["sums"],
                                    boundary["rng"]))
        if rank == 0 and project is not None and run_id is not None:
            project.finish_run(run_id, "cancelled", result(False).to_dict(project))
        raise
    except BaseException as exc:
        if rank == 0 and project is not None and run_id is not None:
            project.finish_run(run_id, "failed", error=f"{type(exc).__name__}: {exc}")
        raise
    final = result(True)
    if rank == 0 and project is not None and run_id is not None:
        project.finish_run(run_id, "done", final.to_dict(project))
    return final


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _validate(net, model, val_data, config, device, use_amp, channels_last, sums, rank, world,
              predict_frames) -> Job[dict[str, Any]]:
    """Validation loss/accuracy over this rank's share of the frames, summed over ranks."""
    import numpy as np
    import torch
    import torch.distributed as dist

    mine = np.arange(rank, len(val_data), world)
    probs = yield from predict_frames(model, val_data.frames, batch_size=config.batch_size * 2,
                                      device=device, amp=use_amp, channels_last=channels_last,
                                      indices=val_data.rows[mine])
    net.train()
    labels = torch.as_tensor(val_data.labels[mine])
    nll = torch.nn.functional.nll_loss(probs.clamp_min(1e-12).log(), labels, reduction="sum")
    stats = torch.tensor([nll.item(), float((probs.argmax(1) == labels).sum()), len(mine),
                          sums[0], sums[1], sums[2]], dtype=torch.float64)
    if world > 1:
        stats = stats.to(device)  # NCCL reduces CUDA tensors only
        dist.all_reduce(stats)
        stats = stats.cpu()
    val_loss, val_correct, val_n, tr_loss, tr_correct, tr_n = stats.tolist()
    return {"train_loss": tr_loss / max(tr_n, 1), "train_acc": tr_correct / max(tr_n, 1),
            "val_loss": val_loss / max(val_n, 1), "val_acc": val_correct / max(val_n, 1)}
