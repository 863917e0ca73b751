"""``harlab attack``: find correct-to-wrong samples (and sweep eps) on a trained classifier."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harlab.errors import InputError
from harlab.jobs import run_cli

#: The epilog's placeholder: the attack list is built when help is shown (it imports torch).
ATTACK_LIST = "@attack-list"


class AttackHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's lines and fills in the attack list only when help is shown."""

    def add_text(self, text: str | None) -> None:
        super().add_text(attack_list() if text == ATTACK_LIST else text)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "attack", formatter_class=AttackHelpFormatter, epilog=ATTACK_LIST,
        help="attack keyframes and keep videos classified correctly before and "
                       "wrongly after (the study's samples)",
        description="Attack every keyframe of test videos against the video's true label, keep "
                    "the videos correct before and wrong after the attack (up to --per-class "
                    "per class), store their frames as lossless PNGs in the project. With "
                    "--sweep, measure the success rate against eps instead.")
    p.add_argument("--project", required=True, help="project folder (created if missing)")
    p.add_argument("--checkpoint", help="classifier .pt (default: the project's latest "
                                        "training run's best checkpoint)")
    data = p.add_mutually_exclusive_group()
    data.add_argument("--dataset", help="folder holding UCF-101/ and ucfTrainTestlist/ "
                                        "(default: the project's dataset, else the demo)")
    data.add_argument("--demo", action="store_true", help="use the bundled demo dataset")
    p.add_argument("--attack", default="fgsm",
                   help="attack name (default fgsm, the paper's); see the list below")
    p.add_argument("--eps", default="8/255",
                   help="budget on the [0, 1] scale: an L-inf eps such as 8/255 or 0.0314 "
                        "(default 8/255), or an L2 radius such as 0.5 for the L2 attacks")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="one of the attack's parameters, e.g. --param steps=20 --param "
                        "alpha=2/255 (repeatable; the list below names them)")
    p.add_argument("--surrogate", metavar="CHECKPOINT",
                   help="transfer threat model: craft the attack on this classifier (another "
                        "seed or architecture trained on the same data) and classify with the "
                        "target (--checkpoint); --report then reports the transfer success")
    old = p.add_argument_group("deprecated (use --param NAME=VALUE)")
    old.add_argument("--steps", help=argparse.SUPPRESS)
    old.add_argument("--alpha", help=argparse.SUPPRESS)
    old.add_argument("--decay", help=argparse.SUPPRESS)
    old.add_argument("--no-random-start", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--classes", default="BabyCrawling,Biking",
                   help="comma-separated true classes to select (default BabyCrawling,Biking)")
    p.add_argument("--per-class", type=int, default=25, help="samples per class (default 25)")
    p.add_argument("--keyframes", type=int, default=5, help="keyframes per video (default 5)")
    p.add_argument("--keyframe-method", default="uniform", help="uniform or content")
    p.add_argument("--split", default="test", help="split to draw videos from (default test)")
    p.add_argument("--fold", type=int, default=1, help="UCF-101 split 1-3 (default 1)")
    p.add_argument("--seed", type=int, default=0, help="order in which videos are tried")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--batch-size", type=int, default=64, help="keyframes per pass (default 64)")
    p.add_argument("--sweep", help="comma-separated eps values, e.g. 0,1/255,2/255,4/255,8/255: "
                                   "report the success rate per eps instead of selecting")
    p.add_argument("--sweep-videos", type=int, default=20,
                   help="videos per class in the sweep (default 20)")
    p.add_argument("--report", action="store_true",
                   help="accuracy under attack: clean and robust top-1 with 95%% Wilson CIs on "
                        "the split's videos of every class, for each attack in --attack "
                        "(comma-separated) at each eps in --eps (comma-separated)")
    p.add_argument("--report-videos", type=int,
                   help="videos per class in the report (default: every video of the split)")
    p.add_argument("--csv", help="with --report: also write the table to this CSV file")
    p.set_defaults(func=_cmd_attack)


def attack_list() -> str:
    """Every registered attack with its norm and parameters, for ``--help``."""
    from harlab.attacks import specs

    lines = ["attacks and their parameters (--param NAME=VALUE):"]
    for spec in specs().values():
        params = ", ".join(f"{p.name}={p.default}" for p in spec.params) or "none"
        lines.append(f"  {spec.name:<11} {spec.norm:<5} {params}")
    return "\n".join(lines)


#: Old per-attack flags, read as --param NAME=VALUE with a deprecation warning.
DEPRECATED_FLAGS = {"steps": "steps", "alpha": "alpha", "decay": "decay"}


def parse_params(attack: str, pairs: list[str]) -> dict:
    """``["steps=20", "alpha=2/255"]`` as the attack's typed parameters.

    Raises:
        InputError: unknown attack or parameter (listing the valid ones), a pair without
            ``=``, or a value of the wrong type.
    """
    from harlab.attacks import get_spec

    spec = get_spec(attack)
    params: dict = {}
    for pair in pairs:
        name, sep, text = str(pair).partition("=")
        if not sep or not name.strip():
            valid = ", ".join(p.name for p in spec.params) or "none"
            raise InputError(f"--param must be NAME=VALUE such as steps=20, got {pair!r}; "
                             f"{spec.name}'s parameters: {valid}")
        params[name.strip()] = spec.param(name.strip()).parse(text, spec.name)
    return params


def _deprecated_params(args: argparse.Namespace) -> list[str]:
    pairs = [f"{name}={getattr(args, flag)}" for flag, name in DEPRECATED_FLAGS.items()
             if getattr(args, flag, None) is not None]
    if getattr(args, "no_random_start", False):
        pairs.append("random_start=false")
    for pair in pairs:
        print(f"warning: --{pair.split('=')[0].replace('_', '-')} is deprecated; use --param "
              f"{pair}", file=sys.stderr)
    return pairs


