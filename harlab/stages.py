"""The stage API: one function per stage of the study, the same for the CLI, the GUI and scripts.

Each stage takes a project (None where a stage needs none) and a frozen config and returns a
job: a generator yielding :class:`~harlab.jobs.Progress` that returns the stage's result. Drive
it with :func:`harlab.jobs.run`, :func:`harlab.jobs.run_cli` or the GUI's job runner; closing it
cancels. Stages that produce something record a run with :meth:`Project.run` (config, start,
end, and done / failed / cancelled).

Stages, in the order of the study:

==================  ==============================================  ===========================
stage               config                                          run kind recorded
==================  ==============================================  ===========================
``index_data``      :class:`DatasetConfig`                          (none: reads only)
``validate_data``   :class:`DatasetConfig`                          (none: reads only)
``build_cache``     :class:`DatasetConfig` + ``CacheConfig``        ``data`` (with a project)
``train``           :class:`~harlab.train.config.TrainConfig`       ``train``
``evaluate``        :class:`~harlab.train.evaluate.EvalConfig`      ``evaluate``
``find_samples``    :class:`~harlab.attacks.config.AttackConfig`    ``attack``
``sweep_eps``       :class:`~harlab.attacks.selection.SweepConfig`  ``sweep``
==================  ==============================================  ===========================

Query, score, rate and study are added to :data:`STAGES` as they move onto this API.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harlab.attacks.config import AttackConfig
from harlab.attacks.selection import (
    SelectionResult,
    SweepConfig,
    SweepResult,
    default_checkpoint,
    default_dataset_root,
    run_sweep,
    select_samples,
)
from harlab.data.framecache import CacheConfig, FrameCache
from harlab.data.framecache import build_cache as _build_cache
from harlab.data.ucf101 import UCF101, ValidationReport
from harlab.errors import InputError
from harlab.jobs import Job, Progress
from harlab.store import Project
from harlab.train.checkpoint import LoadedClassifier, check_classes, load_classifier
from harlab.train.config import TrainConfig
from harlab.train.evaluate import EvalConfig, EvalResult
from harlab.train.evaluate import evaluate as _evaluate
from harlab.train.fit import TrainResult
from harlab.train.fit import train as _train


@dataclass(frozen=True)
class DatasetConfig:
    """Which dataset to read: a UCF-101-layout folder and one of its three folds.

    Attributes:
        root: folder holding ``UCF-101/`` (or the video folder itself).
        fold: UCF-101 split 1-3.
        annotation_dir: the ``ucfTrainTestlist`` folder; None = found next to the videos.
    """

    root: str
    fold: int = 1
    annotation_dir: str | None = None

    def __post_init__(self) -> None:
        if not str(self.root).strip():
            raise InputError("dataset root is empty; choose the folder holding UCF-101/ (or "
                             "use the demo dataset)")
        object.__setattr__(self, "root", str(self.root))
        if self.fold not in (1, 2, 3):
            raise InputError(f"fold must be 1, 2 or 3 (UCF-101's three splits), got "
                             f"{self.fold!r}")


# ---------------------------------------------------------------------------- data
def index_data(_project: Project | None, config: DatasetConfig) -> Job[UCF101]:
    """Read the dataset's folders and split lists (no video is decoded)."""
    yield Progress(0, 0, f"indexing {config.root} (fold {config.fold})")
    return UCF101(config.root, annotation_dir=config.annotation_dir, fold=config.fold)


def validate_data(project: Project | None, config: DatasetConfig, *,
                  check_videos: bool = True) -> Job[ValidationReport]:
    """Compare lists and disk and, with ``check_videos``, open every video."""
    dataset = yield from index_data(project, config)
    return (yield from dataset.validate_job(check_videos=check_videos))


def build_cache(project: Project | None, config: DatasetConfig,
                cache: CacheConfig = CacheConfig(), cache_dir: Path | None = None
                ) -> Job[FrameCache]:
    """Decode sampled frames of every video once; recorded as a ``data`` run in a project."""
    dataset = yield from index_data(project, config)
    recording = (project.run("data", {"dataset": config, "cache": cache}, name="frame cache")
                 if project is not None else contextlib.nullcontext())
    with recording as record:
        result = yield from _build_cache(dataset, cache, cache_dir)
        if record is not None:
            record.result = {"folder": str(result.folder), "decoded": result.decoded,
                             "reused": result.reused, "failed": result.failed}
    return result


# ---------------------------------------------------------------------------- train
def train(project: Project | None, config: TrainConfig, dataset_root: str | Path, *,
          out_dir: str | Path | None = None, resume: str | Path | None = None
          ) -> Job[TrainResult]:
    """Fine-tune; see :func:`harlab.train.fit.train`."""
    return (yield from _train(config, dataset_root, out_dir, project=project, resume=resume))


def evaluate(project: Project | None, config: EvalConfig) -> Job[EvalResult]:
    """Test a checkpoint on a fold's test split; see :func:`harlab.train.evaluate.evaluate`."""
    return (yield from _evaluate(config.checkpoint, config.dataset_root, config.fold,
                                 project=project, batch_size=config.batch_size,
                                 device=config.device,
                                 frames_per_video=config.frames_per_video))


# ---------------------------------------------------------------------------- attack
def find_samples(project: Project, config: AttackConfig, *,
                 checkpoint: str | Path | None = None, dataset_root: str | Path | None = None,
                 loaded: LoadedClassifier | None = None, dataset: UCF101 | None = None
                 ) -> Job[SelectionResult]:
    """Select correct-to-wrong samples and store them in ``project``.

    ``checkpoint`` defaults to the project's best, ``dataset_root`` to the project's dataset;
    ``loaded`` and ``dataset`` may be passed when the caller already holds them.
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


def sweep_eps(project: Project, config: SweepConfig, *, loaded: LoadedClassifier | None = None,
              dataset: UCF101 | None = None) -> Job[SweepResult]:
    """Attack success rate against eps, recorded as a ``sweep`` run."""
    return (yield from run_sweep(project, config, loaded=loaded, dataset=dataset))


# ---------------------------------------------------------------------------- registry
#: Stage name -> function. The lead adds ``query``, ``score``, ``rate`` and ``study`` here
#: when those stages move onto this API (each: ``(project, config) -> Job``).
STAGES: dict[str, Callable[..., Job]] = {
    "index_data": index_data,
    "validate_data": validate_data,
    "build_cache": build_cache,
    "train": train,
    "evaluate": evaluate,
    "find_samples": find_samples,
    "sweep_eps": sweep_eps,
    # --- later stages (query, score, rate, study) go here ---
}


def stage(name: str) -> Callable[..., Job]:
    """The stage function called ``name``; unknown names raise with the valid ones."""
    try:
        return STAGES[name]
    except KeyError:
        raise InputError(f"unknown stage {name!r}; valid stages: {', '.join(STAGES)}") from None
