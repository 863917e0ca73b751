"""The metric registry: one :class:`MetricSpec` per score, in :data:`METRIC_SPECS`.

The scoring job, Table 3, the exports and the CLI read the metric names, kinds and scorers from
here; nothing else spells them out. A spec holds everything about one metric: its name, its
kind (``similarity`` of the two answers, or a ``judgment`` about them), the scorer id stored
with each value, whether it loads a model, how it scores a batch of pairs, its value range and a
one-line description. An unknown name raises with the list of valid names, so a metric with no
spec can never be scored by another metric's code.

To add a metric: write its batch function (in :mod:`.similarity`, :mod:`.judgments` or a new
module), then add one :class:`MetricSpec` to :data:`METRIC_SPECS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from harlab.errors import InputError
from harlab.scoring import judgments, similarity, whole_text

SIMILARITY = "similarity"  #: how close the two answers are (compared against the noise floor)
JUDGMENT = "judgment"      #: a fact about the answers (which label they name, the decision)
KINDS = (SIMILARITY, JUDGMENT)


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


@dataclass(frozen=True)
class Scored:
    """One metric's value for one pair; ``value`` is None only with a ``reason``."""

    value: float | None
    reason: str | None
    details: dict[str, Any]


@dataclass
class MetricContext:
    """What a metric may need beyond the pairs, shared by the batches of one scoring run.

    Attributes:
        semantic_model: the sentence-transformers model (name or folder) of model metrics.
        device, batch_size: where and how many texts per forward pass.
        rules: the decision rules of the judgments.
        models: the loader of the semantic model (a fresh one when None); loaded on first use.
        embeddings: text -> embedding, kept across batches so each text is embedded once.
        whole: text -> whole-answer embedding, word pieces and windows (the same, for
            ``semantic_cosine_full``).
    """

    semantic_model: str
    device: str
    batch_size: int
    rules: judgments.DecisionRules
    models: similarity.EmbeddingModels | None = None
    embeddings: dict[str, Any] = field(default_factory=dict)
    whole: dict[str, Any] = field(default_factory=dict)
    _model: Any = None

    def model(self) -> Any:
        """The loaded semantic model (loaded once, at the first call)."""
        if self._model is None:
            loader = self.models or similarity.EmbeddingModels()
            self._model = loader.get(self.semantic_model, self.device)
        return self._model


@dataclass(frozen=True)
class MetricSpec:
    """Everything about one metric.

    Attributes:
        name: the ``scores.metric`` value and the column name in the exports.
        kind: :data:`SIMILARITY` or :data:`JUDGMENT`.
        scorer: ``(pair, context) -> scorer id`` stored with the value (a model name or a
            rule version); a pair already scored by the same scorer is not scored again.
        compute: ``(pairs, context) -> [Scored]``, one per pair, in order: how it scores a
            batch.
        value_range: the values it can take, ``(low, high)``.
        description: one line for help texts.
        needs_model: whether it loads the semantic model (its scores are read back for one
            model at a time, and it is scored in ``batch_size`` steps).
        verify_tol: how far a value recomputed by ``harlab verify`` may be from the stored one
            (model metrics differ in the last digits across BLAS builds and devices).
    """

    name: str
    kind: str
    scorer: Callable[[PairToScore, MetricContext], str]
    compute: Callable[[Sequence[PairToScore], MetricContext], list[Scored]]
    value_range: tuple[float, float]
    description: str
    needs_model: bool = False
    verify_tol: float = 1e-9

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"metric kind must be one of {', '.join(KINDS)}, got {self.kind!r}")


# ---------------------------------------------------------------------------- batch functions
def _syntactic(pairs: Sequence[PairToScore], _ctx: MetricContext) -> list[Scored]:
    sims = similarity.compare_syntactic([(p.a_text, p.b_text) for p in pairs])
    return [Scored(s.value, s.reason, s.details) for s in sims]


def _semantic(pairs: Sequence[PairToScore], ctx: MetricContext) -> list[Scored]:
    sims = similarity.compare_semantic([(p.a_text, p.b_text) for p in pairs], ctx.model(),
                                       batch_size=ctx.batch_size, embeddings=ctx.embeddings)
    return [Scored(s.value, s.reason, {**s.details, "model": ctx.semantic_model}) for s in sims]


def _semantic_full(pairs: Sequence[PairToScore], ctx: MetricContext) -> list[Scored]:
    sims = whole_text.compare_semantic_full([(p.a_text, p.b_text) for p in pairs], ctx.model(),
                                            batch_size=ctx.batch_size, cache=ctx.whole)
    return [Scored(s.value, s.reason, {**s.details, "model": ctx.semantic_model}) for s in sims]


