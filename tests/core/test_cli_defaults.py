"""A command-line default that copies a config class's default must not drift from it.

(``harlab query --concurrency`` said 4 after LLMConfig's default became 8.) Options left at
None (the preset decides) or given as text the command parses (eps ``8/255``, class lists) are
compared after parsing where that is simple, else skipped.
"""

from __future__ import annotations

import argparse
import dataclasses
from fractions import Fraction

import pytest

from harlab.attacks.config import AttackConfig
from harlab.cli import build_parser
from harlab.llm.config import LLMConfig
from harlab.train.config import TrainConfig

CASES = [("attack", AttackConfig), ("query", LLMConfig), ("train", TrainConfig),
         ("curve", LLMConfig), ("curve", AttackConfig), ("llm", LLMConfig)]


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def _comparable(cli_value, config_value):
    """Both sides in one form, or None when the CLI's value is not a copy to compare."""
    if cli_value is None or isinstance(cli_value, bool) != isinstance(config_value, bool):
        return None
    if isinstance(cli_value, str) and isinstance(config_value, tuple):
        return tuple(cli_value.split(",")), config_value
    if isinstance(cli_value, str) and isinstance(config_value, float):
        return float(Fraction(cli_value)) if "," not in cli_value else None, config_value
    if isinstance(cli_value, str) and config_value is None:
        return None  # 'auto' for None
    return cli_value, config_value


@pytest.mark.parametrize(("command", "config_class"), CASES)
def test_cli_defaults_equal_the_config_defaults(command, config_class):
    defaults = {f.name: getattr(config_class(), f.name)
                for f in dataclasses.fields(config_class)}
    compared = []
    for action in _subparser(command)._actions:
        if action.dest not in defaults:
            continue
        pair = _comparable(action.default, defaults[action.dest])
        if pair is None or pair[0] is None:
            continue
        compared.append(action.dest)
        assert pair[0] == pair[1], (f"harlab {command} --{action.dest.replace('_', '-')} "
                                    f"defaults to {action.default!r}, {config_class.__name__}"
                                    f".{action.dest} to {defaults[action.dest]!r}")
    assert compared or command in ("train", "llm"), f"nothing compared for harlab {command}"
