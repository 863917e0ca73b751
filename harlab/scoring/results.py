"""Read stored scores back for views and exports: per pair, vs the noise floor, as Table 3.

Views (the Results panel, the CLI) call these instead of querying the store. Only scores of
the *current* answers count: the newest request row per (sample, modality, variant); scores of
answers since replaced stay in the store but are not shown.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harlab.jobs import Job, Progress
from harlab.llm.records import latest_requests
from harlab.scoring import similarity, stats
from harlab.scoring.job import plan_pairs
from harlab.scoring.metrics import JUDGMENT, METRICS, SIMILARITY, needs_model, of_kind
from harlab.scoring.metrics import metric as metric_spec
from harlab.store import Project
from harlab.vocab import MODALITIES


@dataclass(frozen=True)
class PairScore:
    """The current scores of one pair (original vs attacked, or vs a noise draw)."""

    sample_id: int
    modality: str
    pair: str
    response_a_id: int
    response_b_id: int
    true_label: str
    adv_label: str
    values: dict[str, float | None] = field(default_factory=dict)
    reasons: dict[str, str | None] = field(default_factory=dict)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class NoiseRow:
    """One sample's drift (original vs attacked) next to its noise floor (original vs re-draws)."""

    sample_id: int
    modality: str
    metric: str
    drift: float | None
    noise: tuple[float, ...]
    z: float | None
    note: str = ""


@dataclass(frozen=True)
class DriftSummary:
    """The z-scores of one modality and metric, summarised.

    ``noise_draws`` is the median number of draws among samples with a floor (the note gives
    the range when they differ). ``expected_share_null`` is the share of z < -2 to expect when
    the attack changes nothing (:func:`stats.null_share_below`, averaged over the samples'
    draw counts): compare ``share_below_minus2`` with it, not with 0.023.
    """

    modality: str
    metric: str
    n: int
    noise_draws: int
    mean_z: float | None
    median_z: float | None
    share_below_minus2: float | None
    note: str = ""
    expected_share_null: float | None = None
    z_reference: str = ""


@dataclass(frozen=True)
class Truncation:
    """How many semantic cosines of one modality saw cut text (the model's word-piece limit)."""

    modality: str
    pairs: int
    truncated: int
    max_seq_length: int | None

    def describe(self) -> str:
        limit = f"{self.max_seq_length} word pieces" if self.max_seq_length else "the limit"
        return (f"{self.truncated} of {self.pairs} pairs truncated at {limit} (either answer "
                "longer); semantic_cosine_full embeds whole answers")


@dataclass(frozen=True)
class Results:
    """Table 3 and the tests around it."""

    rows: list[stats.Summary]
    paired: list[stats.PairedTest]
    drift: list[DriftSummary]
    distinct_prompts: dict[str, int]
    by_class: dict[str, dict[str, tuple[int, int]]]
    semantic_model: str
    config: stats.StatsConfig
    truncation: dict[str, Truncation] = field(default_factory=dict)


def pair_scores(project: Project, *, semantic_model: str = similarity.DEFAULT_MODEL,
                modalities: Sequence[str] = MODALITIES,
                pairs: str = "attacked") -> list[PairScore]:
    """One record per current pair of kind ``pairs`` (``attacked``, ``noise`` or ``all``).

    Per metric the newest score of the pair's two response ids is taken; a metric that needs a
    model (the semantic cosine) only from ``semantic_model``.
    """
    semantic_model = similarity.resolve_model_name(semantic_model)
    wanted = [p for p in plan_pairs(project, modalities, scenario_of=lambda _label: None)
              if pairs == "all" or (p.pair == "attacked") == (pairs == "attacked")]
    by_ids = {(p.a_id, p.b_id): p for p in wanted}
    found: dict[tuple[int, int], dict[str, Any]] = {}
    for r in project.query("SELECT * FROM scores ORDER BY id"):
        key = (r["response_a_id"], r["response_b_id"])
        if key not in by_ids:
            continue
        if not _wanted_scorer(r, semantic_model):
            continue
        found.setdefault(key, {})[r["metric"]] = r  # ascending ids: the newest wins
    out = []
    for key, p in by_ids.items():
        rows = found.get(key, {})
        out.append(PairScore(
            p.sample_id, p.modality, p.pair, p.a_id, p.b_id, p.true_label, p.adv_label,
            values={m: r["value"] for m, r in rows.items()},
            reasons={m: r["reason"] for m, r in rows.items()},
            details={m: json.loads(r["details_json"] or "{}") for m, r in rows.items()}))
    return out


def _wanted_scorer(row: Any, semantic_model: str) -> bool:
    """A score row counts unless its metric needs a model and another model made it (a
    metric no longer registered is kept as stored)."""
    return (row["metric"] not in METRICS or not needs_model(row["metric"])
            or row["scorer"] == semantic_model)


