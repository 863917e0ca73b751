"""The scoring job: every current answer pair of the project, every metric, stored once.

A pair is (sample, modality, ``attacked``) — the original answer vs the attacked one — or
(sample, modality, ``noise-k``) — the original vs its k-th clean re-draw, the noise floor. Only
pairs whose two current answers (the newest request row per sample, modality and variant) are
both ``ok`` are scored. Each score row names the two response ids it judged and its scorer, so a
new answer gets new scores, another semantic model adds rows, and a re-run adds nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harlab.attacks.samples import sample_rows
from harlab.errors import InputError
from harlab.jobs import Job, Progress
from harlab.llm.records import current_requests
from harlab.scoring import judgments, similarity
from harlab.scoring.metrics import (
    METRICS,
    MetricContext,
    PairToScore,
    Scored,
    check_metrics,
    metric,
)
from harlab.store import Project
from harlab.vocab import MODALITIES, SCORER_DEVICE_CHOICES

__all__ = ["METRICS", "MODALITIES", "PairToScore", "ScoreConfig", "ScoreResult",
           "default_rules_path", "plan_pairs", "score_project", "score_row", "write_scores"]


@dataclass(frozen=True)
class ScoreConfig:
    """What to score and how.

    Attributes:
        semantic_model: sentence-transformers model (name or folder), loaded offline; stored
            as the scorer of every semantic score.
        device: ``auto`` (GPU when usable), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        batch_size: texts per embedding forward pass, and pairs per progress step.
        metrics: which metrics of the registry (:mod:`harlab.scoring.metrics`) to compute.
        modalities: which of ``unimodal``, ``multimodal`` to score.
        decision_rules: a rules YAML file; None for ``resources/decision_rules.yaml``.
    """

    semantic_model: str = similarity.DEFAULT_MODEL
    device: str = "auto"
    batch_size: int = 64
    metrics: tuple[str, ...] = METRICS
    modalities: tuple[str, ...] = MODALITIES
    decision_rules: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "semantic_model",
                           similarity.resolve_model_name(self.semantic_model))
        object.__setattr__(self, "metrics", check_metrics(self.metrics))
        object.__setattr__(self, "modalities", _modalities(self.modalities))
        if (not isinstance(self.device, str)
                or self.device.split(":")[0] not in SCORER_DEVICE_CHOICES):
            raise InputError(f"device must be one of {', '.join(SCORER_DEVICE_CHOICES)} (or "
                             f"cuda:N), got {self.device!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or not (
                1 <= self.batch_size <= 4096):
            raise InputError(f"batch_size must be a whole number in [1, 4096], got "
                             f"{self.batch_size!r} (64 suits a CPU)")
        if self.decision_rules is not None:
            object.__setattr__(self, "decision_rules", str(self.decision_rules))


def _modalities(value: Any) -> tuple[str, ...]:
    items = tuple(v.strip() for v in value.split(",")) if isinstance(value, str) else tuple(value)
    bad = [v for v in items if v not in MODALITIES]
    if bad or not items:
        raise InputError(f"unknown modality {', '.join(map(repr, bad)) or '(none given)'}; "
                         f"valid modality names: {', '.join(MODALITIES)}")
    return tuple(dict.fromkeys(items))


@dataclass(frozen=True)
class ScoreResult:
    """What a scoring run did."""

    run_id: int
    pairs: int
    added: int
    existing: int
    by_metric: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def plan_pairs(project: Project, modalities: Sequence[str] = MODALITIES, *,
               scenario_of: Callable[[str], str | None] | None = None) -> list[PairToScore]:
    """Every pair with two current ok answers, in (sample, modality, pair) order."""
    if scenario_of is None:
        lookup = judgments.scenario_lookup(project.root)
        scenario_of = lambda label: lookup.get(label, lookup[None])  # noqa: E731
    current = current_requests(project, selected_only=True)
    samples = {s.id: s for s in sample_rows(project, selected=True)}
    out = []
    for (sid, modality, variant), row in sorted(current.items()):
        if modality not in modalities or variant == "original" or sid not in samples:
            continue
        if variant != "attacked" and not variant.startswith("noise-"):
            continue
        orig = current.get((sid, modality, "original"))
        if orig is None or orig["status"] != "ok" or row["status"] != "ok":
            continue
        s = samples[sid]
        out.append(PairToScore(sid, modality, variant, orig["id"], row["id"],
                               orig["response_text"] or "", row["response_text"] or "",
                               s.true_label, s.adv_pred, scenario_of(s.true_label)))
    return out


def score_row(run_id: int, pair: PairToScore, metric: str, scorer: str, scored: Scored
              ) -> tuple:
    """The ``scores`` row of one metric's value for one pair, as :func:`write_scores` takes it.

    A value of None always has a reason (``undefined`` when the metric gave none).
    """
    reason = scored.reason
    if scored.value is None and not reason:
        reason = "undefined"
    return (run_id, pair.sample_id, pair.modality, pair.pair, metric, scorer, scored.value,
            reason, pair.a_id, pair.b_id,
            json.dumps(scored.details, sort_keys=True, ensure_ascii=False), time.time())


_INSERT = ("INSERT OR IGNORE INTO scores (run_id, sample_id, modality, pair, metric, scorer, "
           "value, reason, response_a_id, response_b_id, details_json, created_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def write_scores(project: Project, rows: Sequence[tuple]) -> int:
    """Store :func:`score_row` rows in one transaction; returns how many were new.

    A row whose metric, scorer and response pair are already stored is skipped (the table
    keeps one row per metric, scorer and pair), so writing the same scores twice adds nothing.
    """
    before = project.query_one("SELECT count(*) FROM scores")[0]
    project.executemany(_INSERT, rows)
    return int(project.query_one("SELECT count(*) FROM scores")[0] - before)


def score_project(project: Project, config: ScoreConfig = ScoreConfig(), *,
                  models: similarity.EmbeddingModels | None = None,
                  scenario_of: Callable[[str], str | None] | None = None) -> Job[ScoreResult]:
    """Score every current ok pair; yields Progress per batch, returns a :class:`ScoreResult`.

    Args:
        models: the loader of the semantic model to reuse (a fresh one when None).
        scenario_of: true label -> scenario name for the decision rules (default: read from
            the project's scenario files, as the query stage does).
    """
    if not isinstance(config, ScoreConfig):
        raise InputError(f"config must be a ScoreConfig, got {type(config).__name__}")
    rules = judgments.load_decision_rules(config.decision_rules
                                          or default_rules_path(project.root))
    started = time.perf_counter()
    with project.run("score", config, name=config.semantic_model) as run:
        yield Progress(0, 0, "reading answers")
        pairs = plan_pairs(project, config.modalities, scenario_of=scenario_of)
        counts = {"added": 0, "existing": 0}
        by_metric: dict[str, int] = {}
        total = len(pairs) * len(config.metrics)
        done = 0

        def write(rows: list[tuple], metric: str) -> None:
            added = write_scores(project, rows)
            counts["added"] += added
            by_metric[metric] = by_metric.get(metric, 0) + added

        context = MetricContext(config.semantic_model, config.device, config.batch_size, rules,
                                models)
        for name in config.metrics:
            for rows, skipped, message in _metric_steps(project, run.id, pairs, name, context):
                counts["existing"] += skipped
                if rows:
                    write(rows, name)
                done += len(rows) + skipped
                yield Progress(done, total, message)
        run.result = ScoreResult(run.id, len(pairs), counts["added"], counts["existing"],
                                 by_metric, round(time.perf_counter() - started, 3))
    return run.result


def _metric_steps(project: Project, run_id: int, pairs: list[PairToScore], name: str,
                  context: MetricContext):
    """Batches of score rows for one metric: yields (rows, already stored, message).

    A pair already scored by the metric's scorer is skipped before anything is computed, so a
    re-run loads no model.
    """
    spec = metric(name)
    existing = {(r[0], r[1], r[2]) for r in project.query(
        "SELECT scorer, response_a_id, response_b_id FROM scores WHERE metric = ?", (name,))}
    todo = [(p, scorer) for p in pairs
            if (scorer := spec.scorer(p, context), p.a_id, p.b_id) not in existing]
    if len(todo) < len(pairs):
        yield [], len(pairs) - len(todo), f"{name}: already scored"
    if spec.needs_model and todo:
        yield [], 0, f"loading {context.semantic_model}"
    # Model metrics go in forward-pass batches; the others are cheap: larger steps.
    step = context.batch_size if spec.needs_model else max(context.batch_size, 256)
    for start in range(0, len(todo), step):
        batch = todo[start:start + step]
        scored = spec.compute([p for p, _ in batch], context)
        rows = [score_row(run_id, p, name, scorer, s)
                for (p, scorer), s in zip(batch, scored, strict=True)]
        yield rows, 0, f"{name}: {start + len(batch)}/{len(todo)}"


def default_rules_path(project_root: str | Path) -> Path:
    """The project's own ``decision_rules.yaml`` when it has one, else the bundled file."""
    own = Path(project_root) / "decision_rules.yaml"
    return own if own.is_file() else judgments.DEFAULT_RULES_PATH
