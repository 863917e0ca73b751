"""Video-level attacks, correct-to-wrong sample selection and the eps sweep.

A *sample* is one video's K keyframes, resized to the classifier's input size. The video
prediction is the mean softmax over its keyframes; every keyframe is attacked against the
video's true label, and the keyframes of many videos go through the model in one batch.

:func:`find_samples` keeps the videos classified correctly before and wrongly after the attack
(the study's filter), up to ``per_class`` per class. It stores the clean frames (as resized,
i.e. as sent) and the adversarial frames quantised to uint8 as lossless PNGs, reads the PNGs
back and classifies them again: the adversarial prediction recorded is the one of the stored
PNGs, which are exactly what the language model is later shown. A flip that does not survive
the quantisation is recorded with ``survives_png = 0`` and ``selected = 0`` and does not count.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from harlab.attacks import parse_eps
from harlab.attacks.config import AttackConfig
from harlab.attacks.samples import get_sample, read_pngs, write_pngs
from harlab.attacks.video import (
    Batch,
    VideoAttack,
    attack_batch,
    attack_video,
    batches,
    check_label,
    load_batch,
    load_surrogate,
    top5,
)
from harlab.data.demo_data import ensure_demo_dataset
from harlab.data.ucf101 import UCF101, VideoItem
from harlab.errors import InputError
from harlab.jobs import Job, Progress
from harlab.store import Project, to_json
from harlab.train.checkpoint import LoadedClassifier, check_classes, load_classifier
from harlab.train.inference import device_of, predict_probs, to_images
from harlab.train.runs import best_checkpoint, train_runs
from harlab.validation import check_positive_int

log = logging.getLogger(__name__)

__all__ = ["AttackConfig", "SelectionResult", "SweepConfig", "SweepResult", "VideoAttack",
           "attack_video", "check_classes_known", "default_checkpoint", "default_dataset_root",
           "eps_sweep", "find_samples", "last_sweep", "load_sample", "read_pngs", "run_sweep",
           "select_samples", "sweep_items", "write_pngs"]

# ---------------------------------------------------------------------------- selection
@dataclass
class SelectionResult:
    """What a :func:`find_samples` run found.

    Attributes:
        run_id: the project's ``attack`` run.
        sample_ids: rows of ``samples`` selected (their flip survives the PNG round trip).
        per_class: selected samples per requested class.
        examined: videos classified; clean_correct: of those, correct before the attack;
        flipped: of those, wrong after the (float) attack; not_surviving: flips lost in uint8
        PNG storage (stored with ``selected = 0``).
    """

    run_id: int
    sample_ids: list[int]
    per_class: dict[str, int]
    examined: int
    clean_correct: int
    flipped: int
    not_surviving: int
    per_class_requested: int

    @property
    def complete(self) -> bool:
        return all(n >= self.per_class_requested for n in self.per_class.values())

    def summary(self) -> str:
        found = ", ".join(f"{c} {n}/{self.per_class_requested}" for c, n in self.per_class.items())
        short = ("" if self.complete else " (the split ran out of videos for some classes: "
                 "raise eps, try a stronger attack or another split)")
        return (f"selected {len(self.sample_ids)} samples: {found}{short}; {self.examined} "
                f"videos examined, {self.clean_correct} correct before, {self.flipped} flipped, "
                f"{self.not_surviving} flips lost in PNG storage")


def find_samples(project: Project, config: AttackConfig = AttackConfig(), *,
                 checkpoint: str | Path | None = None, dataset_root: str | Path | None = None,
                 loaded: LoadedClassifier | None = None, dataset: UCF101 | None = None
                 ) -> Job[SelectionResult]:
    """Find correct-to-wrong samples of ``config.classes`` and store them in ``project``.

    ``checkpoint`` defaults to the project's best, ``dataset_root`` to the project's dataset;
    ``loaded`` and ``dataset`` may be passed when the caller already holds them (the GUI's
    classifier cache and dataset index).
    """
    checkpoint = Path(checkpoint) if checkpoint else default_checkpoint(project)
    root = Path(dataset_root) if dataset_root else default_dataset_root(project)
    yield Progress(0, 0, "loading the classifier and the dataset")
    if loaded is None:
        loaded = load_classifier(checkpoint, device=config.device)
    if dataset is None or dataset.fold != config.fold:
        dataset = UCF101(root, fold=config.fold)
    check_classes(checkpoint, loaded.classes, dataset.classes)
    try:
        source = project.relpath(checkpoint)
    except ValueError:
        source = str(checkpoint)  # outside the project folder: keep the path as given
    return (yield from select_samples(project, loaded, dataset.items(config.split), config,
                                      provenance={"checkpoint": source,
                                                  "dataset_root": str(root)}))


def check_classes_known(classes: Sequence[str], known: Sequence[str]) -> dict[str, int]:
    """Map requested class names to label indices; unknown names raise with the valid ones."""
    index = {c: i for i, c in enumerate(known)}
    for name in classes:
        if name not in index:
            lower = {c.lower(): c for c in known}
            hint = f" (did you mean {lower[name.lower()]!r}?)" if name.lower() in lower else ""
            shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
            raise InputError(f"class {name!r} is not one of the classifier's {len(known)} "
                             f"classes{hint}; valid classes: {shown}")
    return {c: index[c] for c in classes}


def select_samples(project: Project, loaded: LoadedClassifier, items: Sequence[VideoItem],
                   config: AttackConfig, *, provenance: dict[str, Any] | None = None
                   ) -> Job[SelectionResult]:
    """The selection loop of :func:`find_samples` on already loaded model and items."""
    wanted = check_classes_known(config.classes, loaded.classes)
    by_label = {i: c for c, i in wanted.items()}
    candidates = [it for it in items if int(it.label) in by_label]
    if not candidates:
        raise InputError(f"the {config.split} split has no videos of "
                         f"{', '.join(config.classes)}; pick classes present in the dataset.")
    random.Random(config.seed).shuffle(candidates)
    counts = {c: 0 for c in config.classes}
    stats = {"examined": 0, "clean_correct": 0, "flipped": 0, "not_surviving": 0}
    sample_ids: list[int] = []
    per = max(1, config.batch_size // config.keyframes)
    crafter = load_surrogate(loaded, config)
    with project.run("attack", {"config": config, **(provenance or {})},
                     name=config.describe()) as record:

        def result() -> SelectionResult:
            record.result = SelectionResult(record.id, list(sample_ids), dict(counts), **stats,
                                            per_class_requested=config.per_class)
            return record.result

        result()
        pos = 0
        while pos < len(candidates) and min(counts.values()) < config.per_class:
            chunk: list[Any] = []
            while pos < len(candidates) and len(chunk) < per:
                item = candidates[pos]
                pos += 1
                if counts[by_label[int(item.label)]] < config.per_class:
                    chunk.append(item)
            if not chunk:
                break
            new_rows = _select_chunk(project, record.id, loaded, chunk, config,
                                     by_label, counts, stats, sample_ids, crafter=crafter)
            result()
            found = ", ".join(f"{c} {n}/{config.per_class}" for c, n in counts.items())
            yield Progress(pos, len(candidates), f"{found} ({stats['examined']} examined)",
                           data=new_rows)
        return result()


def _select_chunk(project: Project, run_id: int, loaded: LoadedClassifier, chunk: list[Any],
                  config: AttackConfig, by_label: dict[int, str], counts: dict[str, int],
                  stats: dict[str, int], sample_ids: list[int], *, crafter: Any = None
                  ) -> list[dict[str, Any]]:
    """Classify, attack and store one chunk of videos; updates the tallies in place."""
    batch = load_batch(loaded, chunk, config)
    labels = np.array([int(it.label) for it in chunk])
    rows = np.flatnonzero(batch.clean_probs.mean(1).argmax(1) == labels)
    stats["examined"] += len(chunk)
    stats["clean_correct"] += len(rows)
    new_rows: list[dict[str, Any]] = []
    if not len(rows):
        return new_rows
    adv, adv_probs = attack_batch(loaded, batch, rows, config, quantised=False,
                                  crafter=crafter)
    for j, row in enumerate(rows):
        name = by_label[int(labels[row])]
        if adv_probs[j].mean(0).argmax() == labels[row]:
            continue
        stats["flipped"] += 1
        if counts[name] >= config.per_class:
            continue
        sample = _store_sample(project, run_id, loaded, batch, int(row), adv[j], config)
        new_rows.append(sample)
        if sample["survives_png"]:
            counts[name] += 1
            sample_ids.append(sample["id"])
        else:
            stats["not_surviving"] += 1
    return new_rows


def _store_sample(project: Project, run_id: int, loaded: LoadedClassifier, batch: Batch,
                  row: int, adv: np.ndarray, config: AttackConfig) -> dict[str, Any]:
    """Write one sample's PNGs, classify the PNGs as read back, insert its ``samples`` row."""

    item = batch.items[row]
    folder = project.frames_dir / f"attack-{run_id:04d}" / Path(item.relpath).stem
    clean_paths = write_pngs(folder, "clean", batch.clean[row])
    adv_paths = write_pngs(folder, "adv", adv)
    stored = read_pngs(adv_paths)
    png_probs = predict_probs(loaded.model, to_images(stored, device_of(loaded.model)),
                       config.batch_size)
    clean_top, adv_top = top5(batch.clean_probs[row], loaded.classes), top5(png_probs,
                                                                           loaded.classes)
    label = int(item.label)
    survives = int(png_probs.mean(0).argmax()) != label
    values = dict(
        run_id=run_id, video=item.relpath, true_label=loaded.classes[label], true_index=label,
        keyframes_json=to_json(batch.indices[row]), timestamps_json=to_json(batch.stamps[row]),
        attack=config.attack, eps=config.eps,
        attack_params_json=to_json({**config.params, "keyframe_method": config.keyframe_method,
                                    "keyframes": config.keyframes}),
        clean_pred=clean_top[0][0], clean_conf=clean_top[0][1],
        adv_pred=adv_top[0][0], adv_conf=adv_top[0][1],
        clean_top5_json=to_json(clean_top), adv_top5_json=to_json(adv_top),
        clean_frames_json=to_json([project.relpath(p) for p in clean_paths]),
        adv_frames_json=to_json([project.relpath(p) for p in adv_paths]),
        survives_png=int(survives), selected=int(survives), created_at=time.time())
    values["id"] = project.insert("samples", **values)
    return values