def drift_vs_noise(project: Project, metric: str = "semantic_cosine", *,
                   semantic_model: str = similarity.DEFAULT_MODEL,
                   scores: list[PairScore] | None = None) -> list[NoiseRow]:
    """Per sample and modality with an attacked pair: its drift, noise values and z-score."""
    scores = scores if scores is not None else pair_scores(
        project, semantic_model=semantic_model, pairs="all")
    noise: dict[tuple[int, str], list[float]] = {}
    for s in scores:
        if s.pair != "attacked" and s.values.get(metric) is not None:
            noise.setdefault((s.sample_id, s.modality), []).append(s.values[metric])
    out = []
    for s in scores:
        if s.pair != "attacked":
            continue
        floor = noise.get((s.sample_id, s.modality), [])
        z, note = stats.drift_z(s.values.get(metric), floor)
        out.append(NoiseRow(s.sample_id, s.modality, metric, s.values.get(metric),
                            tuple(floor), z, note))
    return out


def summarise_drift(rows: Sequence[NoiseRow], modality: str, metric: str) -> DriftSummary:
    zs = np.asarray([r.z for r in rows if r.z is not None], dtype=np.float64)
    draws = [len(r.noise) for r in rows if r.noise]  # among samples that have a floor
    k = int(np.median(draws)) if draws else 0
    if len(zs) == 0:
        if not rows:
            note = f"no scored {modality} answer pairs (see the skip reasons)"
        elif k < 2:
            note = "no noise floor: ask with a noise floor of 2 or more draws"
        else:
            note = "no sample has a usable noise floor"
        return DriftSummary(modality, metric, 0, k, None, None, None, note)
    used = [len(r.noise) for r in rows if r.z is not None]
    expected = float(np.mean([stats.null_share_below(-2.0, n) for n in used]))
    notes = [f"noise draws per sample {min(used)}-{max(used)}, median {k}"
             if min(used) != max(used) else ""]
    notes.append(f"expect {expected:.3f} of z < -2 with no effect ({k} draws; z uses a std of "
                 f"{k} values)")
    return DriftSummary(modality, metric, len(zs), k, float(np.mean(zs)), float(np.median(zs)),
                        float(np.mean(zs < -2)), "; ".join(n for n in notes if n), expected,
                        stats.Z_REFERENCE)


def truncation_counts(scores: Sequence[PairScore], metric_name: str = "semantic_cosine"
                      ) -> dict[str, Truncation]:
    """Per modality: scored attacked pairs, and those with an answer cut by the model."""
    out = {}
    for modality in MODALITIES:
        scored = [s for s in scores if s.pair == "attacked" and s.modality == modality
                  and s.values.get(metric_name) is not None]
        cut = [s for s in scored if truncated_sides(s.details.get(metric_name, {}))]
        limits = {s.details.get(metric_name, {}).get("max_seq_length") for s in cut} - {None}
        out[modality] = Truncation(modality, len(scored), len(cut),
                                   max(limits) if limits else None)
    return out


def truncated_sides(details: dict[str, Any]) -> dict[str, int | None]:
    """``{"a": word pieces, "b": ...}`` for each side the model truncated (from details)."""
    return {side: details.get(f"tokens_{side}") for side in ("a", "b")
            if details.get(f"truncated_{side}")}


def _prompt_key(request_json: str | None) -> str:
    """What was asked: the request's messages, without seed or sampling settings."""
    try:
        body = json.loads(request_json or "null")
    except json.JSONDecodeError:
        return request_json or ""
    if isinstance(body, dict) and "messages" in body:
        return json.dumps(body["messages"], sort_keys=True)
    return json.dumps(body, sort_keys=True)


def effective_n(project: Project, scores: Sequence[PairScore]
                ) -> tuple[dict[str, int], dict[str, dict[str, tuple[int, int]]]]:
    """Distinct (original prompt, attacked prompt) pairs among the pairs, per modality and per
    modality and true class as ``(n, distinct)``."""
    ids = sorted({i for s in scores for i in (s.response_a_id, s.response_b_id)})
    prompts: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for r in project.query(f"SELECT id, request_json FROM llm_requests WHERE id IN "
                               f"({','.join('?' * len(chunk))})", chunk):
            prompts[r["id"]] = _prompt_key(r["request_json"])
    seen: dict[tuple[str, str], set] = {}
    counts: dict[tuple[str, str], int] = {}
    for s in scores:
        key = (s.modality, s.true_label)
        seen.setdefault(key, set()).add((prompts.get(s.response_a_id),
                                         prompts.get(s.response_b_id)))
        counts[key] = counts.get(key, 0) + 1
    by_class: dict[str, dict[str, tuple[int, int]]] = {}
    total: dict[str, int] = {}
    for (modality, label), distinct in seen.items():
        by_class.setdefault(modality, {})[label] = (counts[(modality, label)], len(distinct))
        total[modality] = total.get(modality, 0) + len(distinct)
    return total, by_class


