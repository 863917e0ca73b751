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
``query``           :class:`QueryConfig`                            ``query``
``score``           :class:`~harlab.scoring.job.ScoreConfig`        ``score``
``agreement``       :class:`~harlab.rating.agreement.AgreementConfig` (none: reads only)
``study``           :class:`~harlab.study.config.StudyConfig`       ``study`` (and each stage's)
==================  ==============================================  ===========================

Rating itself is people's work, answer by answer (:func:`harlab.rating.record_answer`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
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
from harlab.llm.config import LLMConfig
from harlab.llm.runner import MODALITIES, QueryResult, query_samples
from harlab.rating.agreement import AgreementConfig, AgreementResult
from harlab.rating.reliability import agreement_job
from harlab.rating.rubric_file import load_rubric
from harlab.scoring.job import ScoreConfig, ScoreResult, score_project
from harlab.store import Project
from harlab.study.config import StudyConfig
from harlab.study.runner import StudyResult, run_study
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


# ---------------------------------------------------------------------------- llm, scores
@dataclass(frozen=True)
class QueryConfig:
    """One query run: the model, the modalities, the noise-floor draws, a forced refresh."""

    llm: LLMConfig = field(default_factory=LLMConfig)
    modalities: tuple[str, ...] = MODALITIES
    noise_floor: int = 0
    refresh: bool = False
    sample_ids: tuple[int, ...] | None = None


def query(project: Project, config: QueryConfig) -> Job[QueryResult]:
    """Ask the language model about the selected samples (see :mod:`harlab.llm.runner`)."""
    return (yield from query_samples(project, config.llm, sample_ids=config.sample_ids,
                                     modalities=config.modalities, refresh=config.refresh,
                                     noise_floor=config.noise_floor))


def score(project: Project, config: ScoreConfig) -> Job[ScoreResult]:
    """Score every current answer pair (see :mod:`harlab.scoring`)."""
    return (yield from score_project(project, config))


def agreement(project: Project, config: AgreementConfig) -> Job[AgreementResult]:
    """Inter-annotator agreement of the project's ratings with bootstrap CIs."""
    return (yield from agreement_job(project, load_rubric(project.root), config))


def study(project: Project, config: StudyConfig) -> Job[StudyResult]:
    """Every stage of a study that is not done yet (see :mod:`harlab.study.runner`)."""
    return (yield from run_study(project, config))


# ---------------------------------------------------------------------------- registry
#: Stage name -> function, in the order of the study.
#: when those stages move onto this API (each: ``(project, config) -> Job``).
STAGES: dict[str, Callable[..., Job]] = {
    "index_data": index_data,
    "validate_data": validate_data,
    "build_cache": build_cache,
    "train": train,
    "evaluate": evaluate,
    "find_samples": find_samples,
    "sweep_eps": sweep_eps,
    "query": query,
    "score": score,
    "agreement": agreement,
    "study": study,
}


def stage(name: str) -> Callable[..., Job]:
    """The stage function called ``name``; unknown names raise with the valid ones."""
    try:
        return STAGES[name]
    except KeyError:
        raise InputError(f"unknown stage {name!r}; valid stages: {', '.join(STAGES)}") from None
