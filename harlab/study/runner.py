"""Running a study: each stage in order, resumable, redoing only what a changed setting touches.

The steps are the stage index's entries with a ``study_step`` (:data:`harlab.stages.STAGES`,
in its order), each run through its stage function: ``data`` (``index_data``; then the classes
are checked), ``classifier`` (the given checkpoint, the project's latest training run, or a new
one from ``train``), ``samples`` (``find_samples``: correct-to-wrong samples), ``query``
(unimodal and multimodal arms), ``score``. Each step records what it was run with
(a fingerprint of the settings it depends on, in the project's meta table): a later run skips a
stage whose fingerprint and output are unchanged, and redoes it (and what follows) otherwise.
Queries and scores are cached by content in the store, so re-running them asks nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harlab import stages
from harlab.attacks.selection import SelectionResult
from harlab.data.demo_data import ensure_demo_dataset_job
from harlab.errors import HarlabError, InputError
from harlab.jobs import Job, Progress
from harlab.llm.records import answer_counts
from harlab.llm.runner import QueryResult
from harlab.paths import file_sha256
from harlab.scoring.job import ScoreConfig
from harlab.store import Project
from harlab.study.config import StudyConfig
from harlab.study.export import save_study_config
from harlab.train.config import TrainConfig
from harlab.train.models import imagenet_weights_file
from harlab.train.runs import best_checkpoint

log = logging.getLogger(__name__)

#: The study's steps, in order: read from the stage index.
STEPS = stages.STUDY_STEPS


class StudyError(HarlabError):
    """A stage cannot go on; the message says what was found and what to change."""


@dataclass
class StudyResult:
    """What a study run did, stage by stage."""

    dataset_root: str = ""
    checkpoint: str = ""
    samples: dict[str, int] = field(default_factory=dict)
    queries: dict[str, dict[str, Any]] = field(default_factory=dict)
    scored: int = 0
    skipped_stages: list[str] = field(default_factory=list)
    failed_requests: int = 0


def stage_state(project: Project, config: StudyConfig) -> dict[str, str]:
    """Each step's state for dashboards: ``done``, ``stale`` (settings changed) or ``todo``."""
    states = {}
    for stage in STEPS:
        saved = project.get_meta(f"study/{stage}")
        want = _fingerprint(config, stage)
        states[stage] = "todo" if saved is None else ("done" if saved == want else "stale")
    return states


_DEPENDS = {
    "data": ("dataset", "fold", "classes"),
    "classifier": ("dataset", "fold", "checkpoint", "train_preset", "weights", "train"),
    "samples": ("dataset", "fold", "checkpoint", "train_preset", "weights", "train", "classes",
                "per_class", "keyframes", "keyframe_method", "attack", "eps", "seed",
                "attack_params", "surrogate"),
    "query": ("unimodal", "multimodal", "noise_floor", "seed"),
    "score": ("similarity_model",),
}


def _fingerprint(config: StudyConfig, stage: str) -> str:
    """The settings ``stage`` and the stages before it depend on (settings added later are
    left out while they have their defaults: :meth:`StudyConfig.fingerprint`)."""
    return config.fingerprint(*dict.fromkeys(k for s in STEPS[:STEPS.index(stage) + 1]
                                             for k in _DEPENDS[s]))


def _mark(project: Project, config: StudyConfig, stage: str) -> None:
    project.set_meta(f"study/{stage}", _fingerprint(config, stage))


def run_study(project: Project, config: StudyConfig) -> Job[StudyResult]:
    """Run every stage that is not done; yields Progress, returns a :class:`StudyResult`."""
    if not isinstance(config, StudyConfig):
        raise InputError(f"config must be a StudyConfig, got {type(config).__name__}")
    save_study_config(project, config)
    result = StudyResult()
    with project.run("study", config, name=config.name) as record:
        for step in STEPS:  # each step reads what earlier ones left in ``result``
            yield from _STEP_JOBS[step](project, config, result)
        record.result = result
    return result