# ---------------------------------------------------------------------------- eps sweep
@dataclass
class SweepResult:
    """Attack success rate against eps: flipped / correct-before, over the given videos.

    ``per_class`` holds the classes with at least one correctly classified video;
    ``class_counts[name] = [videos, correct before]`` covers every class swept.
    """

    eps: list[float]
    success_rate: list[float]
    flipped: list[int]
    n_videos: int
    n_correct: int
    per_class: dict[str, list[float]]
    attack: str
    class_counts: dict[str, list[int]] = field(default_factory=dict)

    @property
    def eps_255(self) -> list[float]:
        return [e * 255.0 for e in self.eps]


def eps_sweep(loaded: LoadedClassifier, items: Sequence[VideoItem], eps_list: Sequence[Any],
              config: AttackConfig = AttackConfig()) -> Job[SweepResult]:
    """Attack the same videos at every eps; each video's keyframes are decoded once."""
    eps_values = [parse_eps(e) for e in eps_list]
    if not eps_values:
        raise InputError("eps_list is empty; pass values such as 0, 2/255, 4/255, 8/255")
    items = list(items)
    if not items:
        raise InputError("no videos to sweep over; pass at least one video item")
    for it in items:
        check_label(it.label, loaded.classes)
    flipped = np.zeros(len(eps_values), dtype=np.int64)
    class_flips: dict[str, np.ndarray] = {}
    class_correct: dict[str, int] = {}
    class_counts: dict[str, list[int]] = {}
    for it in items:
        class_counts.setdefault(loaded.classes[int(it.label)], [0, 0])[0] += 1
    n_correct, done = 0, 0
    total = len(items) * len(eps_values)
    crafter = load_surrogate(loaded, config)
    for chunk in batches(items, config):
        batch = load_batch(loaded, list(chunk), config)
        labels = np.array([int(it.label) for it in chunk])
        rows = np.flatnonzero(batch.clean_probs.mean(1).argmax(1) == labels)
        n_correct += len(rows)
        names = [loaded.classes[labels[r]] for r in rows]
        for name in names:
            class_correct[name] = class_correct.get(name, 0) + 1
            class_counts[name][1] += 1
            class_flips.setdefault(name, np.zeros(len(eps_values), dtype=np.int64))
        for j, eps in enumerate(eps_values):
            if len(rows):
                _, probs = attack_batch(loaded, batch, rows, replace(config, eps=eps),
                                        quantised=False, crafter=crafter)
                wrong = probs.mean(1).argmax(1) != labels[rows]
                flipped[j] += int(wrong.sum())
                for name, w in zip(names, wrong, strict=True):
                    class_flips[name][j] += int(w)
            done += len(chunk)
            yield Progress(done, total, f"eps {eps * 255:.3g}/255: {int(flipped[j])} flipped "
                                        f"of {n_correct} correct")
    rate = (flipped / n_correct).tolist() if n_correct else [0.0] * len(eps_values)
    per_class = {c: (class_flips[c] / class_correct[c]).tolist() for c in class_correct}
    return SweepResult(eps_values, rate, flipped.tolist(), len(items), n_correct, per_class,
                       config.attack, class_counts)


