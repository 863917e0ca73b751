"""``harlab study``: the whole protocol in one command; ``export-bundle`` and ``verify``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "study", help="run the whole study (data, classifier, samples, LLM, scores) and write "
                      "evaluation.csv, evaluation.jsonl, table3.csv and summary.md",
        description="Run every stage of a study that is not done yet, resumably, then export. "
                    "--demo runs the paper's protocol on the generated demo data with the "
                    "built-in model, offline. A CONFIG.yaml runs any study (see "
                    "resources/study_ucf101_gpt4o.yaml).")
    p.add_argument("config", nargs="?", help="study YAML file (omit with --demo)")
    p.add_argument("--demo", action="store_true", help="the demo study (offline)")
    p.add_argument("--out", required=True, help="folder for the exported files")
    p.add_argument("--project", help="project folder (default: OUT/project; created if missing)")
    p.set_defaults(func=_cmd_study)

    b = sub.add_parser("export-bundle", help="one archive with everything needed to verify a "
                                             "study: config, versions, hashes, frames, raw "
                                             "requests and responses, ratings, the CSVs")
    b.add_argument("--project", required=True, help="project folder")
    b.add_argument("--out", required=True, help="the .zip to write")
    b.set_defaults(func=_cmd_bundle)

    v = sub.add_parser("verify", help="recompute every exported number of a bundle from its "
                                      "record (offline) and report any difference")
    v.add_argument("bundle", help="a .zip written by harlab export-bundle")
    v.add_argument("--max-unpacked-mb", type=int, default=None, metavar="MB",
                   help="refuse a bundle that unpacks to more than this (default 4096); "
                        "a zip bomb is refused by its compression ratio whatever this is")
    v.set_defaults(func=_cmd_verify)


def _cmd_study(args: argparse.Namespace) -> int:
    from harlab.errors import InputError
    from harlab.jobs import run_cli
    from harlab.store import Project
    from harlab.study.config import StudyConfig
    from harlab.study.export import export_study
    from harlab.study.runner import run_study

    if args.demo == bool(args.config):
        raise InputError("give either --demo or a study CONFIG.yaml (not both, not neither); "
                         "e.g. harlab study --demo --out runs/demo")
    config = StudyConfig.demo() if args.demo else StudyConfig.load(args.config)
    out = Path(args.out).expanduser()
    project_dir = Path(args.project).expanduser() if args.project else out / "project"
    with Project.open_or_create(project_dir) as project:
        print(f"study {config.name!r} in project {project.root}", file=sys.stderr)
        for key, value in config.chosen_settings().items():
            print(f"  {key}: {value}", file=sys.stderr)
        result = run_cli(run_study(project, config), "study")
        paths = export_study(project, out, config)
    done = ", ".join(f"{c} {n}" for c, n in result.samples.items())
    print(f"samples: {done}")
    for arm, q in result.queries.items():
        print(f"{arm}: {q['asked']} asked, {q['cached']} from the store, {q['failed']} failed, "
              f"{q['skipped']} skipped")
    for path in paths.values():
        print(f"wrote {path}")
    if result.failed_requests:
        print(f"harlab study: {result.failed_requests} request(s) failed (see status_reason in "
              "evaluation.csv); run the same command again to retry them", file=sys.stderr)
        return 1
    return 0


def _cmd_bundle(args: argparse.Namespace) -> int:
    from harlab.store import Project
    from harlab.study.bundle import export_bundle

    with Project.open(args.project) as project:
        path = export_bundle(project, args.out)
    print(f"wrote {path}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from harlab.study.bundle import verify_bundle
    from harlab.study.safe_zip import MiB, ZipLimits

    limits = (ZipLimits() if args.max_unpacked_mb is None
              else ZipLimits(max_unpacked_bytes=args.max_unpacked_mb * MiB))
    report = verify_bundle(args.bundle, limits)
    for line in report.lines:
        print(line)
    print("verified: every exported number matches its record" if report.ok
          else f"verify: {len(report.differences)} difference(s)")
    return 0 if report.ok else 1
