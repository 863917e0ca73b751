"""``harlab project``: create and inspect project folders."""

from __future__ import annotations

import argparse

from harlab.store import Project, repoint_dataset


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("project", help="create a project folder or show what one holds")
    psub = p.add_subparsers(dest="project_command", metavar="ACTION", required=True)
    new = psub.add_parser("new", help="create a new project folder")
    new.add_argument("path", help="folder to create (must not already be a project)")
    new.set_defaults(func=_cmd_new)
    info = psub.add_parser("info", help="summarise a project: runs, samples, responses, ratings")
    info.add_argument("path", help="project folder")
    info.set_defaults(func=_cmd_info)
    rep = psub.add_parser("repoint", help="point a moved or copied project at its dataset's "
                                          "new folder")
    rep.add_argument("path", help="project folder")
    rep.add_argument("dataset", help="the dataset folder (holding UCF-101/ and "
                                     "ucfTrainTestlist/) at its new location")
    rep.set_defaults(func=_cmd_repoint)


def _cmd_new(args: argparse.Namespace) -> int:
    with Project.create(args.path) as project:
        print(f"created project {project.root} (schema {project.schema_version})")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    with Project.open(args.path) as project:
        print(f"project {project.root} (schema {project.schema_version})")
        for table in ("runs", "samples", "llm_requests", "scores", "annotators", "ratings"):
            n = project.query_one(f"SELECT count(*) FROM {table}")[0]
            print(f"  {table:<13} {n}")
        for run in project.runs():
            print(f"  run {run['id']:>3} {run['kind']:<9} {run['status']:<9} {run['name']}")
    return 0


def _cmd_repoint(args: argparse.Namespace) -> int:
    with Project.open(args.path) as project:
        done = repoint_dataset(project, args.dataset)
    print(f"dataset re-pointed: {done.old or '(none)'} -> {done.new}")
    if done.videos_missing:
        print(f"  {done.videos_found} sample videos found there, {len(done.videos_missing)} "
              f"missing (e.g. {done.videos_missing[0]})")
    return 0
