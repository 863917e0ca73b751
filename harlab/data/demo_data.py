"""A small UCF-101-shaped action dataset rendered procedurally, so HARLab runs offline.

``generate_demo_dataset(out_dir)`` writes ``out_dir/UCF-101/<Class>/v_<Class>_gNN_cMM.avi``
(XVID, 320x240, 25 fps) and ``out_dir/ucfTrainTestlist/`` in the original format. As in
UCF-101, the clips of one group share the actor and the scene; clips vary speed, start
position, direction and camera. Everything comes from ``seed``.
"""

from __future__ import annotations

import colorsys
import json
import logging
import math
import multiprocessing
import os
import shutil
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import cv2
import numpy as np

from harlab import paths
from harlab.data.demo_actions import ACTIONS, Ops, Scene
from harlab.data.ucf101 import write_split_files
from harlab.errors import InputError
from harlab.jobs import Job, Progress, run

log = logging.getLogger(__name__)

DEMO_VERSION = 6  # 6: five clips per group (35 test videos per class, for 25 + 25 samples)
DEMO_CLASSES = ("BabyCrawling", "Biking", "BoxingPunchingBag", "CuttingInKitchen",
                "HandstandWalking", "JumpingJack", "PushUps", "WalkingWithDog")
WIDTH, HEIGHT, FPS = 320, 240, 25
MARKER = ".harlab-demo.json"
_NOISE_FIELDS = 3
_PARALLEL_FROM = 64  # clips; below this, starting processes costs more than it saves


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float = FPS,
                fourcc: str = "XVID") -> Path:
    """Write RGB uint8 frames ``(H, W, 3)`` to an AVI that OpenCV reads back."""

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    try:
        for frame in frames:
            if writer is None:
                h, w = frame.shape[:2]
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
                if not writer.isOpened():
                    raise InputError(f"OpenCV cannot write {fourcc} video to {path}; use "
                                     "fourcc 'XVID' or 'MJPG'")
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        if writer is not None:
            writer.release()
    return path


def _colour(rng: np.random.Generator, sat=(0.3, 1.0), val=(0.35, 1.0)) -> tuple:
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*sat), rng.uniform(*val))
    return (int(b * 255), int(g * 255), int(r * 255))  # OpenCV draws in BGR


def _background(rng: np.random.Generator, ground_y: float) -> np.ndarray:
    """A room or street: sky/wall gradient, floor, a few blocks, a lighting gradient."""

    img = np.empty((HEIGHT, WIDTH, 3), np.float32)
    top, bottom = np.array(_colour(rng, (0, 0.6))), np.array(_colour(rng, (0, 0.6)))
    ramp = np.linspace(0, 1, HEIGHT, dtype=np.float32)[:, None, None]
    img[:] = top * (1 - ramp) + bottom * ramp
    gy = int(ground_y)
    img[gy:] = np.array(_colour(rng, (0, 0.5), (0.2, 0.8)))
    canvas = img.astype(np.uint8)
    for _ in range(rng.integers(2, 7)):
        x, w = int(rng.uniform(-40, WIDTH)), int(rng.uniform(20, 120))
        h = int(rng.uniform(20, gy * 0.8))
        cv2.rectangle(canvas, (x, gy - h), (x + w, gy), _colour(rng, (0, 0.7), (0.2, 0.9)), -1)
    if rng.random() < 0.5:  # floor tiles or road stripes
        step = int(rng.uniform(15, 40))
        for x in range(0, WIDTH, step):
            cv2.line(canvas, (x, gy), (x - 30, HEIGHT), _colour(rng, (0, 0.3)), 1)
    gain = rng.uniform(0.65, 1.25)
    slope = rng.uniform(-0.35, 0.35)
    light = gain * (1 + slope * np.linspace(-1, 1, WIDTH, dtype=np.float32))[None, :, None]
    return np.clip(canvas * light, 0, 255).astype(np.uint8)


