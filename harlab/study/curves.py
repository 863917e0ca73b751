"""Robustness curves through the language model: a sweep over attacks and eps.

For each point (attack, eps) the classifier attacks the same videos (every video of the chosen
classes in the split, or ``videos_per_class`` of each in a seeded order), and the curve reports:

* the **flip rate**: videos wrong after the attack among those correct before (the attack's
  float output, as in the eps sweep), with a 95% Wilson interval;
* for up to ``llm_per_class`` of the flipped videos per class (their PNGs still flip the
  classifier), what the language model then says: the **decision flip** rate
  (``decision_changed``) and the **adversarial label mentioned** rate, each with a Wilson
  interval, and the mean **semantic drift against the noise floor**: per sample, the semantic
  cosine of (original, attacked) minus the mean cosine of (original, clean re-draw), with a
  bootstrap interval (:func:`harlab.scoring.stats.describe`). Negative: the attack moved the
  answer further than asking again does.

Everything is recorded: each point is an ``attack`` run whose samples are stored (kept out of
the study: ``selected = 0``), the answers go through the query job (cached per request), the
scores into ``scores``; the curve itself is a ``curve`` run. A re-run finds the point's run by
its config, reuses its samples, asks nothing twice and scores nothing twice.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from harlab.attacks.config import AttackConfig, describe_eps
from harlab.attacks.report import ReportConfig, wilson
from harlab.attacks.samples import list_samples
from harlab.attacks.selection import SelectionResult, select_samples, sweep_items
from harlab.data.ucf101 import UCF101, VideoItem
from harlab.errors import InputError
from harlab.jobs import Job, Progress
from harlab.llm.config import LLMConfig
from harlab.llm.records import current_requests
from harlab.llm.runner import query_samples
from harlab.scoring import judgments, similarity
from harlab.scoring.job import default_rules_path, score_row, write_scores
from harlab.scoring.metrics import MetricContext, PairToScore, metric
from harlab.scoring.stats import StatsConfig, describe
from harlab.store import Project, to_json
from harlab.train.checkpoint import LoadedClassifier, check_classes, load_classifier
from harlab.validation import check_positive_int
from harlab.vocab import MODALITIES

#: The scores a curve point needs, computed for its pairs only.
CURVE_METRICS = ("decision_changed", "adv_label_mentioned", "semantic_cosine")
#: The columns of a curve's table and CSV, one row per point.
CURVE_COLUMNS = (
    "attack", "norm", "eps", "budget", "videos", "clean_correct", "flipped", "flip_rate",
    "flip_ci_low", "flip_ci_high", "samples", "asked", "decision_n", "decision_flip_rate",
    "decision_ci_low", "decision_ci_high", "adv_label_n", "adv_label_rate", "adv_label_ci_low",
    "adv_label_ci_high", "drift_n", "drift_mean", "drift_ci_low", "drift_ci_high",
    "drift_ci_method", "noise_draws")
RATE_CI = "Wilson score interval, 95% (statsmodels proportion_confint, method='wilson')"


@dataclass(frozen=True)
class CurveConfig:
    """A robustness curve through the language model.

    Attributes:
        points: the attacks, eps values, classifier, dataset and videos (a ReportConfig:
            ``base.classes`` are the classes attacked, ``videos_per_class`` caps them).
        llm: the language model asked about each point's samples.
        llm_per_class: flipped videos per class and point that the model is asked about.
        modality: ``unimodal`` (labels in the prompt) or ``multimodal`` (keyframes).
        noise_floor: clean re-draws per sample, the drift's reference (at least 1).
        semantic_model: the sentence-transformers model of the semantic cosine.
        n_resamples: bootstrap resamples of the drift's interval.
    """

    points: ReportConfig
    llm: LLMConfig = field(default_factory=LLMConfig)
    llm_per_class: int = 5
    modality: str = "unimodal"
    noise_floor: int = 2
    semantic_model: str = similarity.DEFAULT_MODEL
    n_resamples: int = 2000

    def __post_init__(self) -> None:
        if not isinstance(self.points, ReportConfig):
            raise InputError(f"points must be a ReportConfig, got {type(self.points).__name__}")
        if not isinstance(self.llm, LLMConfig):
            raise InputError(f"llm must be an LLMConfig, got {type(self.llm).__name__}")
        check_positive_int(self.llm_per_class, "llm_per_class")
        if self.modality not in MODALITIES:
            raise InputError(f"modality must be one of {', '.join(MODALITIES)}, got "
                             f"{self.modality!r}")
        if isinstance(self.noise_floor, bool) or not isinstance(self.noise_floor, int) or not (
                1 <= self.noise_floor <= 20):
            raise InputError(f"noise_floor must be a whole number of clean re-draws in [1, 20] "
                             f"(the drift needs a floor), got {self.noise_floor!r}")
        StatsConfig(n_resamples=self.n_resamples)  # checks the range

    def point_list(self) -> list[tuple[str, float]]:
        return [(a, e) for a in self.points.attacks for e in self.points.eps_list]


@dataclass
class CurveResult:
    """One row per point (:data:`CURVE_COLUMNS`), with how each number was made."""

    rows: list[dict[str, Any]]
    modality: str
    model: str
    asked: int = 0
    cached: int = 0
    failed: int = 0
    rate_ci: str = RATE_CI
    drift_definition: str = ("semantic cosine (original, attacked) minus the mean semantic "
                             "cosine (original, clean re-draw), per sample; mean with a "
                             "bootstrap 95% CI")
    flip_definition: str = ("flipped / correct before, video prediction = mean softmax over "
                            "the keyframes, the attack's float output classified")


# ---------------------------------------------------------------------------- the job
def run_curve(project: Project, config: CurveConfig, *, loaded: LoadedClassifier | None = None,
              dataset: UCF101 | None = None,
              models: similarity.EmbeddingModels | None = None) -> Job[CurveResult]:
    """Attack, ask and score every point; recorded as a ``curve`` run of ``project``."""
    yield Progress(0, 0, "loading the classifier and the dataset")
    points = config.points
    loaded, items = _videos(config, loaded, dataset)
    name = (f"curve {', '.join(points.attacks)} x {len(points.eps_list)} eps "
            f"({config.llm.model_name}, {config.modality})")
    with project.run("curve", config, name=name) as record:
        found: list[tuple[str, float, SelectionResult]] = []
        for attack, eps in config.point_list():
            yield Progress(len(found), len(config.point_list()), f"attacking: {attack} {eps:.4g}")
            result = yield from point_samples(project, loaded, items,
                                              curve_point(config, attack, eps), config)
            found.append((attack, eps, result))
        asked = [llm_subset(project, r.sample_ids, config.llm_per_class) for _, _, r in found]
        ids = sorted({i for subset in asked for i in subset})
        answers = None
        if ids:
            answers = yield from query_samples(project, config.llm, sample_ids=ids,
                                               modalities=(config.modality,),
                                               noise_floor=config.noise_floor)
        values = yield from score_samples(project, record.id, ids, config, models)
        rows = [aggregate(points.point(a, e), r, subset, values, config)
                for (a, e, r), subset in zip(found, asked, strict=True)]
        record.result = CurveResult(rows, config.modality, config.llm.model_name,
                                    *((answers.asked, answers.cached, answers.failed)
                                      if answers else (0, 0, 0)))
    return record.result


def _videos(config: CurveConfig, loaded: LoadedClassifier | None, dataset: UCF101 | None
            ) -> tuple[LoadedClassifier, list[VideoItem]]:
    points = config.points
    if loaded is None:
        loaded = load_classifier(points.checkpoint, device=points.base.device)
    if dataset is None or dataset.fold != points.base.fold:
        dataset = UCF101(points.dataset_root, fold=points.base.fold)
    check_classes(points.checkpoint, loaded.classes, dataset.classes)
    return loaded, curve_videos(config, dataset)


def curve_videos(config: CurveConfig, dataset: UCF101 | None = None) -> list[VideoItem]:
    """The videos every point attacks: ``videos_per_class`` of each class (None: all)."""
    base = config.points.base
    if dataset is None or dataset.fold != base.fold:
        dataset = UCF101(config.points.dataset_root, fold=base.fold)
    pool = dataset.items(base.split)
    per = config.points.videos_per_class or max(1, len(pool))
    items = sweep_items(pool, base.classes, per, base.seed)
    if not items:
        raise InputError(f"the {base.split} split has no videos of {', '.join(base.classes)}; "
                         "pick classes present in the dataset.")
    return items


def curve_point(config: CurveConfig, attack: str, eps: float) -> AttackConfig:
    """A point's AttackConfig: every video examined (``per_class`` above any class's count)."""
    return replace(config.points.point(attack, eps), per_class=10_000)


def _provenance(config: CurveConfig) -> dict[str, Any]:
    points = config.points
    return {"checkpoint": points.checkpoint, "dataset_root": points.dataset_root,
            "curve_videos_per_class": points.videos_per_class}


def point_samples(project: Project, loaded: LoadedClassifier, items: Sequence[VideoItem],
                  attack: AttackConfig, config: CurveConfig) -> Job[SelectionResult]:
    """The point's recorded ``attack`` run, else a new one (its samples kept out of the study)."""
    recorded = recorded_point(project, attack, config)
    if recorded is not None:
        return recorded
    result = yield from select_samples(project, loaded, items, attack,
                                       provenance=_provenance(config))
    # a curve's samples are not the study's: they stay out of its queries, scores and tables
    project.execute("UPDATE samples SET selected = 0 WHERE run_id = ?", (result.run_id,))
    return result


