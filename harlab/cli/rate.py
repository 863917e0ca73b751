"""``harlab rate``: move human ratings between project copies and measure agreement."""

from __future__ import annotations

import argparse

from harlab.errors import InputError
from harlab.vocab import MODALITIES

MAX_BOOT = 100_000  # AgreementConfig's own bound, named here by the option's name
MAX_SEED = 2**63 - 1  # fits the INTEGER of any store or export it is written to
MAX_TOP = 10_000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rate", help="human ratings: setup, plan, export, import, agreement, verify-key",
        description="Human ratings of original/attacked answer pairs. Annotators rate in the "
                    "app's Evaluate panel; these commands move their ratings between copies of "
                    "a project and measure how well they agree.")
    rate = p.add_subparsers(dest="rate_command", metavar="ACTION")
    p.set_defaults(func=lambda _args: (p.print_help(), 2)[1])

    e = rate.add_parser(
        "export", help="write ratings to a .jsonl or .csv file",
        description="Write ratings in long form (one row per sample, modality, annotator and "
                    "item, with the blind order revealed and hashes of both answers, so another "
                    "copy of the project can import them).")
    e.add_argument("--project", required=True, help="project folder")
    e.add_argument("--annotator", help="only this annotator's ratings (default: everyone's)")
    e.add_argument("--out", required=True, help="file to write: .jsonl or .csv")
    e.set_defaults(func=_cmd_export)

    i = rate.add_parser(
        "import", help="merge ratings from an export file or a project copy",
        description="Merge ratings into the project, matched to its answers by their text "
                    "hashes. Duplicates and conflicts are listed row by row. If any row is "
                    "garbage, unknown here or of another rubric version, nothing is imported "
                    "and every such row is listed (exit status 2).")
    i.add_argument("--project", required=True, help="project folder to import into")
    i.add_argument("source", metavar="FILE_OR_PROJECT_DIR",
                   help="a .jsonl or .csv export, or another project folder (a copy)")
    i.add_argument("--on-conflict", choices=("keep", "replace"), default="keep",
                   help="a rating here with another value: keep it (default) or replace it")
    i.set_defaults(func=_cmd_import)

    a = rate.add_parser(
        "agreement", help="Cohen's and Fleiss' kappa, Krippendorff's alpha, with CIs",
        description="Agreement between annotators per rubric item and overall (mean over "
                    "items), each with a percentile bootstrap CI over rated pairs, and the "
                    "pairs with the most disagreement, for adjudication.")
    a.add_argument("--project", required=True, help="project folder")
    a.add_argument("--item", help="only this item (rubric id such as hazard, or a stored key "
                                  "such as hazard.original)")
    a.add_argument("--boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    a.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    a.add_argument("--weights", choices=("linear", "quadratic"), default="quadratic",
                   help="Cohen's kappa weights for ordinal items (default quadratic)")
    a.add_argument("--top", type=int, default=10, help="disagreements to list (default 10)")
    a.set_defaults(func=_cmd_agreement)

    s = rate.add_parser(
        "setup", help="lock blind mode for every annotator, or let them unblind",
        description="Blind mode is a project setting. 'locked' (the default): every annotator "
                    "rates blind. 'optional': an annotator may unblind, and every rating they "
                    "then give is stored and exported with unblinded = true.")
    s.add_argument("--project", required=True, help="project folder")
    s.add_argument("--blind", required=True, choices=("locked", "optional"))
    s.set_defaults(func=_cmd_setup)

    u = rate.add_parser(
        "use-pair", help="make a replaced (superseded) pair of answers the one the study uses",
        description="After a re-ask replaced a pair of answers, its ratings are read-only. "
                    "This makes that pair current again (kept through later re-asks), so the "
                    "study, the exports and rating use it; the newer answers stay stored. The "
                    "ids are the read-only line's in the Evaluate tab, or evaluation.csv's "
                    "superseded_ratings.")
    u.add_argument("--project", required=True, help="project folder")
    u.add_argument("--sample", type=int, required=True, help="sample id")
    u.add_argument("--modality", required=True, choices=MODALITIES)
    u.add_argument("--original", type=int, required=True, help="the original answer's id")
    u.add_argument("--attacked", type=int, required=True, help="the attacked answer's id")
    u.set_defaults(func=_cmd_use_pair)

    v = rate.add_parser(
        "verify-key", help="check a revealed blind key against its commitment",
        description="Recompute every commitment in a blind_key.json (written beside a rating "
                    "export) and their root; with --root, compare with the root published in "
                    "summary.md. Exit status 1 when anything differs.")
    v.add_argument("key_file", help="the export's NAME.blind_key.json")
    v.add_argument("--root", help="the SHA-256 root from summary.md (default: the file's own)")
    v.set_defaults(func=_cmd_verify_key)

    pl = rate.add_parser(
        "plan", help="items and annotators needed for a target CI half-width",
        description="Sample-size planner. For Krippendorff's alpha: by simulation (latent "
                    "item value plus rater noise, 5-point ordinal). For the paired difference "
                    "in meaning change: the t-based CI formula with rater noise averaged over "
                    "k annotators. See harlab.rating.planner.")
    pl.add_argument("--target", choices=("alpha", "difference"), default="alpha")
    pl.add_argument("--half-width", type=float, required=True,
                    help="the CI half-width wanted (alpha units, or scale points)")
    pl.add_argument("--alpha", type=float, default=0.7, help="expected alpha (default 0.7)")
    pl.add_argument("--sd-item", type=float, default=1.0,
                    help="sd of per-item differences (default 1.0 scale points)")
    pl.add_argument("--sd-rater", type=float, default=0.8,
                    help="sd of one rater's noise (default 0.8 scale points)")
    pl.add_argument("--sims", type=int, default=200, help="simulations per grid point")
    pl.set_defaults(func=_cmd_plan)