def config_from_args(args: argparse.Namespace):
    """The AttackConfig a ``harlab attack`` command line asks for."""
    from harlab.attacks.selection import AttackConfig

    params = parse_params(args.attack, _deprecated_params(args) + list(args.param))
    classes = tuple(c.strip() for c in args.classes.split(",") if c.strip())
    return AttackConfig(attack=args.attack, eps=args.eps, params=params,
                        keyframes=args.keyframes, keyframe_method=args.keyframe_method,
                        classes=classes, per_class=args.per_class, split=args.split,
                        fold=args.fold, seed=args.seed, device=args.device,
                        batch_size=args.batch_size, surrogate=getattr(args, "surrogate", None))


def _cmd_attack(args: argparse.Namespace) -> int:
    from harlab import stages
    from harlab.attacks.samples import list_samples
    from harlab.store import Project

    if args.report:
        return _cmd_report(args)
    config = config_from_args(args)
    sweep = None
    if args.sweep is not None:
        from harlab.attacks import parse_eps

        sweep = [parse_eps(e) for e in args.sweep.split(",") if e.strip()]
        if not sweep:
            raise InputError(f"--sweep needs eps values such as 0,2/255,8/255, got "
                             f"{args.sweep!r}")
    with Project.open_or_create(args.project) as project:
        checkpoint, root = sources(args, project)
        if sweep is not None:
            sweep_config = stages.SweepConfig(config, tuple(sweep), args.sweep_videos,
                                              str(checkpoint), str(root))
            # Ctrl-C closes the job: the run is recorded as cancelled
            result = run_cli(stages.sweep_eps(project, sweep_config), "eps sweep")
            _print_sweep(config, result)
            return 0
        print(f"attack {config.describe()} on {checkpoint} ({root})")
        result = run_cli(stages.find_samples(project, config, checkpoint=checkpoint,
                                             dataset_root=root), "attack")
        print(result.summary())
        for r in list_samples(project, ids=result.sample_ids):
            print(f"  #{r.id:<4} {r.video:<40} {r.clean_pred} ({r.clean_conf:.0%}) -> "
                  f"{r.adv_pred} ({r.adv_conf:.0%})")
    return 0


def sources(args: argparse.Namespace, project) -> tuple[Path, Path]:
    """The checkpoint and dataset root a command line names, else the project's."""
    from harlab.attacks.selection import default_checkpoint, default_dataset_root

    checkpoint = Path(args.checkpoint) if args.checkpoint else default_checkpoint(project)
    if args.demo:
        from harlab.data.demo_data import ensure_demo_dataset

        return checkpoint, ensure_demo_dataset()
    return checkpoint, Path(args.dataset) if args.dataset else default_dataset_root(project)


def report_config_from_args(args: argparse.Namespace, checkpoint: Path, root: Path):
    """The ReportConfig of ``harlab attack --report``: attacks and eps are comma lists."""
    from harlab.attacks.report import ReportConfig

    attacks = [a.strip() for a in args.attack.split(",") if a.strip()]
    eps = [e.strip() for e in args.eps.split(",") if e.strip()]
    base_args = argparse.Namespace(**{**vars(args), "attack": attacks[0] if attacks else "",
                                      "eps": eps[0] if eps else "", "param": [],
                                      "steps": None, "alpha": None, "decay": None,
                                      "no_random_start": False})
    base = config_from_args(base_args)
    pairs = _deprecated_params(args) + list(args.param)
    return ReportConfig(base, tuple(attacks), tuple(eps), str(checkpoint), str(root),
                        params=params_per_attack(attacks, pairs),
                        videos_per_class=args.report_videos)


def params_per_attack(attacks: list[str], pairs: list[str]) -> dict[str, dict]:
    """``--param`` pairs given to each listed attack that has the parameter.

    Raises:
        InputError: a parameter none of the attacks has (the first's valid ones are listed).
    """
    from harlab.attacks import get_spec

    out: dict[str, dict] = {}
    for pair in pairs:
        name = str(pair).partition("=")[0].strip()
        takers = [a for a in attacks if name in {p.name for p in get_spec(a).params}]
        if not takers:
            parse_params(attacks[0] if attacks else "", [pair])  # raises, listing the valid
        for a in takers:
            out.setdefault(get_spec(a).name, {}).update(parse_params(a, [pair]))
    return out


def _cmd_report(args: argparse.Namespace) -> int:
    from harlab.attacks.report import REPORT_COLUMNS, format_report, run_report
    from harlab.store import Project
    from harlab.tabular import write_records

    with Project.open_or_create(args.project) as project:
        checkpoint, root = sources(args, project)
        config = report_config_from_args(args, checkpoint, root)
        report = run_cli(run_report(project, config), "accuracy under attack")
    print("\n".join(format_report(report)))
    if args.csv:
        write_records(args.csv, REPORT_COLUMNS, report.rows)
        print(f"wrote {args.csv}")
    return 0


def _print_sweep(config, result) -> None:
    print(f"{config.attack} success rate over {result.n_correct} correctly classified of "
          f"{result.n_videos} videos:")
    names = list(result.per_class)
    print(f"  {'eps':>9}  {'all':>6}  " + "  ".join(f"{n[:12]:>12}" for n in names))
    for j, eps in enumerate(result.eps):
        per = "  ".join(f"{result.per_class[n][j]:>12.1%}" for n in names)
        print(f"  {eps * 255:>5.3g}/255  {result.success_rate[j]:>6.1%}  {per}")
    for name, (n, correct) in result.class_counts.items():
        if not correct:
            print(f"  {name}: none of its {n} videos is classified correctly before the attack")