def results_table(project: Project, *, semantic_model: str = similarity.DEFAULT_MODEL,
                  config: stats.StatsConfig = stats.StatsConfig(),
                  metrics: Sequence[str] = METRICS,
                  scores: list[PairScore] | None = None) -> Results:
    """Table 3 (per modality and metric), the paired unimodal-vs-multimodal tests with Holm's
    correction, the drift vs the noise floor, and the effective n."""
    scores = scores if scores is not None else pair_scores(
        project, semantic_model=semantic_model, pairs="all")
    attacked = [s for s in scores if s.pair == "attacked"]
    rows = []
    for modality in MODALITIES:
        for metric in metrics:
            values = [s.values.get(metric) for s in attacked if s.modality == modality]
            summary = stats.describe(values, config, modality=modality, metric=metric)
            undefined = sum(v is None for v in values)
            if undefined:
                reasons = sorted({s.reasons.get(metric) or "not scored" for s in attacked
                                  if s.modality == modality and s.values.get(metric) is None})
                note = f"{undefined} undefined ({'; '.join(reasons)[:120]})"
                summary = stats.Summary(**{**summary.__dict__, "note": "; ".join(
                    x for x in (summary.note, note) if x)})
            rows.append(summary)
    paired = []
    by_sample = {(s.sample_id, s.modality): s for s in attacked}
    common = sorted({sid for sid, m in by_sample if m == "unimodal"}
                    & {sid for sid, m in by_sample if m == "multimodal"})
    for name in metrics:
        a = [by_sample[(sid, "unimodal")].values.get(name) for sid in common]
        b = [by_sample[(sid, "multimodal")].values.get(name) for sid in common]
        paired.append(stats.paired_test(a, b, config, metric=name,
                                        binary=metric_spec(name).kind == JUDGMENT))
    noise = [s for s in scores if s.pair != "attacked"]
    drift = []
    for metric in of_kind(SIMILARITY, metrics):
        rows_z = drift_vs_noise(project, metric, scores=attacked + noise)
        for modality in MODALITIES:
            drift.append(summarise_drift([r for r in rows_z if r.modality == modality],
                                         modality, metric))
    distinct, by_class = effective_n(project, attacked)
    cut = truncation_counts(attacked) if "semantic_cosine" in metrics else {}
    rows = [_with_note(r, cut[r.modality].describe())
            if r.metric == "semantic_cosine" and r.modality in cut and cut[r.modality].truncated
            else r for r in rows]
    return Results(rows, stats.holm(paired), drift, {m: distinct.get(m, 0) for m in MODALITIES},
                   by_class, similarity.resolve_model_name(semantic_model), config, cut)


def _with_note(row: stats.Summary, note: str) -> stats.Summary:
    return stats.Summary(**{**row.__dict__, "note": "; ".join(x for x in (row.note, note) if x)})


def results_job(project: Project, *, semantic_model: str = similarity.DEFAULT_MODEL,
                config: stats.StatsConfig = stats.StatsConfig()) -> Job[dict[str, Any]]:
    """Everything the Results panel shows, read off the GUI thread."""
    yield Progress(0, 3, "reading scores")
    scores = pair_scores(project, semantic_model=semantic_model, pairs="all")
    yield Progress(1, 3, "computing Table 3")
    table = results_table(project, semantic_model=semantic_model, config=config, scores=scores)
    yield Progress(2, 3, "drift vs noise floor")
    drift = {m: drift_vs_noise(project, m, scores=scores) for m in of_kind(SIMILARITY)}
    return {"scores": [s for s in scores if s.pair == "attacked"], "table": table,
            "drift": drift}


def sample_scores(project: Project, sample_id: int, *,
                  semantic_model: str = similarity.DEFAULT_MODEL
                  ) -> dict[tuple[str, str], dict[str, float | None]]:
    """The scores of one sample's current answers: ``(modality, pair) -> {metric: value}``.

    Only scores of the current response ids count (a re-asked pair is unscored until scored
    again); model metrics only from ``semantic_model``.
    """
    semantic_model = similarity.resolve_model_name(semantic_model)
    current = {(r["modality"], r["variant"]): r["id"]
               for r in latest_requests(project, int(sample_id))}
    out: dict[tuple[str, str], dict[str, float | None]] = {}
    for r in project.query("SELECT * FROM scores WHERE sample_id = ? ORDER BY id", (sample_id,)):
        ids = (current.get((r["modality"], "original")), current.get((r["modality"], r["pair"])))
        if ids != (r["response_a_id"], r["response_b_id"]):
            continue
        if not _wanted_scorer(r, semantic_model):
            continue
        out.setdefault((r["modality"], r["pair"]), {})[r["metric"]] = r["value"]
    return out