# ---------------------------------------------------------------------------- recorded sweep
@dataclass(frozen=True)
class SweepConfig:
    """An eps sweep as a recorded run: which classifier, which videos, which eps values.

    Attributes:
        attack: the attack and its settings (``eps`` is ignored; ``classes``, ``split``,
            ``fold``, ``seed``, ``keyframes`` and ``device`` are used).
        eps_list: budgets on the [0, 1] scale (``"8/255"`` strings are accepted).
        videos_per_class: videos of each class, drawn in a seeded order.
        checkpoint: the classifier file; dataset_root: the UCF-101-layout folder.
    """

    attack: AttackConfig
    eps_list: tuple[float, ...]
    videos_per_class: int
    checkpoint: str
    dataset_root: str

    def __post_init__(self) -> None:
        if not isinstance(self.attack, AttackConfig):
            raise InputError(f"attack must be an AttackConfig, got {type(self.attack).__name__}")
        values = tuple(parse_eps(e) for e in self.eps_list)
        if not values:
            raise InputError("eps_list is empty; pass values such as 0, 2/255, 4/255, 8/255")
        object.__setattr__(self, "eps_list", values)
        check_positive_int(self.videos_per_class, "videos_per_class")
        object.__setattr__(self, "checkpoint", str(self.checkpoint))
        object.__setattr__(self, "dataset_root", str(self.dataset_root))


