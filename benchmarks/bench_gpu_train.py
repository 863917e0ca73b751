"""ResNet-18 at 224 px with AMP on one GPU: img/s of the training loop fed by the JPEG loader.

Three numbers, in one process on synthetic-but-real JPEG frames (demo video frames at 224 px,
quality 90, repeated to ``--frames``):

1. loader only: ``iter_frame_batches`` on CUDA (worker processes read the bytes, nvJPEG
   decodes the batch on the GPU), frames/s;
2. step only: forward, backward and AdamW on a batch already on the GPU (AMP,
   channels-last), frames/s;
3. the loop: :func:`harlab.train.fit.train_one_epoch` (loader, augmentation, AMP step),
   frames/s. Threshold: >= 3,000 img/s on one H100, and the loader >= the step.

    .venv/bin/python benchmarks/bench_gpu_train.py [--batch 256] [--frames 20000]

Without CUDA it prints ``no CUDA: skipped`` and exits 0.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

MIN_IMG_S = 3000.0


def jpeg_data(folder: Path, frames: int, classes: int = 101):
    """A JPEG-backed TrainData of ``frames`` demo frames at 224 px."""
    from harlab.data import video
    from harlab.data.demo_data import ensure_demo_dataset
    from harlab.data.jpeg_frames import JpegFrames, JpegWriter
    from harlab.data.ucf101 import UCF101
    from harlab.train.data import TrainData

    dataset = UCF101(ensure_demo_dataset())
    base = []
    for item in dataset.train[::max(1, len(dataset.train) // 20)][:20]:
        info = video.probe(item.path)
        base.append(video.read_frames(item.path, video.sample_indices(info.frame_count, 50),
                                      size=224))
    base = np.concatenate(base)
    writer = JpegWriter(folder / "f.jpg", 90)
    for start in range(0, frames, len(base)):
        writer.add(base[:min(len(base), frames - start)])
    writer.close().tofile(folder / "f.off")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, classes, frames)
    return TrainData(JpegFrames(folder / "f.jpg", folder / "f.off", 224), labels,
                     np.arange(frames) // 50, np.arange(frames) // 50 % 25 + 1,
                     [f"c{i}" for i in range(classes)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--cpu-workers", type=int, nargs="*", default=[],
                        help="also time CPU JPEG decoding with these worker counts")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA: skipped")
        return

    from harlab.train.config import TrainConfig
    from harlab.train.data import iter_frame_batches
    from harlab.train.fit import setup, train_one_epoch
    from harlab.train.inference import to_images

    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, batch {args.batch}")
    with tempfile.TemporaryDirectory() as tmp:
        data = jpeg_data(Path(tmp), args.frames)
        order = np.random.default_rng(0).permutation(len(data))
        batches = [order[i:i + args.batch] for i in range(0, len(order) - args.batch + 1,
                                                          args.batch)]
        # 1. loader only: nvJPEG decoding ahead on a side stream (the default on CUDA), and
        # for comparison the CPU decoding in worker processes with pinned copies
        def loader_rate(**kwargs) -> float:
            torch.cuda.synchronize()
            t = time.perf_counter()
            n = 0
            for frames in iter_frame_batches(data, batches, device, **kwargs):
                n += len(frames.to(device, non_blocking=True))
            torch.cuda.synchronize()
            return n / (time.perf_counter() - t)

        loader = loader_rate(workers=args.workers, gpu_decode=True)
        default_loader = loader_rate()
        cpu_rates = {w: loader_rate(workers=w, gpu_decode=False) for w in args.cpu_workers}

        config = TrainConfig(image_size=224, batch_size=args.batch, accumulate=1, epochs=2,
                             weights="none", device="cuda", amp=True, channels_last=True)
        loop = setup(config, data)
        # 2. step only, on one batch kept on the GPU
        frames = next(iter_frame_batches(data, batches[:1], device, workers=0))
        labels = torch.as_tensor(data.labels[batches[0]]).to(device)
        opt = loop.optimizer

        def step() -> None:
            images = to_images(frames, device, channels_last=True)
            with torch.autocast("cuda"):
                loss = torch.nn.functional.cross_entropy(loop.net(images), labels)
            loop.scaler.scale(loss).backward()
            loop.scaler.step(opt)
            loop.scaler.update()
            opt.zero_grad(set_to_none=True)

        for _ in range(5):
            step()
        torch.cuda.synchronize()
        t = time.perf_counter()
        steps = 30
        for _ in range(steps):
            step()
        torch.cuda.synchronize()
        model_only = steps * args.batch / (time.perf_counter() - t)
        # 3. the loop (epoch 0 warms up cuDNN and the workers; epoch 1 is timed)
        for _ in train_one_epoch(loop, data, 0, (time.perf_counter(), 0)):
            pass
        loop.state.epoch, loop.state.batch = 1, 0
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in train_one_epoch(loop, data, 1, (time.perf_counter(), 0)):
            pass
        torch.cuda.synchronize()
        looped = loop.batches_per_epoch * args.batch / (time.perf_counter() - t)
    verdict = "PASS" if looped >= MIN_IMG_S else "FAIL"
    print(f"  loader only (nvJPEG)   {loader:9.0f} img/s  ratio to step {loader / model_only:5.2f}x"
          f"  (>= 1x) {'PASS' if loader >= model_only else 'FAIL'}")
    print(f"  loader, HARLab default {default_loader:9.0f} img/s  ratio to step "
          f"{default_loader / model_only:5.2f}x")
    for w, rate in cpu_rates.items():
        print(f"  loader, CPU decode, {w:2d} workers {rate:9.0f} img/s")
    print(f"  step only (AMP, CL)    {model_only:9.0f} img/s")
    print(f"  train_one_epoch        {looped:9.0f} img/s  (>= {MIN_IMG_S:.0f} on one H100) "
          f"{verdict}")


if __name__ == "__main__":
    main()
