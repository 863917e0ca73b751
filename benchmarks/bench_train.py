"""Training-step throughput: HARLab's loop vs a bare PyTorch loop, same model/batch/optimizer.

The bare loop feeds ready float tensors to ``NormalizedClassifier(resnet18)`` with AdamW. The
HARLab path is :func:`harlab.train.fit.fit` on uint8 frames: gathering, conversion, per-sample
augmentation (flip, jitter, hue, rotation), the cyclic schedule, loss bookkeeping and one
``Progress`` per batch. The issue asks for >= 0.9x (harness + augmentation <= 10%). Steps of the
two alternate (one bare step, one HARLab step, ...), so other load on a shared machine hits
both alike; validation and checkpoint writing happen once per epoch and are not timed.

    .venv/bin/python benchmarks/bench_train.py [--size 112] [--batch 32] [--steps 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch

from harlab.device import resolve_device
from harlab.train.config import TrainConfig
from harlab.train.data import TrainData
from harlab.train.fit import fit
from harlab.train.models import build_model

THRESHOLD = 0.9


class BareLoop:
    """The plainest loop: ready float batches, forward, backward, AdamW step."""

    def __init__(self, size: int, batch: int, device: torch.device):
        torch.manual_seed(0)
        self.model, _ = build_model("resnet18", 8, "none")
        self.model.to(device).train()
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-4, weight_decay=0.01)
        self.xs = [torch.rand(batch, 3, size, size, device=device) for _ in range(4)]
        self.ys = [torch.randint(0, 8, (batch,), device=device) for _ in range(4)]
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.device = device
        self.i = 0

    def step(self) -> None:
        x, y = self.xs[self.i % 4], self.ys[self.i % 4]
        self.i += 1
        loss = self.loss_fn(self.model(x), y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        loss.item()  # the HARLab loop reads the loss every step too


def harlab_job(size: int, batch: int, steps: int, device: str):
    """fit() on random uint8 frames, one epoch of ``steps`` batches plus one validation batch."""
    rng = np.random.default_rng(0)
    n_train = batch * steps
    n = n_train + batch
    frames = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    labels = np.arange(n) % 8
    groups = np.where(np.arange(n) < n_train, 1 + np.arange(n) % 4, 9)
    data = TrainData(frames, labels, np.arange(n) // 4, groups, [f"c{i}" for i in range(8)])
    config = TrainConfig(image_size=size, epochs=1, batch_size=batch, accumulate=1,
                         weights="none", device=device, lr_cycle_steps=10)
    out = tempfile.mkdtemp()
    return fit(config, data.subset(groups < 9), data.subset(groups == 9), out)


def next_step(job) -> None:
    """Advance the job to its next training-step Progress."""
    while True:
        step = next(job)
        if type(step.data).__name__ == "TrainStep":
            return


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    print(f"device {device}, {torch.get_num_threads()} threads, resnet18 {args.size}px, "
          f"batch {args.batch}, {args.steps} timed steps each, interleaved")
    bare = BareLoop(args.size, args.batch, device)
    job = harlab_job(args.size, args.batch, args.warmup + args.steps, args.device)
    for _ in range(args.warmup):
        bare.step()
        next_step(job)
    base_s, ours_s = [], []
    for _ in range(args.steps):  # alternate, so other load on the machine hits both alike
        sync(device)
        t0 = time.perf_counter()
        bare.step()
        sync(device)
        t1 = time.perf_counter()
        next_step(job)
        sync(device)
        t2 = time.perf_counter()
        base_s.append(t1 - t0)
        ours_s.append(t2 - t1)
    job.close()
    ratio_sum = sum(base_s) / sum(ours_s)
    ratio_median = float(np.median(np.array(base_s) / np.array(ours_s)))
    print(f"bare PyTorch loop : {len(base_s) / sum(base_s):.3f} steps/s")
    print(f"HARLab fit()      : {len(ours_s) / sum(ours_s):.3f} steps/s")
    print(f"ratio             : {ratio_sum:.3f}x overall, median of paired steps "
          f"{ratio_median:.3f}x  (threshold >= {THRESHOLD}x: "
          f"{'PASS' if ratio_sum >= THRESHOLD else 'FAIL'})")


if __name__ == "__main__":
    main()