def recorded_point(project: Project, attack: AttackConfig, config: CurveConfig
                   ) -> SelectionResult | None:
    """The result of the newest finished ``attack`` run made for this point, or None.

    The stored config is read back as an AttackConfig and compared as one, so a field added
    to AttackConfig later (stored runs lack it, it takes its default) still matches.
    """
    wanted = json.loads(to_json(_provenance(config)))
    for row in reversed(project.runs("attack")):
        stored = json.loads(row["config_json"] or "null")
        if (row["status"] != "done" or not row["result_json"] or not isinstance(stored, dict)
                or {k: v for k, v in stored.items() if k != "config"} != wanted):
            continue
        try:
            if AttackConfig(**stored.get("config", {})) == attack:
                return SelectionResult(**json.loads(row["result_json"]))
        except (TypeError, InputError):
            continue  # written by another release with other fields
    return None


def llm_subset(project: Project, sample_ids: Sequence[int], per_class: int) -> list[int]:
    """The first ``per_class`` samples of each true class (by id): the ones the LLM sees."""
    if not sample_ids:
        return []
    taken: dict[str, int] = {}
    out = []
    for s in sorted(list_samples(project, ids=list(sample_ids)), key=lambda s: s.id):
        if taken.get(s.true_label, 0) < per_class:
            taken[s.true_label] = taken.get(s.true_label, 0) + 1
            out.append(s.id)
    return out


