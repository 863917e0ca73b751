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

from harlab.errors import InputError
from harlab.jobs import Job, Progress
from harlab.scoring import judgments, similarity
from harlab.store import Project

MODALITIES = ("unimodal", "multimodal")
METRICS = ("syntactic_cosine", "semantic_cosine", "true_label_mentioned", "adv_label_mentioned",
           "decision_changed")


@dataclass(frozen=True)
class ScoreConfig:
    """What to score and how.

    Attributes:
        semantic_model: sentence-transformers model (name or folder), loaded offline; stored
            as the scorer of every semantic score.
        device: ``auto`` (GPU when usable), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        batch_size: texts per embedding forward pass, and pairs per progress step.
        metrics: which of :data:`METRICS` to compute.
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
        object.__setattr__(self, "metrics", _names(self.metrics, METRICS, "metric"))
        object.__setattr__(self, "modalities", _names(self.modalities, MODALITIES, "modality"))
        if not isinstance(self.device, str) or self.device.split(":")[0] not in similarity.DEVICES:
            raise InputError(f"device must be one of {', '.join(similarity.DEVICES)} (or "
                             f"cuda:N), got {self.device!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or not (
                1 <= self.batch_size <= 4096):
            raise InputError(f"batch_size must be a whole number in [1, 4096], got "
                             f"{self.batch_size!r} (64 suits a CPU)")
        if self.decision_rules is not None:
            object.__setattr__(self, "decision_rules", str(self.decision_rules))


def _names(value: Any, valid: Sequence[str], what: str) -> tuple[str, ...]:
    items = tuple(v.strip() for v in value.split(",")) if isinstance(value, str) else tuple(value)
    bad = [v for v in items if v not in valid]
    if bad or not items:
        raise InputError(f"unknown {what} {', '.join(map(repr, bad)) or '(none given)'}; valid "
                         f"{what} names: {', '.join(valid)}")
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


@dataclass(frozen=True)
class PairToScore:
    """Two current ok answers of one sample and modality, with what the judgments need."""

    sample_id: int
    modality: str
    pair: str
    a_id: int
    b_id: int
    a_text: str
    b_text: str
    true_label: str
    adv_label: str
    scenario: str | None


def current_requests(project: Project) -> dict[tuple[int, str, str], Any]:
    """The newest llm_requests row per (sample, modality, variant) of selected samples."""
    rows = project.query(
        "SELECT r.* FROM llm_requests r JOIN samples s ON s.id = r.sample_id "
        "WHERE s.selected = 1 AND r.id IN (SELECT max(id) FROM llm_requests "
        "GROUP BY sample_id, modality, variant)")
    return {(r["sample_id"], r["modality"], r["variant"]): r for r in rows}


def plan_pairs(project: Project, modalities: Sequence[str] = MODALITIES, *,
               scenario_of: Callable[[str], str | None] | None = None) -> list[PairToScore]:
    """Every pair with two current ok answers, in (sample, modality, pair) order."""
    if scenario_of is None:
        lookup = judgments.scenario_lookup(project.root)
        scenario_of = lambda label: lookup.get(label, lookup[None])  # noqa: E731
    current = current_requests(project)
    samples = {s["id"]: s for s in project.query(
        "SELECT id, true_label, adv_pred FROM samples WHERE selected = 1")}
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
                               s["true_label"], s["adv_pred"], scenario_of(s["true_label"])))
    return out


def _existing(project: Project, metric: str, scorer: str) -> set[tuple[int, int]]:
    rows = project.query("SELECT response_a_id, response_b_id FROM scores WHERE metric = ? AND "
                         "scorer = ?", (metric, scorer))
    return {(r[0], r[1]) for r in rows}


def _row(run_id: int, p: PairToScore, metric: str, scorer: str, value: float | None,
         reason: str | None, details: dict[str, Any]) -> tuple:
    if value is None and not reason:
        reason = "undefined"
    return (run_id, p.sample_id, p.modality, p.pair, metric, scorer, value, reason, p.a_id,
            p.b_id, json.dumps(details, sort_keys=True, ensure_ascii=False), time.time())


_INSERT = ("INSERT OR IGNORE INTO scores (run_id, sample_id, modality, pair, metric, scorer, "
           "value, reason, response_a_id, response_b_id, details_json, created_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def _judge(p: PairToScore, metric: str, rules: judgments.DecisionRules) -> tuple:
    """value, reason, details, scorer of one judgment metric."""
    if metric in ("true_label_mentioned", "adv_label_mentioned"):
        a = judgments.label_mention(p.a_text, p.true_label, p.adv_label)
        b = judgments.label_mention(p.b_text, p.true_label, p.adv_label)
        details = {"a": a, "b": b, "true_label": p.true_label, "adv_label": p.adv_label}
        if not p.b_text.strip():
            return None, "empty answer", details, judgments.LABEL_SCORER
        wanted = ("true", "both") if metric == "true_label_mentioned" else ("adversarial", "both")
        return float(b in wanted), None, details, judgments.LABEL_SCORER
    rule_set = rules.for_scenario(p.scenario)
    da, hits_a = rule_set.decide(p.a_text)
    db, hits_b = rule_set.decide(p.b_text)
    value, reason = judgments.decision_changed(da, db)
    details = {"a": da, "b": db, "scenario": p.scenario, "rules": rule_set.name,
               "hits_a": hits_a, "hits_b": hits_b}
    return value, reason, details, f"decision-rules-v1:{rule_set.name}:{rule_set.version}"


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
            before = project.query_one("SELECT count(*) FROM scores")[0]
            project.executemany(_INSERT, rows)
            added = project.query_one("SELECT count(*) FROM scores")[0] - before
            counts["added"] += added
            by_metric[metric] = by_metric.get(metric, 0) + added

        for metric in config.metrics:
            steps = _metric_steps(project, run.id, pairs, metric, config, rules, models)
            for rows, skipped, message in steps:
                counts["existing"] += skipped
                if rows:
                    write(rows, metric)
                done += len(rows) + skipped
                yield Progress(done, total, message)
        run.result = ScoreResult(run.id, len(pairs), counts["added"], counts["existing"],
                                 by_metric, round(time.perf_counter() - started, 3))
    return run.result


def _metric_steps(project: Project, run_id: int, pairs: list[PairToScore], metric: str,
                  config: ScoreConfig, rules: judgments.DecisionRules,
                  models: similarity.EmbeddingModels | None):
    """Batches of score rows for one metric: yields (rows, already stored, message)."""
    if metric == "semantic_cosine":
        yield from _semantic_steps(project, run_id, pairs, config, models)
        return
    existing = {(r[0], r[1], r[2]) for r in project.query(
        "SELECT scorer, response_a_id, response_b_id FROM scores WHERE metric = ?", (metric,))}
    step = max(config.batch_size, 256)  # these metrics are cheap: larger steps
    for start in range(0, len(pairs), step):
        batch = pairs[start:start + step]
        if metric == "syntactic_cosine":
            scorer = similarity.SYNTACTIC_SCORER
            todo = [p for p in batch if (scorer, p.a_id, p.b_id) not in existing]
            sims = similarity.compare_syntactic([(p.a_text, p.b_text) for p in todo])
            rows = [_row(run_id, p, metric, scorer, s.value, s.reason, s.details)
                    for p, s in zip(todo, sims, strict=True)]
        else:
            rows = []
            for p in batch:
                value, reason, details, scorer = _judge(p, metric, rules)
                if (scorer, p.a_id, p.b_id) not in existing:
                    rows.append(_row(run_id, p, metric, scorer, value, reason, details))
        yield rows, len(batch) - len(rows), f"{metric}: {start + len(batch)}/{len(pairs)}"


def _semantic_steps(project: Project, run_id: int, pairs: list[PairToScore],
                    config: ScoreConfig, models: similarity.EmbeddingModels | None):
    scorer = config.semantic_model
    existing = _existing(project, "semantic_cosine", scorer)
    todo = [p for p in pairs if (p.a_id, p.b_id) not in existing]
    if len(todo) < len(pairs):
        yield [], len(pairs) - len(todo), "semantic_cosine: already scored"
    if not todo:
        return
    yield [], 0, f"loading {scorer}"
    model = (models or similarity.EmbeddingModels()).get(scorer, config.device)
    embeddings: dict[str, Any] = {}
    for start in range(0, len(todo), config.batch_size):
        batch = todo[start:start + config.batch_size]
        sims = similarity.compare_semantic([(p.a_text, p.b_text) for p in batch], model,
                                           batch_size=config.batch_size, embeddings=embeddings)
        rows = [_row(run_id, p, "semantic_cosine", scorer, s.value, s.reason,
                     {**s.details, "model": scorer}) for p, s in zip(batch, sims, strict=True)]
        yield rows, 0, f"semantic_cosine: {start + len(batch)}/{len(todo)}"


def default_rules_path(project_root: str | Path) -> Path:
    """The project's own ``decision_rules.yaml`` when it has one, else the bundled file."""
    own = Path(project_root) / "decision_rules.yaml"
    return own if own.is_file() else judgments.DEFAULT_RULES_PATH
