"""FGSM throughput against the physical limit: one bare forward + backward of the same batch.

FGSM is one forward pass, one backward pass to the input, and three cheap element-wise ops
(sign, add, clamp) plus input checks. Baselines on the same model and batch, same process:

* ``fwd+grad(x)``: forward, cross-entropy, ``autograd.grad`` to the input only (the method's
  minimum: what FGSM must compute);
* ``fwd+backward()``: forward, cross-entropy, ``loss.backward()`` with parameter gradients too
  (a training step without the optimizer).

Also compares attacking a video's 5 keyframes per call against batching many videos' keyframes.
Issue #5 threshold: FGSM throughput >= 0.95x the bare forward+backward.

    .venv/bin/python benchmarks/bench_attack.py [--device auto] [--batch 32] [--size 224]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from harlab.attacks import fgsm
from harlab.device import describe_device, resolve_device
from harlab.train.models import build_model

THRESHOLD = 0.95


def timed(fn, device: torch.device, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch", type=int, default=None, help="frames per pass (default: 16 on "
                                                             "CPU, 256 on CUDA)")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--classes", type=int, default=101)
    args = ap.parse_args()
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    batch = args.batch or (256 if cuda else 16)
    repeats = args.repeats or (20 if cuda else 5)
    if cuda:
        torch.backends.cudnn.benchmark = True

    model, _ = build_model("resnet18", args.classes, weights="none")
    model.to(device).eval()
    g = torch.Generator().manual_seed(0)
    images = torch.rand(batch, 3, args.size, args.size, generator=g).to(device)
    labels = torch.randint(0, args.classes, (batch,), generator=g).to(device)

    def bare_input_grad():
        x = images.detach().requires_grad_(True)
        loss = F.cross_entropy(model(x), labels, reduction="sum")
        torch.autograd.grad(loss, x)

    def bare_backward():
        x = images.detach().requires_grad_(True)
        F.cross_entropy(model(x), labels, reduction="sum").backward()
        model.zero_grad(set_to_none=True)

    def attack():
        fgsm(model, images, labels, 8 / 255)

    k = 5
    per_video = [(images[i:i + k], labels[i:i + k]) for i in range(0, batch - k + 1, k)]

    def attack_per_video():
        for x, y in per_video:
            fgsm(model, x, y, 8 / 255)

    cases = {"fwd+grad(x)": bare_input_grad, "fwd+backward()": bare_backward, "fgsm": attack,
             "fgsm, 5 frames/call": attack_per_video}
    for fn in cases.values():  # warm-up (cudnn autotune, allocator)
        fn()
        fn()
    results: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):  # interleave so drift hits every case alike
        for name, fn in cases.items():
            results[name] += timed(fn, device, 1)
    frames = {name: batch for name in cases}
    frames["fgsm, 5 frames/call"] = k * len(per_video)
    tput = {name: frames[name] / statistics.median(t) for name, t in results.items()}

    print(f"device: {describe_device(args.device)}; resnet18({args.classes}) at "
          f"{args.size}px, batch {batch}, median of {repeats}")
    for name, value in tput.items():
        median_ms = statistics.median(results[name]) * 1e3
        print(f"  {name:<22} {value:9.1f} frames/s   (median {median_ms:8.1f} ms)")
    r_min = tput["fgsm"] / tput["fwd+grad(x)"]
    r_bwd = tput["fgsm"] / tput["fwd+backward()"]
    r_batch = tput["fgsm"] / tput["fgsm, 5 frames/call"]
    print(f"FGSM / bare fwd+grad(x):    {r_min:.3f}x  (threshold >= {THRESHOLD}) "
          f"{'PASS' if r_min >= THRESHOLD else 'FAIL'}")
    print(f"FGSM / bare fwd+backward(): {r_bwd:.3f}x  (threshold >= {THRESHOLD}) "
          f"{'PASS' if r_bwd >= THRESHOLD else 'FAIL'}")
    print(f"batched keyframes / 5 per call: {r_batch:.2f}x")


if __name__ == "__main__":
    main()
