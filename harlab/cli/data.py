"""``harlab data``: index, validate and cache a UCF-101 folder; keyframes; the demo dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from harlab.errors import InputError
from harlab.jobs import run_cli
from harlab.vocab import KEYFRAME_METHODS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="datasets: index, validate, keyframes, frame cache, demo")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    def dataset_args(q: argparse.ArgumentParser) -> None:
        q.add_argument("root", nargs="?", help="folder holding UCF-101/ (or UCF-101 itself)")
        q.add_argument("--demo", action="store_true",
                       help="use the bundled demo dataset (generated on first use)")
        q.add_argument("--annotations", metavar="DIR",
                       help="ucfTrainTestlist folder (default: found next to the videos)")
        q.add_argument("--fold", type=int, default=1, choices=(1, 2, 3), help="split (1-3)")

    q = dsub.add_parser("index", help="list classes with train/test clip counts")
    dataset_args(q)
    q.set_defaults(func=_cmd_index)

    q = dsub.add_parser("validate", help="report missing, unlisted and unreadable videos")
    dataset_args(q)
    q.add_argument("--no-decode", action="store_true",
                   help="skip opening every video (only compare lists and disk)")
    q.set_defaults(func=_cmd_validate)

    q = dsub.add_parser("keyframes", help="pick K keyframes of one video")
    q.add_argument("video", help="a video file")
    q.add_argument("-k", type=int, default=8, help="number of keyframes (default 8)")
    q.add_argument("--method", default="content", choices=KEYFRAME_METHODS)
    q.add_argument("--out", metavar="DIR", help="also save them as PNGs in DIR")
    q.set_defaults(func=_cmd_keyframes)

    q = dsub.add_parser("cache", help="decode sampled frames once into the frame cache")
    dataset_args(q)
    q.add_argument("--frames", type=int, default=50, help="frames per video (default 50)")
    q.add_argument("--size", type=int, default=112, help="square side in pixels (default 112)")
    q.add_argument("--cache-dir", metavar="DIR", help="default: the user cache folder")
    q.add_argument("--format", choices=("raw", "jpeg"), default="raw",
                   help="raw uint8 frames or JPEG (about 1/10 to 1/20 of the disk)")
    q.add_argument("--jpeg-quality", type=int, default=90, help="JPEG quality 1-100 (default 90)")
    q.add_argument("--estimate", action="store_true",
                   help="print the disk the cache needs (raw and JPEG); build nothing")
    q.set_defaults(func=_cmd_cache)

    q = dsub.add_parser("demo", help="generate the procedural demo dataset")
    q.add_argument("--out", metavar="DIR",
                   help="target folder (default: the user data folder, generated once)")
    q.add_argument("--seed", type=int, default=0)
    q.set_defaults(func=_cmd_demo)


def _dataset_config(args: argparse.Namespace):
    from harlab.data.demo_data import ensure_demo_dataset_job
    from harlab.stages import DatasetConfig

    if args.demo == bool(args.root):
        raise InputError("give either a dataset folder or --demo (exactly one)")
    root = run_cli(ensure_demo_dataset_job(), "demo dataset") if args.demo else args.root
    return DatasetConfig(str(root), args.fold, args.annotations)


def _dataset(args: argparse.Namespace):
    from harlab.jobs import run
    from harlab.stages import index_data

    return run(index_data(None, _dataset_config(args)))


def _cmd_index(args: argparse.Namespace) -> int:
    ds = _dataset(args)
    print(f"{ds.root}  (annotations {ds.annotation_dir}, fold {ds.fold})")
    print(f"{'label':>5}  {'class':<28}{'train':>6}{'test':>6}")
    for label, (name, n_train, n_test) in enumerate(ds.counts()):
        print(f"{label:>5}  {name:<28}{n_train:>6}{n_test:>6}")
    print(f"{len(ds.classes)} classes, {len(ds.train)} train and {len(ds.test)} test clips")
    problems = [p for p in ds.problems if p.kind != "note"]
    if problems:
        print(f"{len(problems)} problems in the split lists; run `harlab data validate` for "
              "details")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from harlab.stages import validate_data

    report = run_cli(validate_data(None, _dataset_config(args),
                                   check_videos=not args.no_decode), "checking videos")
    print(report.to_text())
    return 0 if report.ok else 1


def _cmd_keyframes(args: argparse.Namespace) -> int:
    from harlab.data.video import extract_keyframes

    kf = extract_keyframes(args.video, args.k, args.method)
    for i, (index, ts) in enumerate(zip(kf.indices, kf.timestamps_s, strict=True)):
        print(f"{i:>3}  frame {index:>6}  {ts:8.3f} s")
    if kf.note:
        print(f"note: {kf.note}")
    if args.out:
        import cv2

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for index, frame in zip(kf.indices, kf.frames, strict=True):
            cv2.imwrite(str(out / f"{Path(args.video).stem}_f{index:06d}.png"),
                        cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        print(f"saved {len(kf.indices)} PNGs to {out}")
    return 0


def _cmd_cache(args: argparse.Namespace) -> int:
    from harlab.data.framecache import CacheConfig
    from harlab.stages import build_cache

    config = CacheConfig(frames_per_video=args.frames, size=args.size, format=args.format,
                         jpeg_quality=args.jpeg_quality)
    if args.estimate:
        from harlab.data.framecache import estimate_cache
        from harlab.stages import index_data

        print(estimate_cache(run_cli(index_data(None, _dataset_config(args)), "indexing"),
                             config))
        return 0
    cache = run_cli(build_cache(None, _dataset_config(args), config,
                                Path(args.cache_dir) if args.cache_dir else None),
                    "caching frames")
    print(f"cache {cache.folder}: {cache.decoded} videos decoded, {cache.reused} reused, "
          f"{len(cache.failed)} failed")
    for relpath, reason in cache.failed:
        print(f"  failed {relpath}: {reason}")
    return 0 if not cache.failed else 1


def _cmd_demo(args: argparse.Namespace) -> int:
    from harlab.data.demo_data import ensure_demo_dataset_job, generate_demo_dataset

    if args.out:
        root = run_cli(generate_demo_dataset(args.out, seed=args.seed), "rendering demo")
    else:
        root = run_cli(ensure_demo_dataset_job(seed=args.seed), "rendering demo")
    print(root)
    return 0