# ---------------------------------------------------------------------------- scores
def curve_pairs(project: Project, sample_ids: Sequence[int], modality: str) -> list[PairToScore]:
    """(original, attacked) and (original, noise-i) pairs with two current ok answers."""
    if not sample_ids:
        return []
    lookup = judgments.scenario_lookup(project.root)
    current = current_requests(project)
    out = []
    for s in list_samples(project, ids=list(sample_ids)):
        orig = current.get((s.id, modality, "original"))
        if orig is None or orig["status"] != "ok":
            continue
        for (sid, mod, variant), row in sorted(current.items()):
            if sid != s.id or mod != modality or row["status"] != "ok":
                continue
            if variant == "attacked" or variant.startswith("noise-"):
                out.append(PairToScore(s.id, modality, variant, orig["id"], row["id"],
                                       orig["response_text"] or "", row["response_text"] or "",
                                       s.true_label, s.adv_pred,
                                       lookup.get(s.true_label, lookup.get(None))))
    return out


def score_samples(project: Project, run_id: int, sample_ids: Sequence[int], config: CurveConfig,
                  models: similarity.EmbeddingModels | None = None
                  ) -> Job[dict[tuple[int, str], dict[str, float | None]]]:
    """``{(sample, pair): {metric: value}}``; stored scores are read, missing ones computed.

    The same scorer strings as the scoring stage, so a pair scored here or there is not
    scored again (the scores table keeps one row per metric, scorer and response pair).
    """
    pairs = curve_pairs(project, sample_ids, config.modality)
    rules = judgments.load_decision_rules(default_rules_path(project.root))
    ctx = MetricContext(similarity.resolve_model_name(config.semantic_model), "auto", 64,
                        rules, models)
    out: dict[tuple[int, str], dict[str, float | None]] = {}
    for name in CURVE_METRICS:
        spec = metric(name)
        stored = {(r["scorer"], r["response_a_id"], r["response_b_id"]): r["value"]
                  for r in project.query("SELECT scorer, response_a_id, response_b_id, value "
                                         "FROM scores WHERE metric = ? ORDER BY id", (name,))}
        todo = []
        for p in pairs:
            key = (spec.scorer(p, ctx), p.a_id, p.b_id)
            if key in stored:
                out.setdefault((p.sample_id, p.pair), {})[name] = stored[key]
            else:
                todo.append((p, key[0]))
        if todo:
            yield Progress(0, len(todo), f"scoring {name} of {len(todo)} pairs")
            scored = spec.compute([p for p, _ in todo], ctx)
            write_scores(project, [score_row(run_id, p, name, scorer, s)
                                   for (p, scorer), s in zip(todo, scored, strict=True)])
            for (p, _), s in zip(todo, scored, strict=True):
                out.setdefault((p.sample_id, p.pair), {})[name] = s.value
    return out


