"""``harlab score`` and ``harlab results``: score the answer pairs, then print Table 3."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harlab.vocab import SCORER_DEVICE_CHOICES

# The metric names, descriptions and the default model come from the metric registry
# (harlab.scoring.metrics), imported when a command runs: it pulls in scikit-learn, which
# `harlab --help` should not wait for.

FORMATS = ("table", "csv", "md", "latex")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score", help="score every answer pair (cosines, label mention, decision change)",
        description="Score each selected sample's current original-vs-attacked answers (and "
                    "original-vs-noise-floor re-draws) for every modality: syntactic and "
                    "semantic cosine, which action the answer names, and whether its "
                    "recommendation changed. Pairs already scored by the same scorer are "
                    "skipped; another --model adds rows beside the old ones.")
    p.add_argument("--project", help="project folder (required unless --list-metrics)")
    p.add_argument("--model", help="sentence-transformers model name or folder, loaded "
                                    "offline (default all-MiniLM-L6-v2, packaged)")
    p.add_argument("--device", default="auto",
                   help=f"{', '.join(SCORER_DEVICE_CHOICES)} (or cuda:N)")
    p.add_argument("--batch-size", type=int, default=64, help="texts per forward pass")
    p.add_argument("--metrics", help="comma-separated metric names (default: every registered "
                                      "metric; `harlab score --list-metrics` lists them)")
    p.add_argument("--list-metrics", action="store_true",
                   help="print the registered metrics with their kind, range and meaning, "
                        "then exit")
    p.add_argument("--decision-rules", metavar="FILE",
                   help="decision rules YAML (default: the project's decision_rules.yaml, "
                        "else resources/decision_rules.yaml)")
    p.set_defaults(func=_cmd_score)

    r = sub.add_parser(
        "results", help="print Table 3 with the paper's figures and the paired tests",
        description="Table 3 from the stored scores: per modality and metric n, mean, var, "
                    "std (ddof stated), median and a bootstrap CI, beside the paper's "
                    "figures; then unimodal vs multimodal (McNemar's exact test for 0/1 "
                    "metrics, Wilcoxon signed-rank with an exact or permutation p otherwise; "
                    "rank-biserial, Holm) and the drift against the noise floor, with the "
                    "share of z < -2 expected by chance. Each table names its methods.")
    r.add_argument("--project", required=True, help="project folder")
    r.add_argument("--format", choices=FORMATS, default="table",
                   help="table (terminal, default), csv (Table 3 only), md or latex")
    r.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    r.add_argument("--model", help="whose semantic cosines to summarise (default "
                                    "all-MiniLM-L6-v2)")
    r.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples")
    r.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    r.set_defaults(func=_cmd_results)


def _cmd_score(args: argparse.Namespace) -> int:
    from harlab import jobs
    from harlab.errors import InputError
    from harlab.scoring import EmbeddingModels, ScoreConfig
    from harlab.scoring.metrics import METRIC_SPECS
    from harlab.scoring.results import pair_scores, truncation_counts
    from harlab.stages import score
    from harlab.store import Project

    if args.list_metrics:
        for name, spec in METRIC_SPECS.items():
            low, high = spec.value_range
            print(f"{name:<22} {spec.kind:<10} [{low:g}, {high:g}]  {spec.description}")
        return 0
    if not args.project:
        raise InputError("harlab score needs --project FOLDER (the project to score)")
    given = {"semantic_model": args.model, "metrics": args.metrics}
    config = ScoreConfig(device=args.device, batch_size=args.batch_size,
                         decision_rules=args.decision_rules,
                         **{k: v for k, v in given.items() if v is not None})
    with Project.open(args.project) as project:
        job = score(project, config, models=EmbeddingModels())
        result = jobs.run_cli(job, desc="score")
        cut = (truncation_counts(pair_scores(project, semantic_model=config.semantic_model))
               if "semantic_cosine" in config.metrics else {})
    per = ", ".join(f"{m} +{n}" for m, n in result.by_metric.items())
    print(f"score run {result.run_id}: {result.pairs} pairs, {result.added} scores added, "
          f"{result.existing} already stored ({per or 'nothing new'}) in {result.seconds:.1f} s")
    # HARLab's own words for the tokenizer's "sequence length is longer" warning (quieted).
    for modality, t in cut.items():
        if t.truncated:
            print(f"note: semantic_cosine, {modality}: {t.describe()}")
    if not result.pairs:
        print("no pair has two ok answers yet: run `harlab query` first")
    return 0


def _cmd_results(args: argparse.Namespace) -> int:
    from harlab.errors import InputError
    from harlab.scoring import StatsConfig, format_results, results_table
    from harlab.store import Project

    config = StatsConfig(n_resamples=args.resamples, seed=args.seed)
    model = {"semantic_model": args.model} if args.model else {}
    with Project.open(args.project) as project:
        results = results_table(project, config=config, **model)
    text = format_results(results, args.format)
    if args.out:
        try:
            Path(args.out).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write {args.out!r}: {exc.strerror}; choose a writable "
                             "path") from exc
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0
