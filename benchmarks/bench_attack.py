"""FGSM throughput against the physical limit: one bare forward + backward of the same batch.

FGSM is one forward pass, one backward pass to the input, and three cheap element-wise ops
(sign, add, clamp) plus input checks. Baselines on the same model and batch, same process:

* ``fwd+grad(x)``: forward, cross-entropy, ``autograd.grad`` to the input only (the method's
  minimum: what FGSM must compute);
* ``fwd+backward()``: forward, cross-entropy, ``loss.backward()`` with parameter gradients too
  (a training step without the optimizer).

Also compares attacking a video's 5 keyframes per call against batching many videos' keyframes.
Issue #5 threshold: FGSM throughput >= 0.95x the bare forward+backward.

Issue #22 (``--iterative``): each iterative attack's time per step against one bare forward +
backward of the same batch (threshold <= 1.1x; APGD's clean forward and start are counted in
its steps), and Square's queries per second against bare forwards (``torch.no_grad()``;
threshold >= 0.9x). Square runs targeted at random classes with a tiny eps so that no image
drops out and the batch stays full.

    .venv/bin/python benchmarks/bench_attack.py [--device auto] [--batch 32] [--size 224]
    .venv/bin/python benchmarks/bench_attack.py --iterative [--steps 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from harlab.attacks import AttackStats, apgd, apgd_t, bim, cw_l2, fgsm, mifgsm, pgd, square
from harlab.device import describe_device, resolve_device
from harlab.train.models import build_model

THRESHOLD = 0.95
STEP_THRESHOLD = 1.1
QUERY_THRESHOLD = 0.9


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
    ap.add_argument("--iterative", action="store_true",
                    help="time per step of the iterative attacks and Square's queries/s")
    ap.add_argument("--steps", type=int, default=20, help="steps per iterative attack")
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

    if args.iterative:
        iterative(model, images, labels, device, args, repeats)
        return

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


def iterative(model, images, labels, device, args, repeats) -> None:
    """Per-step cost of every iterative attack, and Square's query rate, against bare passes."""
    steps, eps = args.steps, 8 / 255
    batch = images.shape[0]

    def bare_backward():
        x = images.detach().requires_grad_(True)
        F.cross_entropy(model(x), labels, reduction="sum").backward()
        model.zero_grad(set_to_none=True)

    def bare_forward():
        with torch.no_grad():
            model(images)

    def bare_input_grad():
        x = images.detach().requires_grad_(True)
        torch.autograd.grad(F.cross_entropy(model(x), labels, reduction="sum"), x)

    g = torch.Generator(device=device).manual_seed(1)
    targets = torch.randint(0, args.classes, (batch,), generator=g, device=device)
    square_stats = AttackStats()
    n_queries = max(steps, 2)
    cases = {
        "fwd+backward()": (bare_backward, 1),
        "fwd+grad(x)": (bare_input_grad, 1),
        "fwd (no_grad)": (bare_forward, 1),
        "bim": (lambda: bim(model, images, labels, eps, steps=steps), steps),
        "pgd": (lambda: pgd(model, images, labels, eps, steps=steps), steps),
        "mifgsm": (lambda: mifgsm(model, images, labels, eps, steps=steps), steps),
        "apgd": (lambda: apgd(model, images, labels, eps, steps=steps), steps),
        "apgd_t (1 target)": (lambda: apgd_t(model, images, labels, eps, steps=steps,
                                             n_target_classes=1), steps),
        "cw_l2 (1 search)": (lambda: cw_l2(model, images, labels, 1.0, steps=steps,
                                           search_steps=1), steps),
        "square (queries)": (lambda: square(model, images, targets, 0.1 / 255,
                                            n_queries=n_queries, targeted=True,
                                            stats=square_stats), n_queries),
    }
    for fn, _ in cases.values():  # warm-up
        fn()
    results: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(max(repeats // 4, 3)):
        for name, (fn, _) in cases.items():
            results[name] += timed(fn, device, 1)
    per_step = {name: statistics.median(results[name]) / n for name, (_, n) in cases.items()}
    base_bwd, base_fwd = per_step["fwd+backward()"], per_step["fwd (no_grad)"]
    print(f"device: {describe_device(args.device)}; resnet18({args.classes}) at {args.size}px, "
          f"batch {batch}, {steps} steps, median of {len(results['pgd'])}")
    for name, value in per_step.items():
        if name.startswith(("fwd", "square")):
            continue
        ratio = value / base_bwd
        print(f"  {name:<20} {value * 1e3:8.2f} ms/step = {ratio:.3f}x fwd+backward() "
              f"(threshold <= {STEP_THRESHOLD}) {'PASS' if ratio <= STEP_THRESHOLD else 'FAIL'}"
              f"; {value / per_step['fwd+grad(x)']:.3f}x fwd+grad(x)")
    used = int(square_stats.queries.sum())
    full = used == batch * n_queries
    rate = used / (statistics.median(results["square (queries)"]) * 1.0)
    bare = batch / base_fwd
    ratio = rate / bare
    print(f"  square: {rate:9.1f} queries/s vs {bare:9.1f} bare forwards/s = {ratio:.3f}x "
          f"(threshold >= {QUERY_THRESHOLD}) {'PASS' if ratio >= QUERY_THRESHOLD else 'FAIL'}"
          f"{'' if full else f' (batch shrank: {used} of {batch * n_queries} queries)'}")


if __name__ == "__main__":
    main()