# ---------------------------------------------------------------------------- aggregation
def aggregate(point: AttackConfig, found: SelectionResult, asked: Sequence[int],
              values: dict[tuple[int, str], dict[str, float | None]],
              config: CurveConfig) -> dict[str, Any]:
    """One row of :data:`CURVE_COLUMNS` for one point."""
    row: dict[str, Any] = {"attack": point.attack, "norm": point.norm, "eps": point.eps,
                           "budget": describe_eps(point.eps, point.norm),
                           "videos": found.examined, "clean_correct": found.clean_correct,
                           "flipped": found.flipped, "samples": len(found.sample_ids)}
    row.update(_rate("flip", found.flipped, found.clean_correct))
    attacked = [values.get((sid, "attacked"), {}) for sid in asked]
    row["asked"] = sum(1 for v in attacked if v)
    for prefix, name in (("decision", "decision_changed"), ("adv_label", "adv_label_mentioned")):
        got = [v[name] for v in attacked if v.get(name) is not None]
        row.update(_rate(prefix, int(sum(got)), len(got)))
        row[f"{prefix}_n"] = len(got)
    row["decision_flip_rate"] = row.pop("decision_rate")
    drifts, draws = [], []
    for sid in asked:
        cos = values.get((sid, "attacked"), {}).get("semantic_cosine")
        floor = [v["semantic_cosine"] for (s, pair), v in values.items()
                 if s == sid and pair.startswith("noise-") and v.get("semantic_cosine")
                 is not None]
        if cos is not None and floor:
            drifts.append(cos - sum(floor) / len(floor))
            draws.append(len(floor))
    summary = describe(drifts, StatsConfig(n_resamples=config.n_resamples))
    row.update(drift_n=summary.n, drift_mean=summary.mean, drift_ci_low=summary.ci_low,
               drift_ci_high=summary.ci_high,
               drift_ci_method=f"bootstrap {summary.ci_method}".strip() + (
                   f" ({summary.note})" if summary.note else ""),
               noise_draws=min(draws) if draws else 0)
    return row


def _rate(prefix: str, k: int, n: int) -> dict[str, Any]:
    low, high = wilson(k, n)
    return {f"{prefix}_rate": (k / n if n else None), f"{prefix}_ci_low": low,
            f"{prefix}_ci_high": high}