def _data_stage(project: Project, config: StudyConfig, result: StudyResult) -> Job[None]:
    yield Progress(0, 0, "data: indexing the dataset")
    if config.dataset == "demo":
        root = yield from _demo_root(project)
    else:
        root = Path(config.dataset).expanduser()
    dataset = yield from stages.index_data(project, stages.DatasetConfig(str(root), config.fold))
    unknown = [c for c in config.classes if c not in dataset.classes]
    if unknown:
        raise StudyError(f"class {unknown[0]!r} is not in the dataset {str(root)!r}; its "
                         f"classes are: {', '.join(dataset.classes)}. Fix 'classes' in the "
                         "study config.")
    project.set_meta("dataset_root", str(root))
    result.dataset_root = str(root)
    _mark(project, config, "data")


def _demo_root(project: Project) -> Job[Path]:
    """The demo dataset of this project: the recorded folder when it exists, generated only
    for a project that has none recorded. A recorded folder missing here (a project copied
    from another account or machine) stops the study: regenerating the dataset or re-pointing
    the project is the user's decision, never made silently."""
    stored = project.get_meta("dataset_root")
    if not stored:
        return (yield from ensure_demo_dataset_job())
    if not Path(stored).is_dir():
        raise StudyError(
            f"this project's demo dataset {stored!r} does not exist here (the project was "
            "copied from another account or machine, or the dataset was deleted); nothing was "
            "regenerated. Regenerate it (`harlab data demo`, or the GUI's Overview) and point "
            f"the project at it with `harlab project repoint {str(project.root)!r} FOLDER`, "
            "or re-point it at an existing copy.")
    return Path(stored)


def _check_weights(config: StudyConfig, train_config: TrainConfig) -> None:
    """The paper preset never falls back to random weights without being told to."""
    if config.train_preset != "paper" or config.allow_random_weights:
        return
    weights = str(train_config.weights)
    if weights == "none":
        raise StudyError("the paper preset fine-tunes ImageNet weights, but weights is 'none'; "
                         "set weights: imagenet, or allow_random_weights: true to train from "
                         "scratch on purpose.")
    if weights in ("auto", "imagenet") and not imagenet_weights_file(train_config.arch).is_file():
        raise StudyError(
            f"the paper preset fine-tunes ImageNet ResNet-18 weights, and none are cached at "
            f"{str(imagenet_weights_file(train_config.arch))!r}. Online, run `python -c \"import "
            f"torchvision; torchvision.models.resnet18(weights='IMAGENET1K_V1')\"` once (it "
            f"caches them there), or give a weights file (weights: /path/resnet18-f37072fd.pth)"
            f"; or set allow_random_weights: true to train from scratch on purpose.")


def _classifier_stage(project: Project, config: StudyConfig, result: StudyResult) -> Job[None]:
    root = Path(result.dataset_root)
    if config.checkpoint:
        path = Path(config.checkpoint).expanduser()
        if not path.is_file():
            raise StudyError(f"checkpoint {str(path)!r} does not exist; give the path of a "
                             "classifier .pt, or leave checkpoint empty to train one.")
    else:
        done = project.get_meta("study/classifier") == _fingerprint(config, "classifier")
        path = best_checkpoint(project) if done else None
        if path is None or not path.is_file():
            train_config = config.train_config()
            _check_weights(config, train_config)
            yield Progress(0, 0, f"classifier: training ({config.train_preset} preset)")
            trained = yield from stages.train(project, train_config, root)
            path = trained.best_checkpoint
        else:
            result.skipped_stages.append("classifier")
    result.checkpoint = str(path)
    project.set_meta("study/checkpoint", project.portable(path))  # moves with the project
    _mark(project, config, "classifier")


def current_samples(project: Project) -> dict[str, int]:
    """Selected samples per true class."""
    rows = project.query("SELECT true_label, count(*) AS n FROM samples WHERE selected = 1 "
                         "GROUP BY true_label ORDER BY true_label")
    return {r["true_label"]: r["n"] for r in rows}