def _label_mentioned(wanted: tuple[str, ...]
                     ) -> Callable[[Sequence[PairToScore], MetricContext], list[Scored]]:
    """1 when the second answer's mention category is one of ``wanted``."""
    def compute(pairs: Sequence[PairToScore], _ctx: MetricContext) -> list[Scored]:
        out = []
        for p in pairs:
            a = judgments.label_mention(p.a_text, p.true_label, p.adv_label)
            b = judgments.label_mention(p.b_text, p.true_label, p.adv_label)
            details = {"a": a, "b": b, "true_label": p.true_label, "adv_label": p.adv_label}
            if not p.b_text.strip():
                out.append(Scored(None, "empty answer", details))
            else:
                out.append(Scored(float(b in wanted), None, details))
        return out
    return compute


def _decision_changed(pairs: Sequence[PairToScore], ctx: MetricContext) -> list[Scored]:
    out = []
    for p in pairs:
        rule_set = ctx.rules.for_scenario(p.scenario)
        da, hits_a = rule_set.decide(p.a_text)
        db, hits_b = rule_set.decide(p.b_text)
        value, reason = judgments.decision_changed(da, db)
        out.append(Scored(value, reason, {"a": da, "b": db, "scenario": p.scenario,
                                          "rules": rule_set.name, "hits_a": hits_a,
                                          "hits_b": hits_b}))
    return out


def _rules_scorer(p: PairToScore, ctx: MetricContext) -> str:
    rule_set = ctx.rules.for_scenario(p.scenario)
    return f"decision-rules-v1:{rule_set.name}:{rule_set.version}"


def _fixed(scorer: str) -> Callable[[PairToScore, MetricContext], str]:
    return lambda _p, _ctx: scorer


# ---------------------------------------------------------------------------- the registry
METRIC_SPECS: dict[str, MetricSpec] = {spec.name: spec for spec in (
    MetricSpec("syntactic_cosine", SIMILARITY, _fixed(similarity.SYNTACTIC_SCORER), _syntactic,
               (0.0, 1.0), "cosine of the two answers' bag-of-words count vectors"),
    MetricSpec("semantic_cosine", SIMILARITY, lambda _p, ctx: ctx.semantic_model, _semantic,
               (-1.0, 1.0), "cosine of the two answers' sentence-transformers embeddings",
               needs_model=True, verify_tol=1e-4),
    MetricSpec("semantic_cosine_full", SIMILARITY, lambda _p, ctx: ctx.semantic_model,
               _semantic_full, (-1.0, 1.0),
               "semantic cosine of whole answers: overlapping windows of the model's length, "
               "mean-pooled and normalised (= semantic_cosine when neither is truncated)",
               needs_model=True, verify_tol=1e-4),
    MetricSpec("true_label_mentioned", JUDGMENT, _fixed(judgments.LABEL_SCORER),
               _label_mentioned(("true", "both")), (0.0, 1.0),
               "1 when the second answer still names the true action"),
    MetricSpec("adv_label_mentioned", JUDGMENT, _fixed(judgments.LABEL_SCORER),
               _label_mentioned(("adversarial", "both")), (0.0, 1.0),
               "1 when the second answer names the adversarial label"),
    MetricSpec("decision_changed", JUDGMENT, _rules_scorer, _decision_changed, (0.0, 1.0),
               "1 when the answers' alert / no_alert recommendations differ (decision rules)"),
)}

#: Every metric name, in the order of the tables.
METRICS: tuple[str, ...] = tuple(METRIC_SPECS)


def metric(name: str) -> MetricSpec:
    """The spec of metric ``name``; unknown names raise with the valid ones."""
    try:
        return METRIC_SPECS[name]
    except (KeyError, TypeError):
        raise InputError(f"unknown metric {name!r}; valid metric names: {', '.join(METRICS)}"
                         ) from None


def check_metrics(value: str | Iterable[str]) -> tuple[str, ...]:
    """Metric names from a comma-separated string or a sequence, checked, without repeats."""
    items = (tuple(v.strip() for v in value.split(",")) if isinstance(value, str)
             else tuple(value))
    if not items:
        raise InputError(f"unknown metric (none given); valid metric names: "
                         f"{', '.join(METRICS)}")
    for name in items:
        metric(name)
    return tuple(dict.fromkeys(items))


def of_kind(kind: str, names: Iterable[str] = METRICS) -> tuple[str, ...]:
    """The metrics of ``kind`` among ``names``, in registry order."""
    wanted = set(names)
    return tuple(n for n, spec in METRIC_SPECS.items() if spec.kind == kind and n in wanted)


def needs_model(name: str) -> bool:
    """Whether ``name``'s scores depend on the semantic model (read back per model)."""
    return metric(name).needs_model
