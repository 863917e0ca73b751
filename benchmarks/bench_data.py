"""Data benchmarks, baseline and HARLab path in one process.

1. Keyframe extraction of a video vs one bare sequential OpenCV decode of it
   (threshold: <= 1.25x), for the ``uniform`` and ``content`` methods.
2. Reading a training epoch from the frame cache vs decoding the videos for it
   (threshold: >= 10x faster).

Usage: ``python benchmarks/bench_data.py [--root DATASET] [--videos N] [--rounds R]
[--clock wall|cpu]``.
Without ``--root`` it uses the demo dataset (generated on first use).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from harlab.data import video
from harlab.data.demo_data import ensure_demo_dataset
from harlab.data.framecache import CacheConfig, build_cache
from harlab.data.ucf101 import UCF101
from harlab.jobs import run


def bare_decode(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while True:
        ok, _frame = cap.read()
        if not ok:
            break
        n += 1
    cap.release()
    return n


#: "wall" (perf_counter) or "cpu" (process_time: all threads of this process; steadier on a
#: shared machine). Set from the command line.
CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter


def timed(fn, *args) -> float:
    t = clock()
    fn(*args)
    return clock() - t


def bench_keyframes(paths: list[Path], k: int, rounds: int) -> None:
    print(f"keyframes: {len(paths)} videos, k={k}, {rounds} rounds (median of per-round totals)")
    totals: dict[str, list[float]] = {"bare decode": [], "uniform": [], "content": []}
    for _ in range(rounds):
        for name in totals:  # interleaved so load changes hit every method alike
            if name == "bare decode":
                totals[name].append(sum(timed(bare_decode, p) for p in paths))
            else:
                totals[name].append(sum(timed(video.extract_keyframes, p, k, name)
                                        for p in paths))
    # the median is the headline; the minimum (as timeit advises) shows the cost without
    # interference from other processes on a shared machine
    base = statistics.median(totals["bare decode"])
    base_min = min(totals["bare decode"])
    print(f"  bare sequential decode  {base:7.3f} s  (min {base_min:.3f} s)")
    for name in ("uniform", "content"):
        t = statistics.median(totals[name])
        ratio, ratio_min = t / base, min(totals[name]) / base_min
        verdict = "PASS" if ratio <= 1.25 else "FAIL"
        print(f"  keyframes {name:<8}      {t:7.3f} s  ratio {ratio:5.2f}x  (<= 1.25x) {verdict}"
              f"  [min/min {ratio_min:4.2f}x]")


def bench_cache(dataset: UCF101, config: CacheConfig, batch: int, rounds: int) -> None:
    items = dataset.train
    print(f"epoch: {len(items)} train videos x {config.frames_per_video} frames at "
          f"{config.size}px, batch {batch}")

    def decode_epoch() -> None:
        for item in items:
            info = video.probe(item.path)
            video.read_frames(item.path, video.sample_indices(info.frame_count,
                                                              config.frames_per_video),
                              size=config.size)

    with tempfile.TemporaryDirectory() as tmp:
        cache = run(build_cache(dataset, config, Path(tmp)))
        split = cache.split("train")
        rng = np.random.default_rng(0)

        def cached_epoch() -> None:
            order = rng.permutation(len(split))
            for i in range(0, len(order), batch):
                idx = np.sort(order[i:i + batch])
                _ = split.frames[idx] + 0  # materialise the batch
                _ = split.labels[idx]

        t_decode = statistics.median(timed(decode_epoch) for _ in range(rounds))
        t_cache = statistics.median(timed(cached_epoch) for _ in range(rounds))
    speedup = t_decode / t_cache
    verdict = "PASS" if speedup >= 10 else "FAIL"
    print(f"  decode videos  {t_decode:7.3f} s")
    print(f"  read cache     {t_cache:7.3f} s  speed-up {speedup:6.1f}x  (>= 10x) {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="dataset folder (default: the demo dataset)")
    parser.add_argument("--videos", type=int, default=24, help="videos for the keyframe test")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("-k", type=int, default=8)
    parser.add_argument("--clock", choices=sorted(CLOCK), default="wall",
                        help="wall time, or process CPU time (steadier on a busy machine)")
    args = parser.parse_args()
    global clock
    clock = CLOCK[args.clock]
    root = args.root or ensure_demo_dataset()
    dataset = UCF101(root)
    step = max(1, len(dataset.train) // args.videos)
    paths = [item.path for item in dataset.train[::step][:args.videos]]
    print(f"OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads, {args.clock} clock; "
          f"dataset {dataset}")
    bench_keyframes(paths, args.k, args.rounds)
    bench_cache(dataset, CacheConfig(50, 112), batch=64, rounds=max(1, args.rounds - 1))


if __name__ == "__main__":
    main()
