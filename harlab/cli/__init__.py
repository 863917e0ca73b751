"""The ``harlab`` command: one subcommand per stage of the study.

Each stage lives in its own module exposing ``register(subparsers)``, which adds its
subcommand(s) and sets ``func=handler`` where ``handler(args) -> int``. Add a stage by adding
its module name to :data:`COMMAND_MODULES` (an explicit list, no discovery magic).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from harlab import __version__
from harlab.errors import HarlabError

COMMAND_MODULES = [
    "harlab.cli.project",
    "harlab.cli.data",
    "harlab.cli.train",
    "harlab.cli.attack",
    "harlab.cli.query",
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
