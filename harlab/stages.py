"""The stage index: one entry per stage of the study, used by the CLI, the GUI and the study.

Each stage takes a project (None where a stage needs none) and a frozen config and returns a
job: a generator yielding :class:`~harlab.jobs.Progress` that returns the stage's result. Drive
it with :func:`harlab.jobs.run`, :func:`harlab.jobs.run_cli` or the GUI's job runner; closing it
cancels. Stages that produce something record a run with :meth:`Project.run` (config, start,
end, and done / failed / cancelled).

:data:`STAGES` holds a :class:`Stage` per stage, in the order of the study: its name, config
type, job function, the run kind it records and, for the stages a study runs, the step name the
study records it under. The ``harlab`` subcommands and the GUI's panels call these functions,
and :func:`harlab.study.runner.run_study` runs the entries with a ``study_step`` in index
order. To add a stage: write its job function, add one :class:`Stage` here, and (for the
command line) a ``register`` module in :mod:`harlab.cli`.

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
``attack_report``   :class:`~harlab.attacks.report.ReportConfig`    ``attack_report``
``query``           :class:`QueryConfig`                            ``query``
``score``           :class:`~harlab.scoring.job.ScoreConfig`        ``score``
``curve``           :class:`~harlab.study.curves.CurveConfig`       ``curve``
``agreement``       :class:`~harlab.rating.agreement.AgreementConfig` (none: reads only)
==================  ==============================================  ===========================

The whole study (:func:`harlab.study.runner.run_study`, recorded as a ``study`` run) sits above
this index: it reads it, so it cannot be an entry of it. Rating itself is people's work, answer
by answer (:func:`harlab.rating.record_answer`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harlab.attacks.config import AttackConfig
from harlab.attacks.report import ReportConfig, run_report
from harlab.attacks.selection import SweepConfig, SweepResult, find_samples, run_sweep
from harlab.data.framecache import CacheConfig, FrameCache
from harlab.data.framecache import build_cache as _build_cache
from harlab.data.ucf101 import UCF101, ValidationReport
from harlab.errors import InputError
from harlab.jobs import Job, Progress
from harlab.llm.config import LLMConfig
from harlab.llm.runner import QueryResult, query_samples
from harlab.rating.agreement import AgreementConfig, AgreementResult
from harlab.rating.reliability import agreement_job
from harlab.rating.rubric_file import load_rubric
from harlab.scoring.job import ScoreConfig, ScoreResult, score_project
from harlab.scoring.similarity import EmbeddingModels
from harlab.store import Project
from harlab.study.curves import CurveConfig, run_curve
from harlab.train.checkpoint import LoadedClassifier
from harlab.train.config import TrainConfig
from harlab.train.evaluate import EvalConfig, EvalResult
from harlab.train.evaluate import evaluate as _evaluate
from harlab.train.fit import TrainResult
from harlab.train.fit import train as _train
from harlab.vocab import DEFAULT_NOISE_FLOOR, MODALITIES

__all__ = ["STAGES", "STUDY_STEPS", "DatasetConfig", "QueryConfig", "Stage", "SweepConfig",
           "agreement", "build_cache", "evaluate", "find_samples", "index_data", "query",
           "score", "stage", "sweep_eps", "train", "validate_data"]


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
def sweep_eps(project: Project, config: SweepConfig, *, loaded: LoadedClassifier | None = None,
              dataset: UCF101 | None = None) -> Job[SweepResult]:
    """Attack success rate against eps, recorded as a ``sweep`` run."""
    return (yield from run_sweep(project, config, loaded=loaded, dataset=dataset))


# ---------------------------------------------------------------------------- llm, scores
@dataclass(frozen=True)
class QueryConfig:
    """One query run: the model, the modalities, the noise-floor draws, a forced refresh.

    Attributes:
        sample_ids: only these samples; None = every selected sample.
        batch_api: send through OpenAI's Batch API, polled every ``batch_poll_s`` seconds.
    """

    llm: LLMConfig = field(default_factory=LLMConfig)
    modalities: tuple[str, ...] = MODALITIES
    noise_floor: int = DEFAULT_NOISE_FLOOR
    refresh: bool = False
    sample_ids: tuple[int, ...] | None = None
    batch_api: bool = False
    batch_poll_s: float = 30.0

    def __post_init__(self) -> None:
        if not isinstance(self.llm, LLMConfig):
            raise InputError(f"llm must be an LLMConfig, got {type(self.llm).__name__}")
        modalities = (self.modalities.split(",") if isinstance(self.modalities, str)
                      else self.modalities)
        object.__setattr__(self, "modalities", tuple(m.strip() for m in modalities))
        if self.sample_ids is not None:
            object.__setattr__(self, "sample_ids", tuple(int(i) for i in self.sample_ids))


def query(project: Project, config: QueryConfig) -> Job[QueryResult]:
    """Ask the language model about the selected samples (see :mod:`harlab.llm.runner`)."""
    return (yield from query_samples(project, config.llm, sample_ids=config.sample_ids,
                                     modalities=config.modalities, refresh=config.refresh,
                                     noise_floor=config.noise_floor,
                                     batch_api=config.batch_api,
                                     batch_poll_s=config.batch_poll_s))


def score(project: Project, config: ScoreConfig, *, models: EmbeddingModels | None = None
          ) -> Job[ScoreResult]:
    """Score every current answer pair (see :mod:`harlab.scoring`); ``models`` reuses a
    loader that already holds the semantic model."""
    return (yield from score_project(project, config, models=models))


def agreement(project: Project, config: AgreementConfig, item: str | None = None
              ) -> Job[AgreementResult]:
    """Inter-annotator agreement of the project's ratings (its own rubric) with bootstrap CIs;
    ``item``: one rubric item only."""
    return (yield from agreement_job(project, load_rubric(project.root), config, item))


# ---------------------------------------------------------------------------- the index
@dataclass(frozen=True)
class Stage:
    """One entry of the index.

    Attributes:
        name: the key in :data:`STAGES`.
        config: the config type its job takes.
        job: ``(project, config, ...) -> Job``.
        run_kind: the ``runs.kind`` it records; None for stages that only read.
        title: one line for lists and help texts.
        study_step: the name under which a study records this stage (its settings
            fingerprint in the project's meta ``study/<step>``); None for stages a study does
            not run.
    """

    name: str
    config: type
    job: Callable[..., Job]
    run_kind: str | None
    title: str
    study_step: str | None = None


#: Stage name -> :class:`Stage`, in the order of the study.
STAGES: dict[str, Stage] = {s.name: s for s in (
    Stage("index_data", DatasetConfig, index_data, None,
          "read a dataset's folders and split lists", study_step="data"),
    Stage("validate_data", DatasetConfig, validate_data, None,
          "compare split lists and disk, and open every video"),
    Stage("build_cache", DatasetConfig, build_cache, "data",
          "decode the sampled training frames once"),
    Stage("train", TrainConfig, train, "train", "fine-tune the classifier",
          study_step="classifier"),
    Stage("evaluate", EvalConfig, evaluate, "evaluate", "test a checkpoint on a test split"),
    Stage("find_samples", AttackConfig, find_samples, "attack",
          "attack keyframes and keep the correct-to-wrong samples", study_step="samples"),
    Stage("sweep_eps", SweepConfig, sweep_eps, "sweep", "attack success rate against eps"),
    Stage("attack_report", ReportConfig, run_report, "attack_report",
          "clean and robust top-1 per attack and eps, with Wilson CIs"),
    Stage("query", QueryConfig, query, "query", "ask the language model about the samples",
          study_step="query"),
    Stage("score", ScoreConfig, score, "score", "score every current answer pair",
          study_step="score"),
    Stage("curve", CurveConfig, run_curve, "curve",
          "robustness curve through the LLM: flip rate and LLM outcomes per attack and eps"),
    Stage("agreement", AgreementConfig, agreement, None,
          "inter-annotator agreement of the ratings"),
)}

#: The steps a study runs, in order (the stages with a ``study_step``).
STUDY_STEPS: tuple[str, ...] = tuple(s.study_step for s in STAGES.values() if s.study_step)


def stage(name: str) -> Stage:
    """The stage called ``name``; unknown names raise with the valid ones."""
    try:
        return STAGES[name]
    except KeyError:
        raise InputError(f"unknown stage {name!r}; valid stages: {', '.join(STAGES)}") from None
