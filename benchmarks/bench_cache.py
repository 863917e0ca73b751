"""JPEG frame cache: disk per frame, and the CPU loader vs a ResNet-18 training step.

1. JPEG bytes per frame at 224 px (quality 90) in a cache built from the demo videos
   (threshold: <= 25 KB; raw is 150.5 KB), with two natural photos (scikit-learn's sample
   images, squashed 320x240 -> 224 px like UCF-101 frames) as a harder reference, and the
   estimate for fold 1 of UCF-101 at the paper's shape (13,320 videos x 50 frames).
2. The CPU loader (``iter_frame_batches``, 2 DataLoader workers decoding JPEG) in frames/s vs
   what a ResNet-18 training step (forward, backward, AdamW; batch 32 at 224 px, on this
   machine's CPU) consumes in frames/s (threshold: loader >= 1.5x the step). Each is timed
   alone in this process, medians of rounds.

    .venv/bin/python benchmarks/bench_cache.py [--root DATASET] [--videos 40] [--steps 4]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from harlab.data.demo_data import ensure_demo_dataset
from harlab.data.framecache import CacheConfig, build_cache
from harlab.data.jpeg_frames import encode_frames
from harlab.data.ucf101 import UCF101
from harlab.jobs import run
from harlab.train.data import TrainData, iter_frame_batches
from harlab.train.inference import to_images
from harlab.train.models import build_model

MAX_FRAME_BYTES = 25_000
MIN_LOADER_RATIO = 1.5
PAPER_FOLD1_VIDEOS = 9537 + 3783  # trainlist01 + testlist01


class Subset:
    """Every ``step``-th training video of a dataset, as ``build_cache`` reads one."""

    def __init__(self, dataset: UCF101, videos: int):
        step = max(1, len(dataset.train) // videos)
        self.root, self.fold, self.classes = dataset.root, dataset.fold, dataset.classes
        self.train, self.test = dataset.train[::step][:videos], []

    def items(self, split: str) -> list:
        return self.train if split == "train" else self.test


def natural_reference(quality: int) -> float | None:
    """Mean JPEG bytes of scikit-learn's two sample photos at 224 px, or None without them."""
    try:
        from sklearn.datasets import load_sample_images
    except ImportError:
        return None
    photos = [cv2.resize(cv2.resize(img, (320, 240), interpolation=cv2.INTER_AREA), (224, 224),
                         interpolation=cv2.INTER_AREA) for img in load_sample_images().images]
    return float(np.mean([len(b) for b in encode_frames(np.stack(photos), quality)]))


def bench_disk(frames_bytes: np.ndarray, quality: int) -> None:
    mean = float(frames_bytes.mean())
    verdict = "PASS" if mean <= MAX_FRAME_BYTES else "FAIL"
    print(f"disk: {len(frames_bytes)} frames at 224 px, JPEG q{quality}")
    print(f"  raw            {224 * 224 * 3 / 1000:7.1f} KB a frame")
    print(f"  jpeg (demo)    {mean / 1000:7.1f} KB a frame (p95 "
          f"{np.percentile(frames_bytes, 95) / 1000:.1f} KB)  (<= 25 KB) {verdict}")
    photo = natural_reference(quality)
    if photo is not None:
        print(f"  jpeg (photos)  {photo / 1000:7.1f} KB a frame (sharper than UCF-101's "
              "320x240 MPEG-4; an upper reference)")
    for name, per_frame in (("demo", mean), ("photos", photo)):
        if per_frame is None:
            continue
        total = PAPER_FOLD1_VIDEOS * 50 * (per_frame + 8)
        print(f"  fold 1 at 50 frames x 224 px ({name} frame size): {total / 1e9:5.2f} GB "
              f"(raw {PAPER_FOLD1_VIDEOS * 50 * 224 * 224 * 3 / 1e9:.1f} GB)")


def step_rate(batch: int, steps: int, rounds: int) -> float:
    """Frames/s a ResNet-18 training step on the CPU consumes (uint8 batch to optimizer step)."""
    torch.manual_seed(0)
    model, _ = build_model("resnet18", 101, "none")
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    frames = torch.randint(0, 256, (batch, 224, 224, 3), dtype=torch.uint8)
    labels = torch.randint(0, 101, (batch,))

    def one() -> None:
        loss = torch.nn.functional.cross_entropy(model(to_images(frames, torch.device("cpu"))),
                                                 labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()

    one()  # warm-up
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(steps):
            one()
        times.append((time.perf_counter() - t) / steps)
    return batch / statistics.median(times)


def loader_rate(data: TrainData, batch: int, workers: int, rounds: int) -> float:
    """Frames/s the loader delivers (uint8 batches on the CPU), one epoch in random order."""
    rng = np.random.default_rng(0)
    rates = []
    for _ in range(rounds):
        order = rng.permutation(len(data))
        batches = [order[i:i + batch] for i in range(0, len(order) - batch + 1, batch)]
        t = time.perf_counter()
        n = 0
        for frames in iter_frame_batches(data, batches, "cpu", workers=workers):
            n += len(frames)
        rates.append(n / (time.perf_counter() - t))  # worker start-up included
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="dataset folder (default: the demo dataset)")
    parser.add_argument("--videos", type=int, default=40, help="videos cached (50 frames each)")
    parser.add_argument("--quality", type=int, default=90)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=4, help="training steps per round")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    dataset = Subset(UCF101(args.root or ensure_demo_dataset()), args.videos)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{len(dataset.train)} videos of {dataset.root}")
    with tempfile.TemporaryDirectory() as tmp:
        config = CacheConfig(50, 224, format="jpeg", jpeg_quality=args.quality)
        t = time.perf_counter()
        cache = run(build_cache(dataset, config, Path(tmp)))
        print(f"built a JPEG cache of {len(dataset.train)} videos in "
              f"{time.perf_counter() - t:.1f} s")
        split = cache.split("train")
        bench_disk(np.diff(np.fromfile(split.frames.offsets_path, dtype="<i8")), args.quality)
        data = TrainData.from_split(split, cache.classes)
        loader = loader_rate(data, args.batch, args.workers, args.rounds)
        inline = loader_rate(data, args.batch, 0, 1)
        step = step_rate(args.batch, args.steps, args.rounds)
    ratio = loader / step
    verdict = "PASS" if ratio >= MIN_LOADER_RATIO else "FAIL"
    print(f"loader vs step: batch {args.batch} at 224 px, CPU")
    print(f"  resnet18 training step {step:9.1f} frames/s")
    print(f"  loader, {args.workers} workers      {loader:9.1f} frames/s  ratio {ratio:6.1f}x  "
          f"(>= {MIN_LOADER_RATIO}x) {verdict}")
    print(f"  loader, in-process     {inline:9.1f} frames/s  (for reference)")


if __name__ == "__main__":
    main()