def _cmd_setup(args: argparse.Namespace) -> int:
    from harlab.rating.itemlog import set_blind_policy
    from harlab.store import Project

    with Project.open(args.project) as project:
        set_blind_policy(project, args.blind)
    print(f"blind mode: {args.blind}")
    return 0


def _cmd_use_pair(args: argparse.Namespace) -> int:
    from harlab.rating.supersede import choose_pair
    from harlab.store import Project

    with Project.open(args.project) as project:
        choose_pair(project, args.sample, args.modality, args.original, args.attacked)
    print(f"sample {args.sample} {args.modality}: the study now uses answers {args.original} / "
          f"{args.attacked} (kept through later re-asks); their ratings can be changed again")
    return 0


def _cmd_verify_key(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from harlab.rating.commitment import verify_reveal

    try:
        revealed = json.loads(Path(args.key_file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"cannot read blind key {args.key_file!r}: {exc}; pass the "
                         "NAME.blind_key.json written beside a rating export") from exc
    problems = verify_reveal(revealed, args.root)
    for problem in problems:
        print(f"DIFFERENT: {problem}")
    n = len(revealed.get("keys", []))
    print(f"{n} keys checked: " + ("the reveal matches the commitment" if not problems
                                    else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


def _cmd_plan(args: argparse.Namespace) -> int:
    from harlab.rating.planner import plan_alpha, plan_difference

    if args.target == "alpha":
        rows = plan_alpha(args.alpha, args.half_width, n_sim=args.sims)
    else:
        rows = plan_difference(args.half_width, args.sd_item, args.sd_rater)
    print(f"method: {rows[0].method}")
    print(f"{'annotators':>10} {'items':>7} {'half-width':>11}")
    for r in rows:
        items = str(r.items) if r.items else "> grid"
        print(f"{r.annotators:>10} {items:>7} {r.half_width:>11.3f}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from harlab.rating import export_ratings, find_annotator
    from harlab.store import Project

    with Project.open(args.project) as project:
        if args.annotator is not None:
            find_annotator(project, args.annotator)
        n = export_ratings(project, args.out, args.annotator)
    who = args.annotator or "all annotators"
    print(f"exported {n} ratings ({who}) to {args.out}")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from harlab.rating import import_ratings, load_rubric
    from harlab.store import Project

    with Project.open(args.project) as project:
        report = import_ratings(project, args.source, load_rubric(project.root),
                                on_conflict=args.on_conflict)
    for note in report.duplicates + report.conflicts:
        print(f"  {note}")
    print(report.summary())
    return 0


def _cmd_agreement(args: argparse.Namespace) -> int:
    from harlab import jobs
    from harlab.rating import load_rubric
    from harlab.rating.agreement import AgreementConfig
    from harlab.stages import agreement
    from harlab.store import Project

    _check_int("--boot", args.boot, 0, MAX_BOOT, " (0: no CI)")
    _check_int("--seed", args.seed, 0, MAX_SEED, "", "2**63 - 1")
    _check_int("--top", args.top, 0, MAX_TOP)
    config = AgreementConfig(n_boot=args.boot, seed=args.seed, weights=args.weights,
                             top_disagreements=args.top)
    with Project.open(args.project) as project:
        rubric = load_rubric(project.root)
        result = jobs.run_cli(agreement(project, config, args.item),
                              desc="agreement")
    print(f"annotators: {', '.join(result.annotators) or 'none'}; rubric version "
          f"{rubric.version}; {config.ci:.0%} CIs from {config.n_boot} resamples")
    print(f"methods: {result.methods()}")
    print("units: pairs with any rating; n= after a value: the units it used")
    print(f"{'item':<26} {'units':>5} {'raters':>6}  {'cohen kappa':<30} "
          f"{'fleiss kappa':<30} {'krippendorff alpha':<30}")
    notes: list[str] = []
    for row in (*result.items, result.overall):
        cells = [_cell(row.stat(s), f"{row.item} {s}", notes) for s in ("cohen", "fleiss",
                                                                        "alpha")]
        print(f"{row.item:<26} {row.n_units:>5} {row.n_annotators:>6}  " +
              " ".join(f"{c:<30}" for c in cells))
    for note in notes:
        print(f"  {note}")
    from harlab.rating.bias import CI_METHOD, position_bias

    with Project.open(args.project) as project:
        bias = position_bias(project, rubric)
    if bias:
        print(f"position bias (share of A choices; {CI_METHOD}):")
        for b in bias:
            if b.share_a is None:
                print(f"  {b.annotator}: no A or B choice yet")
            else:
                print(f"  {b.annotator}: {b.n_a}/{b.n} = {b.share_a:.2f} "
                      f"[{b.ci_low:.2f}, {b.ci_high:.2f}], p = {b.p_value:.3g}")
    if result.disagreements:
        print("most disagreement (adjudicate first):")
        for d in result.disagreements:
            values = ", ".join(f"{a}={v}" for a, v in d.values.items())
            print(f"  sample {d.sample_id} {d.modality} {d.item}: {values} "
                  f"(disagreement {d.score:.2f})")
    return 0


def _cell(stat, label: str, notes: list[str]) -> str:
    if stat.value is None:
        notes.append(f"[{len(notes) + 1}] {label}: {stat.reason}")
        return f"- [{len(notes)}]"
    n = f" n={stat.n_units}" if stat.n_units is not None else ""
    if stat.reason and (stat.ci_low is None or stat.ci_dropped):
        notes.append(f"[{len(notes) + 1}] {label}: {stat.reason}")
        n += f" [{len(notes)}]"
    if stat.ci_low is None:
        return f"{stat.value:.3f}{n}"
    return f"{stat.value:.3f} [{stat.ci_low:.2f}, {stat.ci_high:.2f}]{n}"


def _check_int(option: str, value: int, low: int, high: int, note: str = "",
               high_text: str | None = None) -> None:
    """Refuse an out-of-range option by its own name (numpy's error for a seed of -1 is not)."""
    if not low <= value <= high:
        raise InputError(f"{option} must be an integer in [{low}, {high_text or high}]{note}, "
                         f"got {value}; see `harlab rate agreement --help`")