def _samples_stage(project: Project, config: StudyConfig, result: StudyResult) -> Job[None]:
    root, checkpoint = Path(result.dataset_root), Path(result.checkpoint)
    want = _fingerprint(config, "samples") + ":" + file_sha256(checkpoint)[:16]
    if project.get_meta("study/samples_key") == want:
        # Same classifier and attack: what was found is all the split holds for them.
        result.samples = current_samples(project)
        result.skipped_stages.append("samples")
        _check_enough(config, result.samples, project.get_meta("study/samples_note") or "")
        return
    # Another classifier or attack: earlier samples stay in the store, but leave the study.
    project.execute("UPDATE samples SET selected = 0 WHERE selected = 1")
    yield Progress(0, 0, "samples: attacking keyframes")
    found: SelectionResult = yield from stages.find_samples(
        project, config.attack_config(), checkpoint=checkpoint, dataset_root=root)
    result.samples = {c: found.per_class.get(c, 0) for c in config.classes}
    note = (f"{found.examined} videos examined, {found.clean_correct} correct before the "
            f"attack, {found.flipped} flipped")
    project.set_meta("study/samples_key", want)
    project.set_meta("study/samples_note", note)
    _mark(project, config, "samples")
    _check_enough(config, result.samples, note)


def _check_enough(config: StudyConfig, counts: dict[str, int], note: str) -> None:
    short = {c: counts.get(c, 0) for c in config.classes if counts.get(c, 0) < config.per_class}
    if short and not config.allow_fewer:
        found_text = ", ".join(f"{c}: {n} of {config.per_class}" for c, n in short.items())
        raise StudyError(
            f"too few correct-to-wrong samples ({found_text}; {note}). Raise eps (now "
            f"{config.attack_config().eps * 255:.3g}/255), use a stronger attack (pgd), add "
            "videos, or set allow_fewer: true to go on with these.")


def _unanswered(project: Project) -> int:
    """Original or attacked answers of selected samples, per arm, missing or failed."""
    return project.query_one(
        "SELECT count(*) FROM samples s, (SELECT 'unimodal' AS m UNION SELECT 'multimodal') a,"
        " (SELECT 'original' AS v UNION SELECT 'attacked') w WHERE s.selected = 1 AND NOT "
        "EXISTS (SELECT 1 FROM current_requests r WHERE r.sample_id = s.id AND r.modality = "
        "a.m AND r.variant = w.v AND r.status IN ('ok', 'skipped'))")[0]


def _query_stage(project: Project, config: StudyConfig, result: StudyResult) -> Job[None]:
    if (project.get_meta("study/query") == _fingerprint(config, "query")
            and not _unanswered(project)):
        result.skipped_stages.append("query")  # done: no server is started for nothing
        return
    for arm in ("unimodal", "multimodal"):
        llm = config.llm(arm)
        yield Progress(0, 0, f"query: {arm} ({llm.provider}:{llm.model_name})")
        answer: QueryResult = yield from stages.query(project, stages.QueryConfig(
            llm, modalities=(arm,), noise_floor=config.noise_floor))
        result.queries[arm] = {"asked": answer.asked, "cached": answer.cached,
                               "failed": answer.failed, "skipped": answer.skipped,
                               "cost_usd": answer.cost_usd}
        result.failed_requests += answer.failed
    _mark(project, config, "query")


def _score_stage(project: Project, config: StudyConfig, result: StudyResult) -> Job[None]:
    if ("query" in result.skipped_stages
            and project.get_meta("study/score") == _fingerprint(config, "score")):
        result.skipped_stages.append("score")  # no new answers: nothing new to score
        return
    yield Progress(0, 0, "score: cosine similarities and judgments")
    scored = yield from stages.score(project, ScoreConfig(
        semantic_model=config.similarity_model))
    result.scored = scored.added
    _mark(project, config, "score")


#: How the study runs each step of :data:`STEPS` (a step of the index with no entry here fails
#: the study's tests).
_STEP_JOBS = {"data": _data_stage, "classifier": _classifier_stage, "samples": _samples_stage,
              "query": _query_stage, "score": _score_stage}


def study_counts(project: Project) -> dict[str, Any]:
    """What the project holds for each stage, for dashboards."""
    return {
        "classifier": _stored_path(project, "study/checkpoint"),
        "samples": current_samples(project),
        "answers": answer_counts(project),
        "scores": project.query_one("SELECT count(*) FROM scores")[0],
        "ratings": project.query_one("SELECT count(*) FROM ratings")[0],
        "annotators": project.query_one("SELECT count(*) FROM annotators")[0],
    }


def _stored_path(project: Project, key: str) -> str:
    """A path kept in the project's meta, made absolute (stored relative when inside it)."""
    stored = project.get_meta(key)
    return str(project.resolve(stored)) if stored else ""
