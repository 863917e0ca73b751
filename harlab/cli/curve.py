"""``harlab curve``: robustness curves through the language model (attacks x eps)."""

from __future__ import annotations

import argparse

from harlab.llm.config import PROVIDER_PRESETS
from harlab.vocab import BUILTIN_PROVIDER, MODALITIES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "curve", help="robustness curve through the language model: flip rate and what the "
                      "LLM then says, per attack and eps, with 95% CIs",
        description="For each attack in --attack and eps in --eps: attack the videos of "
                    "--classes, report the flip rate among videos correct before (Wilson CI), "
                    "ask the language model about up to --llm-per-class flipped videos per "
                    "class (original, attacked and --noise-floor clean re-draws) and report "
                    "the decision flip rate and the adversarial-label-mentioned rate (Wilson "
                    "CIs) and the mean semantic drift against the noise floor (bootstrap CI). "
                    "Every point is recorded; a re-run attacks and asks nothing twice. "
                    "--estimate says what a run would cost first.")
    p.add_argument("--project", required=True, help="project folder")
    p.add_argument("--checkpoint", help="classifier .pt (default: the project's best)")
    data = p.add_mutually_exclusive_group()
    data.add_argument("--dataset", help="UCF-101-layout folder (default: the project's)")
    data.add_argument("--demo", action="store_true", help="use the bundled demo dataset")
    p.add_argument("--attack", default="fgsm", help="comma-separated attacks (default fgsm)")
    p.add_argument("--eps", default="2/255,4/255,8/255",
                   help="comma-separated budgets (default 2/255,4/255,8/255)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="an attack parameter for every attack listed (repeatable)")
    p.add_argument("--surrogate", metavar="CHECKPOINT",
                   help="transfer threat model: craft on this classifier, classify with the "
                        "target")
    p.add_argument("--classes", default="BabyCrawling,Biking",
                   help="comma-separated true classes (default BabyCrawling,Biking)")
    p.add_argument("--videos-per-class", type=int,
                   help="videos per class attacked at each point (default: all of the split)")
    p.add_argument("--llm-per-class", type=int, default=5,
                   help="flipped videos per class and point the LLM is asked about (default 5)")
    p.add_argument("--noise-floor", type=int, default=2, metavar="K",
                   help="clean re-draws per sample, the drift's reference (default 2)")
    p.add_argument("--modality", default="unimodal", choices=MODALITIES)
    p.add_argument("--keyframes", type=int, default=5, help="keyframes per video (default 5)")
    p.add_argument("--split", default="test", help="split (default test)")
    p.add_argument("--fold", type=int, default=1, help="UCF-101 split 1-3 (default 1)")
    p.add_argument("--seed", type=int, default=0, help="order in which videos are drawn")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--batch-size", type=int, default=64, help="keyframes per pass")
    p.add_argument("--provider", choices=list(PROVIDER_PRESETS), default=BUILTIN_PROVIDER,
                   help="builtin = the local model, offline (default)")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint (default: the provider's)")
    p.add_argument("--model", help="model name (default: the provider's)")
    p.add_argument("--api-key-env", help="NAME of the environment variable with the API key")
    p.add_argument("--estimate", action="store_true",
                   help="print the attack work, requests and time this run would take; "
                        "attack and ask nothing")
    p.add_argument("--csv", help="also write the curve to this CSV file")
    p.set_defaults(func=_cmd_curve)


def curve_config_from_args(args: argparse.Namespace, checkpoint, root):
    """The CurveConfig of a ``harlab curve`` command line."""
    from harlab.cli.attack import report_config_from_args
    from harlab.llm.config import LLMConfig
    from harlab.study.curves import CurveConfig

    attack_args = argparse.Namespace(
        attack=args.attack, eps=args.eps, param=args.param, steps=None, alpha=None, decay=None,
        no_random_start=False, classes=args.classes, per_class=1, keyframes=args.keyframes,
        keyframe_method="uniform", split=args.split, fold=args.fold, seed=args.seed,
        device=args.device, batch_size=args.batch_size, report_videos=args.videos_per_class,
        surrogate=args.surrogate)
    points = report_config_from_args(attack_args, checkpoint, root)
    llm = LLMConfig(provider=args.provider, base_url=args.base_url, model=args.model,
                    api_key_env=args.api_key_env)
    return CurveConfig(points, llm, llm_per_class=args.llm_per_class, modality=args.modality,
                       noise_floor=args.noise_floor)


def _cmd_curve(args: argparse.Namespace) -> int:
    from harlab.cli.attack import sources
    from harlab.jobs import run_cli
    from harlab.store import Project
    from harlab.study.curves import (
        CURVE_COLUMNS,
        curve_videos,
        estimate_curve,
        format_curve,
        run_curve,
    )
    from harlab.tabular import write_records

    with Project.open(args.project) as project:
        checkpoint, root = sources(args, project)
        config = curve_config_from_args(args, checkpoint, root)
        if args.estimate:
            print("\n".join(estimate_curve(project, config, len(curve_videos(config)))))
            return 0
        result = run_cli(run_curve(project, config), "robustness curve")
    print("\n".join(format_curve(result)))
    if args.csv:
        write_records(args.csv, CURVE_COLUMNS, result.rows)
        print(f"wrote {args.csv}")
    return 1 if result.failed else 0
