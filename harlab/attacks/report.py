"""Accuracy under attack: clean and robust top-1 per attack and eps, with Wilson CIs.

A video's prediction is the mean softmax over its K keyframes (as in selection). *Clean* top-1
is the share of videos classified correctly; *robust* top-1 the share classified correctly
before **and** after the attack (AutoAttack's convention: a video already wrong stays wrong).
Only the clean-correct videos are attacked, each video's keyframes are decoded once, and the
attack's float output is classified (the method as published, like the eps sweep). Every rate
carries its n and a 95% Wilson score interval.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from statsmodels.stats.proportion import proportion_confint

from harlab.attacks import get_spec
from harlab.attacks.config import AttackConfig, describe_eps, parse_budget
from harlab.attacks.selection import check_classes_known, classifier_and_dataset, sweep_items
from harlab.attacks.video import (
    attack_batch,
    batches,
    check_label,
    load_batch,
    load_surrogate,
)
from harlab.data.ucf101 import UCF101, VideoItem
from harlab.errors import InputError
from harlab.jobs import Job, Progress
from harlab.store import Project
from harlab.train.checkpoint import LoadedClassifier
from harlab.validation import check_positive_int

CI_METHOD = "Wilson score interval, 95% (statsmodels proportion_confint, method='wilson')"
ROBUST_DEFINITION = ("robust top-1: correct before and after the attack (AutoAttack's "
                     "convention); video prediction: mean softmax over the keyframes; the "
                     "attack's float output is classified")


#: The columns of the report's table and CSV.
REPORT_COLUMNS = ("attack", "norm", "eps", "budget", "params", "surrogate", "n",
                  "clean_correct", "clean_top1", "clean_ci_low", "clean_ci_high",
                  "robust_correct", "robust_top1", "robust_ci_low", "robust_ci_high",
                  "success_rate", "success_ci_low", "success_ci_high", "ci_method")


def wilson(k: int, n: int, alpha: float = 0.05) -> tuple[float | None, float | None]:
    """The Wilson score interval of ``k`` successes in ``n`` (None, None when ``n`` is 0)."""
    if n <= 0:
        return None, None
    low, high = proportion_confint(int(k), int(n), alpha=alpha, method="wilson")
    return float(low), float(high)


@dataclass(frozen=True)
class ReportConfig:
    """Accuracy under attack as a recorded run.

    Attributes:
        base: keyframes, split, fold, seed, device and batch size (its attack and eps are
            replaced by each point's).
        attacks: attack names; each is run at every eps.
        eps_list: budgets on the ``[0, 1]`` scale (an L2 radius for the L2 attacks).
        params: ``{attack: {parameter: value}}`` for attacks not at their defaults.
        videos_per_class: test videos per class, drawn in a seeded order (None: all).
        checkpoint: the classifier file; dataset_root: the UCF-101-layout folder.
    """

    base: AttackConfig
    attacks: tuple[str, ...]
    eps_list: tuple[float, ...]
    checkpoint: str
    dataset_root: str
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    videos_per_class: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.base, AttackConfig):
            raise InputError(f"base must be an AttackConfig, got {type(self.base).__name__}")
        names = tuple(get_spec(a).name for a in self.attacks)
        if not names:
            raise InputError("attacks is empty; pass names such as fgsm,pgd")
        object.__setattr__(self, "attacks", names)
        if not self.eps_list:
            raise InputError("eps_list is empty; pass values such as 2/255, 4/255, 8/255")
        # numbers first (any budget >= 0); each point then checks them for its attack's norm
        object.__setattr__(self, "eps_list", tuple(parse_budget(e, "l2")
                                                   for e in self.eps_list))
        for a in names:  # every point must be a valid AttackConfig
            self.point(a, self.eps_list[0])
        extra = set(self.params) - set(names)
        if extra:
            raise InputError(f"params for attacks not in the report: {', '.join(sorted(extra))}")
        if self.videos_per_class is not None:
            check_positive_int(self.videos_per_class, "videos_per_class")
        object.__setattr__(self, "checkpoint", str(self.checkpoint))
        object.__setattr__(self, "dataset_root", str(self.dataset_root))

    def point(self, attack: str, eps: Any) -> AttackConfig:
        """The AttackConfig of one point (eps checked for the attack's norm)."""
        return replace(self.base, attack=attack, eps=parse_budget(eps, get_spec(attack).norm),
                       params=dict(self.params.get(attack, {})))


@dataclass
class AccuracyReport:
    """Clean and robust top-1 per (attack, eps); ``rows`` as dicts ready for a table or CSV."""

    rows: list[dict[str, Any]]
    n_videos: int
    clean_correct: int
    split: str
    ci_method: str = CI_METHOD
    definition: str = ROBUST_DEFINITION


def accuracy_under_attack(loaded: LoadedClassifier, items: Sequence[VideoItem],
                          config: ReportConfig) -> Job[AccuracyReport]:
    """Classify ``items`` clean, attack the correct ones at every point, count survivors."""
    items = list(items)
    if not items:
        raise InputError("no videos to report on; the split has no videos of the classes")
    for it in items:
        check_label(it.label, loaded.classes)
    points = [(a, e) for a in config.attacks for e in config.eps_list]
    robust = np.zeros(len(points), dtype=np.int64)
    clean_correct, done = 0, 0
    chunks = list(batches(items, config.base))
    crafter = load_surrogate(loaded, config.base)
    for chunk in chunks:
        batch = load_batch(loaded, list(chunk), config.base)
        labels = np.array([int(it.label) for it in chunk])
        rows = np.flatnonzero(batch.clean_probs.mean(1).argmax(1) == labels)
        clean_correct += len(rows)
        for j, (attack, eps) in enumerate(points):
            if len(rows):
                _, probs = attack_batch(loaded, batch, rows, config.point(attack, eps),
                                        quantised=False, crafter=crafter)
                robust[j] += int((probs.mean(1).argmax(1) == labels[rows]).sum())
            done += 1
            yield Progress(done, len(points) * len(chunks),
                           f"{attack} {eps:.4g}: {int(robust[j])} of {clean_correct} still correct")
    return AccuracyReport(_rows(config, points, robust, clean_correct, len(items)), len(items),
                          clean_correct, config.base.split)


def _rows(config: ReportConfig, points: list[tuple[str, float]], robust: np.ndarray,
          clean_correct: int, n: int) -> list[dict[str, Any]]:
    clean_low, clean_high = wilson(clean_correct, n)
    out = []
    for (attack, eps), k in zip(points, robust, strict=True):
        point = config.point(attack, eps)
        low, high = wilson(int(k), n)
        out.append({"attack": point.attack, "norm": point.norm, "eps": point.eps,
                    "budget": describe_eps(point.eps, point.norm), "n": n,
                    "clean_correct": clean_correct, "clean_top1": clean_correct / n,
                    "clean_ci_low": clean_low, "clean_ci_high": clean_high,
                    "surrogate": point.surrogate or "",
                    **_success(clean_correct, int(k)),
                    "robust_correct": int(k), "robust_top1": int(k) / n,
                    "robust_ci_low": low, "robust_ci_high": high,
                    "ci_method": "wilson 95%", "params": json.dumps(point.params,
                                                                  sort_keys=True)})
    return out


def _success(clean_correct: int, still_correct: int) -> dict[str, Any]:
    """Attack success among the videos correct before: the transfer success with a surrogate."""
    flipped = clean_correct - still_correct
    low, high = wilson(flipped, clean_correct)
    return {"success_rate": flipped / clean_correct if clean_correct else None,
            "success_ci_low": low, "success_ci_high": high}


def run_report(project: Project, config: ReportConfig, *,
               loaded: LoadedClassifier | None = None,
               dataset: UCF101 | None = None) -> Job[AccuracyReport]:
    """:func:`accuracy_under_attack` on the split's videos, recorded as an ``attack_report`` run."""
    yield Progress(0, 0, "loading the classifier and the dataset")
    base = config.base
    loaded, dataset = classifier_and_dataset(config.checkpoint, config.dataset_root, base,
                                             loaded, dataset)
    classes = [c for c in loaded.classes if c in set(dataset.classes)]
    check_classes_known(classes, loaded.classes)
    pool = dataset.items(base.split)
    items = (sweep_items(pool, classes, config.videos_per_class, base.seed)
             if config.videos_per_class else list(pool))
    name = f"accuracy under {', '.join(config.attacks)}"
    with project.run("attack_report", config, name=name) as record:
        record.result = yield from accuracy_under_attack(loaded, items, config)
    return record.result


def format_report(report: AccuracyReport) -> list[str]:
    """The report as text lines (what ``harlab attack --report`` prints)."""
    def pct(x: float | None) -> str:
        return "   -  " if x is None else f"{x:6.1%}"

    lines = [f"accuracy under attack on {report.n_videos} {report.split} videos "
             f"({report.clean_correct} correct before the attack)",
             f"  {'attack':<11} {'budget':<18} {'n':>4}  {'clean':>6} {'95% CI':>16}  "
             f"{'robust':>6} {'95% CI':>16}  {'success':>7} {'95% CI':>16}"]
    for r in report.rows:
        lines.append(f"  {r['attack']:<11} {r['budget']:<18} {r['n']:>4}  "
                     f"{pct(r['clean_top1'])} [{pct(r['clean_ci_low'])}, "
                     f"{pct(r['clean_ci_high'])}]  {pct(r['robust_top1'])} "
                     f"[{pct(r['robust_ci_low'])}, {pct(r['robust_ci_high'])}]  "
                     f" {pct(r['success_rate'])} [{pct(r['success_ci_low'])}, "
                     f"{pct(r['success_ci_high'])}]")
    surrogates = {r["surrogate"] for r in report.rows if r["surrogate"]}
    if surrogates:
        lines.append(f"  transfer: crafted on {', '.join(sorted(surrogates))}, classified by "
                     "the target; success = transfer success among the target's correct videos")
    else:
        lines.append("  success: flipped among the videos correct before the attack")
    lines += [f"  CI: {report.ci_method}", f"  {report.definition}"]
    return lines