def classifier_and_dataset(checkpoint: str, dataset_root: str, attack: AttackConfig,
                           loaded: LoadedClassifier | None = None,
                           dataset: UCF101 | None = None) -> tuple[LoadedClassifier, UCF101]:
    """The classifier and the dataset index an attack stage works on (the caller's when it
    holds them, as the GUI does), checked to name the same classes."""
    if loaded is None:
        loaded = load_classifier(checkpoint, device=attack.device)
    if dataset is None or dataset.fold != attack.fold:
        dataset = UCF101(dataset_root, fold=attack.fold)
    check_classes(checkpoint, loaded.classes, dataset.classes)
    return loaded, dataset


def run_sweep(project: Project, config: SweepConfig, *, loaded: LoadedClassifier | None = None,
              dataset: UCF101 | None = None) -> Job[SweepResult]:
    """The eps sweep of :func:`eps_sweep`, recorded as a ``sweep`` run of ``project``.

    ``loaded`` and ``dataset`` may be passed when the caller already holds them (the GUI's
    classifier cache and dataset index); they must match ``config``.
    """
    yield Progress(0, 0, "loading the classifier and the dataset")
    attack = config.attack
    loaded, dataset = classifier_and_dataset(config.checkpoint, config.dataset_root, attack,
                                             loaded, dataset)
    check_classes_known(attack.classes, loaded.classes)
    items = sweep_items(dataset.items(attack.split), attack.classes, config.videos_per_class,
                        attack.seed)
    with project.run("sweep", config, name=f"{attack.attack} eps sweep") as record:
        record.result = yield from eps_sweep(loaded, items, config.eps_list, attack)
    return record.result