def format_curve(result: CurveResult) -> list[str]:
    """The curve as text lines: one per point, then how the numbers were made."""
    def pct(x: float | None) -> str:
        return "  -  " if x is None else f"{x:5.0%}"

    def ci(row: dict[str, Any], prefix: str, rate: str = "") -> str:
        n = row.get(prefix + "_n")
        return (f"{pct(row[rate or prefix + '_rate'])} [{pct(row[prefix + '_ci_low'])}, "
                f"{pct(row[prefix + '_ci_high'])}]" + ("" if n is None else f" n={n}"))

    lines = [f"robustness curve through {result.model} ({result.modality}): "
             f"{result.asked} requests asked, {result.cached} from the store, "
             f"{result.failed} failed",
             f"  {'attack':<10} {'budget':<15} {'flip rate (n)':<28} {'LLM n':>5}  "
             f"{'decision flip':<27} {'adv label named':<27} semantic drift vs noise"]
    for r in result.rows:
        drift = ("-" if r["drift_mean"] is None else f"{r['drift_mean']:+.3f} ["
                 f"{_num(r['drift_ci_low'])}, {_num(r['drift_ci_high'])}] n={r['drift_n']}")
        flip = f"{ci(r, 'flip')} (n={r['clean_correct']})"
        decision = ci(r, "decision", "decision_flip_rate")
        lines.append(f"  {r['attack']:<10} {r['budget']:<15} {flip:<28} {r['asked']:>5}  "
                     f"{decision:<27} {ci(r, 'adv_label'):<27} {drift}")
    lines += [f"  rates: {result.rate_ci}", f"  flip rate: {result.flip_definition}",
              f"  drift: {result.drift_definition}"]
    return lines


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:+.3f}"


def last_curve(project: Project) -> CurveResult | None:
    """The newest finished ``curve`` run's result, or None."""
    for row in reversed(project.runs("curve")):
        if row["status"] == "done" and row["result_json"]:
            try:
                return CurveResult(**json.loads(row["result_json"]))
            except TypeError:
                continue  # written by another release
    return None


# ---------------------------------------------------------------------------- estimate
def estimate_curve(project: Project, config: CurveConfig, n_videos: int) -> list[str]:
    """What :func:`run_curve` would do, as lines: attack work, requests, time and cost.

    ``n_videos`` is the number of videos each point attacks. Points already recorded cost no
    attack work and their stored answers no requests; the others are counted at their most
    (every class yields ``llm_per_class`` flips).
    """
    from harlab.llm.estimate import estimate_query

    todo, ids = [], set()
    for attack, eps in config.point_list():
        point = curve_point(config, attack, eps)
        found = recorded_point(project, point, config)
        if found is None:
            todo.append(point)
        else:
            ids.update(llm_subset(project, found.sample_ids, config.llm_per_class))
    per_sample = 2 + config.noise_floor
    most = len(todo) * config.llm_per_class * len(config.points.base.classes) * per_sample
    k = config.points.base.keyframes
    lines = [f"{len(config.point_list())} points ({len(todo)} to attack, "
             f"{len(config.point_list()) - len(todo)} recorded): {len(todo) * n_videos} video "
             f"attacks of {k} keyframes each"]
    for point in todo:
        lines.append(f"  {point.describe()}")
    latency, known = None, 0
    if ids:
        est = estimate_query(project, config.llm, sample_ids=sorted(ids),
                             modalities=(config.modality,), noise_floor=config.noise_floor)
        lines.append(f"recorded points: {est}")
        latency, known = est.latency_s, est.requests
    history = project.query_one(
        "SELECT avg(latency_s) FROM llm_requests WHERE status = 'ok' AND cached_from IS NULL "
        "AND model = ? AND provider = ?", (config.llm.model_name, config.llm.provider))[0]
    latency = latency or history
    conc = 1 if config.llm.is_builtin else config.llm.concurrency
    lines.append(f"new points: at most {most} requests to {config.llm.provider}:"
                 f"{config.llm.model_name} ({per_sample} per sample: original, attacked, "
                 f"{config.noise_floor} noise-floor draws; {config.llm_per_class} samples per "
                 f"class and point)")
    total = most + known
    if latency:
        minutes = math.ceil(total / conc) * latency / 60
        lines.append(f"time for the requests: about {minutes:.1f} min ({latency:.1f} s per "
                     f"request as this model answered before, {conc} at a time)")
    else:
        lines.append("time for the requests: unknown (no answers of this model stored yet)")
    return lines
