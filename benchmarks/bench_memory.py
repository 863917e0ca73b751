"""Long sessions: resident memory while repeating an attack, a sweep and a query in one process.

A GUI session runs the same core jobs again and again. Each repetition here does what a panel
does: load the classifier from its checkpoint, run the job to the end, drop the result. After a
few warm-up rounds (allocator pools, lazy imports, the first model load) the resident set size
should stay flat; a model, a figure or a frame cache kept by mistake shows up as steady growth.

Prints the RSS after warm-up, every 10 rounds and at the end, and the growth per round fitted
over the measured rounds. Exit status 1 when the growth after warm-up exceeds ``--max-growth-mb``.

    .venv/bin/python benchmarks/bench_memory.py [--rounds 50] [--warmup 5] [--max-growth-mb 64]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # for tests.llm_server, the loopback OpenAI-compatible server

from harlab import jobs  # noqa: E402
from harlab.attacks.selection import AttackConfig, eps_sweep, find_samples  # noqa: E402
from harlab.data.ucf101 import UCF101, write_split_files  # noqa: E402
from harlab.llm.config import LLMConfig  # noqa: E402
from harlab.llm.runner import query_samples  # noqa: E402
from harlab.store import Project  # noqa: E402
from harlab.train.checkpoint import load_classifier, save_checkpoint  # noqa: E402
from harlab.train.models import build_model  # noqa: E402
from tests.llm_server import FakeLLMServer  # noqa: E402

CLASSES = ["Low", "Mid", "High"]


def rss_mb() -> float:
    """Resident set size of this process in MiB (Linux /proc; ru_maxrss elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (2**20 if sys.platform == "darwin" else 2**10)


def write_dataset(root: Path) -> None:
    import cv2

    entries = []
    for cls, grey in zip(CLASSES, (40, 128, 220), strict=True):
        for group in (1, 3):
            rel = f"{cls}/v_{cls}_g{group:02d}_c01.avi"
            (root / "UCF-101" / cls).mkdir(parents=True, exist_ok=True)
            writer = cv2.VideoWriter(str(root / "UCF-101" / rel),
                                     cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
            rng = np.random.default_rng(len(rel))
            for _ in range(12):
                frame = np.clip(grey + rng.integers(-20, 20, (48, 64, 3)), 0, 255)
                writer.write(frame.astype(np.uint8))
            writer.release()
            entries.append((cls, group, 1))
    write_split_files(root / "ucfTrainTestlist", CLASSES, entries, n_groups=3)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--max-growth-mb", type=float, default=64.0)
    ap.add_argument("--arch", default="resnet18")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp, FakeLLMServer() as server:
        tmp = Path(tmp)
        write_dataset(tmp / "data")
        project = Project.create(tmp / "proj")
        model, _ = build_model(args.arch, len(CLASSES), weights="none")
        ckpt = save_checkpoint(project.checkpoints_dir / "best.pt", model=model,
                               classes=CLASSES, image_size=32, config={})
        del model
        attack = AttackConfig(eps=32 / 255, keyframes=2, classes=CLASSES, per_class=1,
                              device="cpu")
        llm = LLMConfig(provider="openai", base_url=server.base_url, model="gpt-4o",
                        api_key_env="", concurrency=2, timeout_s=5.0)
        items = UCF101(tmp / "data").test

        def one_round() -> None:
            jobs.run(find_samples(project, ckpt, tmp / "data", attack))  # the Attack panel
            loaded = load_classifier(ckpt, device="cpu")                # the sweep's own load
            jobs.run(eps_sweep(loaded, items, [0, 8 / 255, 32 / 255], attack))
            del loaded
            if not project.query_one("SELECT count(*) FROM samples")[0]:
                return
            jobs.run(query_samples(project, llm, modalities="unimodal", refresh=True))

        samples: list[tuple[int, float]] = []
        started = time.perf_counter()
        for n in range(1, args.rounds + 1):
            one_round()
            gc.collect()
            mb = rss_mb()
            if n == args.warmup:
                base = mb
                print(f"after {n:3d} warm-up rounds: RSS {mb:8.1f} MiB")
            if n > args.warmup:
                samples.append((n, mb))
            if n % 10 == 0:
                print(f"round {n:3d}: RSS {mb:8.1f} MiB  ({time.perf_counter() - started:.0f} s)")
        project.close()

    xs = [n for n, _ in samples]
    ys = [mb for _, mb in samples]
    slope = statistics.linear_regression(xs, ys).slope if len(samples) > 1 else 0.0
    growth = ys[-1] - base if samples else 0.0
    print(f"growth after warm-up: {growth:+.1f} MiB over {len(samples)} rounds "
          f"({slope * 1024:+.1f} KiB per round, fitted); limit {args.max_growth_mb:g} MiB")
    return 0 if growth <= args.max_growth_mb else 1


if __name__ == "__main__":
    raise SystemExit(main())
