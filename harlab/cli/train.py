"""``harlab train`` and ``harlab evaluate``: fine-tune ResNet-18 and score it on a test split.

``harlab train`` also runs under ``torchrun --nproc_per_node=N`` (DistributedDataParallel):
every rank trains on its share, rank 0 shows the bar, writes checkpoints and the project run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

from harlab.errors import InputError
from harlab.jobs import Progress, run_cli

# (flag, TrainConfig field, type, help)
_OVERRIDES = [
    ("--arch", "arch", str, "model architecture (resnet18, resnet34, resnet50, ...)"),
    ("--weights", "weights", str, "auto (ImageNet if cached, else scratch), imagenet, none, "
                                  "or a weights file"),
    ("--image-size", "image_size", int, "input size in pixels (paper: 224)"),
    ("--frames-per-video", "frames_per_video", int, "frames sampled per video (paper: 50)"),
    ("--epochs", "epochs", int, "epochs (paper: 50)"),
    ("--batch-size", "batch_size", int, "frames per batch, per process"),
    ("--lr", "lr", float, "AdamW / cyclic lower learning rate (paper: 1e-4)"),
    ("--max-lr", "max_lr", float, "cyclic upper learning rate (paper: 1e-3)"),
    ("--weight-decay", "weight_decay", float, "AdamW weight decay (paper: 0.01)"),
    ("--accumulate", "accumulate", int, "batches per optimizer step (paper: 4)"),
    ("--lr-cycle-steps", "lr_cycle_steps", int, "optimizer steps per half LR cycle (0: auto)"),
    ("--jitter", "jitter", float, "colour-jitter strength"),
    ("--hue", "hue", float, "hue jitter, share of the colour circle (0.5: any hue)"),
    ("--rotation-deg", "rotation_deg", float, "random rotation range in degrees"),
    ("--zoom", "zoom", float, "random zoom/shift share (not in the paper: 0)"),
    ("--val-fraction", "val_fraction", float, "share of training groups held out"),
    ("--fold", "fold", int, "UCF-101 split 1-3"),
    ("--seed", "seed", int, "random seed"),
    ("--device", "device", str, "auto, cpu, cuda or cuda:N"),
]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="fine-tune a classifier (ResNet-18) with the paper's recipe",
                       description="Fine-tune on a UCF-101-layout dataset. Defaults are the "
                                   "paper's recipe; --preset demo is the fast CPU preset. Also "
                                   "runs under torchrun --nproc_per_node=N (DDP).")
    _add_dataset_args(p)
    p.add_argument("--preset", choices=("paper", "demo"), default=None,
                   help="starting recipe (default: demo with --demo, else paper)")
    p.add_argument("--project", help="project folder: records the run, checkpoints go inside")
    p.add_argument("--out", help="folder for last.pt/best.pt (default: inside the project)")
    p.add_argument("--resume", help="a last.pt (or its folder) to continue from")
    p.add_argument("--evaluate", action="store_true",
                   help="evaluate best.pt on the test split afterwards")
    for flag, name, typ, help_ in _OVERRIDES:
        p.add_argument(flag, dest=name, type=typ, default=None, help=help_)
    p.add_argument("--no-flip", dest="flip", action="store_false", default=None,
                   help="no random horizontal flips")
    p.add_argument("--no-amp", dest="amp", action="store_false", default=None,
                   help="no mixed precision on CUDA (default: bf16 where supported, else fp16)")
    p.add_argument("--compile", dest="compile", action="store_true", default=None,
                   help="torch.compile the model (CUDA; slower first steps, faster after)")
    p.set_defaults(func=_cmd_train)

    e = sub.add_parser("evaluate", help="test a checkpoint: top-1/top-5, per class, confusion")
    e.add_argument("checkpoint", help="a best.pt or last.pt from harlab train")
    _add_dataset_args(e)
    e.add_argument("--fold", type=int, default=1, help="UCF-101 split 1-3 (default 1)")
    e.add_argument("--project", help="project folder to record the evaluation in")
    e.add_argument("--batch-size", type=int, default=64)
    e.add_argument("--device", default="auto")
    e.add_argument("--frames-per-video", type=int, default=None,
                   help="frames per test video (default: as trained)")
    e.add_argument("--json", help="also write the metrics to this JSON file")
    e.set_defaults(func=_cmd_evaluate)


def _add_dataset_args(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--dataset", help="folder holding UCF-101/ and ucfTrainTestlist/")
    group.add_argument("--demo", action="store_true", help="use the bundled demo dataset")


def _dataset_root(args: argparse.Namespace) -> Path:
    if args.demo:
        from harlab.data.demo_data import ensure_demo_dataset_job

        return run_cli(ensure_demo_dataset_job(), "demo data")
    return Path(args.dataset)


def config_from_args(args: argparse.Namespace):
    """The TrainConfig an ``harlab train`` command line asks for."""
    from harlab.train.config import TrainConfig

    overrides = {name: getattr(args, name) for _, name, _, _ in _OVERRIDES
                 if getattr(args, name, None) is not None}
    for name in ("flip", "amp", "compile"):
        if getattr(args, name, None) is not None:
            overrides[name] = getattr(args, name)
    preset = args.preset or ("demo" if args.demo else "paper")
    return TrainConfig.demo(**overrides) if preset == "demo" else TrainConfig.paper(**overrides)


def _narrate(job: Generator[Progress, None, Any], bar_shown: bool):
    """Pass steps through, printing the weights notice and one line per epoch."""
    from tqdm import tqdm

    from harlab.train.fit import EpochDone, TrainStarted

    try:
        while True:
            try:
                step = next(job)
            except StopIteration as stop:
                return stop.value
            data = step.data
            if bar_shown and isinstance(data, TrainStarted):
                tqdm.write(f"{data.weights}\ndevice {data.device}, {data.world_size} "
                           f"process(es); checkpoints in {data.out_dir}", file=sys.stderr)
            elif bar_shown and isinstance(data, EpochDone):
                r = data.row
                tqdm.write(f"epoch {r['epoch']:>3}  train loss {r['train_loss']:.4f} acc "
                           f"{r['train_acc']:.1%}  val loss {r['val_loss']:.4f} acc "
                           f"{r['val_acc']:.1%}  lr {r['lr']:.2e}  {r['time_s']:.1f}s"
                           + ("  *best" if r["best"] else ""), file=sys.stderr)
            yield step
    finally:
        job.close()


def _cmd_train(args: argparse.Namespace) -> int:
    from harlab import stages
    from harlab.store import Project
    from harlab.train.evaluate import EvalConfig
    from harlab.train.fit import distributed_env, init_distributed

    config = config_from_args(args)
    if args.project is None and args.out is None and args.resume is None:
        raise InputError("harlab train needs --project or --out (where best.pt and last.pt "
                         "go); e.g. --out runs/demo")
    rank, world, _ = distributed_env()
    distributed = world > 1 and init_distributed(config.device)
    project = None
    try:
        if distributed:
            import torch.distributed as dist

            if rank != 0:
                dist.barrier()  # rank 0 generates the demo data (if asked) first
            root = _dataset_root(args)
            if rank == 0:
                dist.barrier()
        else:
            root = _dataset_root(args)
        project = Project.open_or_create(args.project) if args.project and rank == 0 else None
        show = rank == 0
        job = _narrate(stages.train(project, config, root, out_dir=args.out,
                                    resume=args.resume), show)
        result = run_cli(job, "train", disable=None if show else True)
        if show:
            print(f"best val acc {result.best_val_acc:.1%} at epoch {result.best_epoch} of "
                  f"{result.epochs_done}; best checkpoint {result.best_checkpoint}")
        if args.evaluate and show:
            ev = run_cli(stages.evaluate(project, EvalConfig(
                str(result.best_checkpoint), str(root), config.fold, device=config.device)),
                "evaluate")
            print(f"test: {ev.summary()}")
    finally:
        if project is not None:
            project.close()
        if distributed:
            import torch.distributed as dist

            dist.destroy_process_group()
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from harlab import stages
    from harlab.store import Project
    from harlab.train.evaluate import EvalConfig

    root = _dataset_root(args)
    config = EvalConfig(args.checkpoint, str(root), args.fold, batch_size=args.batch_size,
                        device=args.device, frames_per_video=args.frames_per_video)
    project = Project.open(args.project) if args.project else None
    try:
        result = run_cli(stages.evaluate(project, config), "evaluate")
    finally:
        if project is not None:
            project.close()
    print(result.summary())
    width = max(len(c) for c in result.classes)
    for name, acc in result.per_class_acc.items():
        print(f"  {name:<{width}}  {acc:6.1%}")
    print("confusion (rows: true, columns: predicted):")
    for name, row in zip(result.classes, result.confusion, strict=True):
        print(f"  {name:<{width}}  " + " ".join(f"{v:4d}" for v in row))
    if args.json:
        Path(args.json).write_text(json.dumps(result.to_dict(), indent=2), encoding="utf-8")
    return 0