def _group_look(seed: int, group: int) -> dict:
    """Actor and scene of one group.

    As in UCF-101 a group's clips share actor and scene; unlike UCF-101 a group number means
    the same actor and scene in every class, so neither tells the classes apart: a classifier
    must read the pose, and held-out groups bring actors and scenes it has never seen.
    """
    rng = np.random.default_rng([seed, group, 0])
    ground_y = rng.uniform(0.80, 0.95) * HEIGHT
    return dict(
        background=_background(rng, ground_y), ground_y=ground_y,
        # the tallest poses (arms up, handstand) reach about 1.1x the standing height
        scale=min(rng.uniform(0.55, 0.78) * HEIGHT, (ground_y - 6) / 1.12),
        skin=_colour(rng, (0.2, 0.6), (0.4, 1.0)), shirt=_colour(rng), pants=_colour(rng),
        prop=_colour(rng), prop2=_colour(rng),
        # thick limbs keep the pose legible at the small sizes CPU training uses (64 px)
        thickness=rng.uniform(0.055, 0.085),
    )


def render_clip(cls_name: str, *, seed: int, cls_index: int, group: int, clip: int,
                seconds: float) -> Iterable[np.ndarray]:
    """Yield the RGB frames of one clip."""

    draw, base_hz, travels = ACTIONS[cls_name]
    look = _group_look(seed, group)
    rng = np.random.default_rng([seed, cls_index, group, clip])
    n = max(2, int(round(seconds * FPS)))
    speed = rng.uniform(20, 45) if travels else 0.0
    facing = int(rng.choice([-1, 1]))
    span = speed * seconds
    margin = (0.8 if cls_name == "WalkingWithDog" else 0.45) * look["scale"]  # room for the dog
    lo, hi = margin, WIDTH - margin
    if travels:
        x0 = (rng.uniform(lo + (span if facing < 0 else 0), hi - (span if facing > 0 else 0))
              if hi - lo > span else WIDTH / 2 - facing * span / 2)
    else:
        x0 = rng.uniform(WIDTH * 0.3, WIDTH * 0.7)
    scene = Scene(rng=rng, width=WIDTH, height=HEIGHT, ground_y=look["ground_y"],
                  scale=look["scale"] * rng.uniform(0.92, 1.08), facing=facing, x0=x0,
                  speed_px_s=speed, skin=look["skin"], shirt=look["shirt"],
                  pants=look["pants"], prop=look["prop"], prop2=look["prop2"],
                  thickness=look["thickness"])
    hz = base_hz * rng.uniform(0.75, 1.35)
    phase0 = rng.uniform(0, 2 * math.pi)
    shake = rng.uniform(0.0, 2.0)
    offsets = np.cumsum(rng.normal(0, shake, (n, 2)), axis=0) * 0.5
    offsets -= offsets.mean(axis=0)
    offsets = np.clip(offsets, -6, 6)
    sigma = rng.uniform(1.5, 4.5)
    # sensor noise: a few half-resolution fields, cycled (drawing normals is the slow part)
    noise = [cv2.resize(np.clip(rng.normal(0, sigma, (HEIGHT // 2, WIDTH // 2, 3)), -20, 20)
                        .astype(np.float32), (WIDTH, HEIGHT), interpolation=cv2.INTER_NEAREST)
             for _ in range(_NOISE_FIELDS)]
    noise_pos = [np.clip(z, 0, None).astype(np.uint8) for z in noise]
    noise_neg = [np.clip(-z, 0, None).astype(np.uint8) for z in noise]
    bg = look["background"]
    gain = rng.uniform(0.8, 1.15)
    for i in range(n):
        t = i / FPS
        ops = Ops(scene)
        draw(phase0 + 2 * math.pi * hz * t, t, scene, ops)
        frame = bg.copy()
        ops.paint(frame, shift=(offsets[i, 0], offsets[i, 1]))
        if gain != 1.0:
            frame = cv2.convertScaleAbs(frame, alpha=gain)
        frame = cv2.subtract(cv2.add(frame, noise_pos[i % _NOISE_FIELDS]),
                             noise_neg[i % _NOISE_FIELDS])
        yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def generate_demo_dataset(out_dir: str | Path, *, seed: int = 0,
                          classes: Sequence[str] | None = None, groups: int = 25,
                          clips_per_group: int = 5, seconds: float = 2.4,
                          workers: int | None = None) -> Job[Path]:
    """Render the demo dataset into ``out_dir``; yields Progress per clip, returns ``out_dir``.

    Args:
        out_dir: receives ``UCF-101/`` and ``ucfTrainTestlist/``.
        seed: everything (actors, scenes, motion, noise) follows from it.
        classes: a subset of :data:`DEMO_CLASSES` (all by default).
        groups: groups per class (>= 4 so each of the 3 folds tests some groups and trains on
            the rest; fold ``f`` tests groups in block ``f`` of ``round(7 * groups / 25)``).
        clips_per_group: clips per group.
        seconds: clip length.
        workers: processes rendering clips (default: up to 2 for a full-size set, else 1).
    """

    classes = list(DEMO_CLASSES if classes is None else classes)
    unknown = [c for c in classes if c not in DEMO_CLASSES]
    if unknown or not classes:
        raise InputError(f"unknown demo classes {unknown or classes!r}; valid classes: "
                         f"{', '.join(DEMO_CLASSES)}")
    if int(groups) != groups or groups < 4:
        raise InputError(f"groups must be an integer >= 4 (three folds need test groups and "
                         f"train groups), got {groups!r}")
    if int(clips_per_group) != clips_per_group or clips_per_group < 1:
        raise InputError(f"clips_per_group must be a positive integer, got {clips_per_group!r}")
    if not 0.2 <= seconds <= 30:
        raise InputError(f"seconds must be between 0.2 and 30, got {seconds!r}")
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise InputError(f"demo output {out} is a file; choose a folder")
    video_root = out / "UCF-101"
    jobs = [(c, g, k) for c in classes for g in range(1, groups + 1)
            for k in range(1, clips_per_group + 1)]
    tasks = [(video_root / c / f"v_{c}_g{g:02d}_c{k:02d}.avi", c, seed, g, k, seconds)
             for c, g, k in jobs]
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if len(tasks) >= _PARALLEL_FROM else 1
    if workers <= 1:
        for done, task in enumerate(tasks, 1):
            yield Progress(done, len(tasks), _render_to_file(*task))
    else:
        # each clip has its own seed, so the files do not depend on which process drew them
        ctx = multiprocessing.get_context("spawn")  # safe from the GUI's worker thread
        pool = ProcessPoolExecutor(workers, mp_context=ctx)
        try:
            futures = [pool.submit(_render_to_file, *task) for task in tasks]
            for done, fut in enumerate(as_completed(futures), 1):
                yield Progress(done, len(tasks), fut.result())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    write_split_files(out / "ucfTrainTestlist", classes, jobs, groups)
    return out


def _render_to_file(path: Path, cls_name: str, seed: int, group: int, clip: int,
                    seconds: float) -> str:
    write_video(path, render_clip(cls_name, seed=seed, cls_index=DEMO_CLASSES.index(cls_name),
                                  group=group, clip=clip, seconds=seconds))
    return path.name


def ensure_demo_dataset_job(seed: int = 0, **params) -> Job[Path]:
    """Generate the demo dataset into :func:`harlab.paths.demo_dataset_dir` unless it is there.

    ``params`` go to :func:`generate_demo_dataset` (tests use a tiny set). A marker file records
    seed, parameters and version; a partial or outdated copy is replaced. The new
    copy is rendered beside the old one and moved in at the end, so a cancelled run leaves
    nothing half-written behind.
    """
    target = paths.demo_dataset_dir()
    want = {"seed": seed, "version": DEMO_VERSION, "params": params}
    marker = target / MARKER
    if marker.is_file():
        try:
            if json.loads(marker.read_text()) == want:
                return target
        except (OSError, ValueError):
            pass
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        yield from generate_demo_dataset(tmp, seed=seed, **params)
        (tmp / MARKER).write_text(json.dumps(want))
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def ensure_demo_dataset(seed: int = 0, **params) -> Path:
    """The demo dataset's root (holding ``UCF-101/``), generated on first use."""
    return run(ensure_demo_dataset_job(seed, **params))