def last_sweep(project: Project) -> SweepResult | None:
    """The result of the project's newest finished ``sweep`` run, or None."""
    for row in reversed(project.runs("sweep")):
        if row["status"] != "done" or not row["result_json"]:
            continue
        values = json.loads(row["result_json"])
        try:
            return SweepResult(**values)
        except TypeError:
            continue  # stored by an older release with other fields
    return None


# ---------------------------------------------------------------------------- defaults
def default_checkpoint(project: Project) -> Path:
    """The best checkpoint of the project's latest finished ``train`` run.

    Raises:
        InputError: the project has no finished training run with a checkpoint on disk.
    """
    path = best_checkpoint(project)
    if path is None:
        raise InputError(f"project {str(project.root)!r} has no trained checkpoint yet; train "
                         "one (harlab train --project ...) or pass --checkpoint PATH.")
    return path


def default_dataset_root(project: Project | None) -> Path:
    """The project's dataset (meta ``dataset_root``, else its training run's), else the demo."""
    if project is not None:
        root = project.get_meta("dataset_root")
        if root:
            return Path(root)
        for run in reversed(train_runs(project)):
            if run.config.get("dataset_root"):
                return Path(run.config["dataset_root"])
    return ensure_demo_dataset()


def sweep_items(items: Sequence[VideoItem], classes: Sequence[str], per_class: int,
                seed: int = 0) -> list[VideoItem]:
    """Up to ``per_class`` videos of each of ``classes`` (by class name), in a seeded order."""
    chosen = []
    for name in classes:
        pool = [it for it in items if it.class_name == name]
        random.Random(seed).shuffle(pool)
        chosen.extend(pool[:per_class])
    return chosen


def load_sample(project: Project, sample_id: int, loaded: LoadedClassifier) -> VideoAttack:
    """A stored sample as a :class:`VideoAttack`: its PNGs, classified again by ``loaded``."""
    sample = get_sample(project, sample_id)
    classes = list(loaded.classes)
    if sample.true_label not in classes:
        raise InputError(f"sample {sample_id} is of class {sample.true_label!r}, which the "
                         "loaded classifier does not know; load the checkpoint it was made "
                         "with.")
    clean, adv = read_pngs(sample.clean_frames), read_pngs(sample.adv_frames)
    device = device_of(loaded.model)
    return VideoAttack(
        video=sample.video, true_index=classes.index(sample.true_label),
        true_label=sample.true_label, keyframe_indices=sample.keyframes,
        timestamps_s=sample.timestamps_s, clean_frames=clean, adv_frames=adv,
        clean_probs=predict_probs(loaded.model, to_images(clean, device), 64),
        adv_probs=predict_probs(loaded.model, to_images(adv, device), 64),
        classes=classes, attack=sample.attack, eps=sample.eps)
