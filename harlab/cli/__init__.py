"""The ``harlab`` command: one subcommand per stage of the study.

Each stage lives in its own module exposing ``register(subparsers)``, which adds its
subcommand(s) and sets ``func=handler`` where ``handler(args) -> int``. Add a stage by adding
its module name to :data:`COMMAND_MODULES` (an explicit list, no discovery magic).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import sqlite3
import sys
import time
import traceback
from pathlib import Path

from harlab import __version__
from harlab.console import quiet_third_party
from harlab.errors import HarlabError

COMMAND_MODULES = [
    "harlab.cli.project",
    "harlab.cli.data",
    "harlab.cli.train",
    "harlab.cli.attack",
    "harlab.cli.curve",
    "harlab.cli.query",
    "harlab.cli.llm",
    "harlab.cli.score",
    "harlab.cli.rate",
    "harlab.cli.study",
]

log = logging.getLogger("harlab")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harlab",
        description="HARLab: adversarial attacks on human-action recognition and what a "
                    "language model then says. Each subcommand runs one stage headless.",
    )
    parser.add_argument("--version", action="version", version=f"harlab {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
        format="%(levelname)s %(name)s: %(message)s",
    )
    quiet_third_party(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return int(args.func(args) or 0)
    except HarlabError as exc:
        print(f"harlab {args.command}: error: {exc}", file=sys.stderr)
        log.debug("traceback", exc_info=True)
        return 2
    except KeyboardInterrupt:
        print(f"harlab {args.command}: cancelled", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into `head` and friends: stop quietly, as Unix tools do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # a bug or an environment failure: one line, traceback to a log
        damaged = _damaged_database(args, exc)
        if damaged:
            print(f"harlab {args.command}: {damaged}", file=sys.stderr)
            log.debug("traceback", exc_info=True)
            return 2
        return _report_unexpected(args, exc)


def _report_unexpected(args: argparse.Namespace, exc: Exception) -> int:
    """Print one line saying what failed and where the traceback is; exit status 1.

    The traceback goes to the user log (``harlab.log`` in :func:`harlab.paths.data_dir`, the
    file the GUI also writes) and to the project's ``harlab.log`` when ``--project`` names one.
    ``-v`` prints it too.
    """
    text = "".join(traceback.format_exception(exc))
    saved = _save_traceback(args, text)
    where = (f"traceback in {saved[0]}" if saved
             else "the traceback could not be saved to a log file")
    print(f"harlab {args.command}: {_describe(exc)} ({where}; run with -v to show it)",
          file=sys.stderr)
    if args.verbose:
        print(text, file=sys.stderr, end="")
    return 1


def _damaged_database(args: argparse.Namespace, exc: Exception) -> str:
    """The message for a project database that SQLite finds damaged mid-command, or ""."""
    if not isinstance(exc, sqlite3.DatabaseError) or (
            isinstance(exc, sqlite3.OperationalError)
            and not any(w in str(exc) for w in ("malformed", "not a database"))):
        return ""
    from harlab import store

    project = getattr(args, "project", None)
    if project is None and args.command == "project":
        project = getattr(args, "path", None)
    where = (repr(str(Path(project).expanduser() / store.DB_NAME)) if isinstance(project, str)
             else "the project database")
    return (f"error: {where} is damaged ({exc}). Nothing more was written. Restore it from a "
            "backup, or save what is readable into a new file with the sqlite3 shell: "
            f"`sqlite3 {where} .recover | sqlite3 recovered.sqlite`")


def _describe(exc: Exception) -> str:
    """What failed, in words a user can act on."""
    if _is_disk_full(exc):
        where = getattr(exc, "filename", None)
        return (f"error: the disk is full{f' writing {where}' if where else ''}. Free some "
                "space and run the command again: finished steps are kept and resume")
    if isinstance(exc, PermissionError):
        return (f"error: permission denied on {exc.filename}; check that you can write "
                "there" if exc.filename else f"error: permission denied ({exc})")
    detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    name = type(exc).__name__
    return f"unexpected error: {name}: {detail}" if detail else f"unexpected error: {name}"


def _is_disk_full(exc: BaseException) -> bool:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _save_traceback(args: argparse.Namespace, text: str) -> list[Path]:
    """Append ``text`` to the user log and the project's log; the files written."""
    from harlab import paths, store

    targets: list[Path] = []
    try:
        targets.append(paths.data_dir() / "harlab.log")
    except OSError:
        pass
    project = getattr(args, "project", None)
    if project is None and args.command == "project":
        project = getattr(args, "path", None)
    if isinstance(project, str) and store.is_project(project):
        targets.append(Path(project).expanduser() / store.LOG_NAME)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    command = " ".join(sys.argv[1:]) or str(args.command)
    written = []
    for path in targets:
        try:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(f"{stamp} ERROR harlab.cli: harlab {command} failed\n{text}")
            written.append(path)
        except OSError:
            continue
    return written
