"""The shape issue 13 set: short core functions, thin panels, no SQL in ui/."""

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_no_core_function_is_over_100_lines():
    long = [f"{p.relative_to(REPO)}:{n.name} ({n.end_lineno - n.lineno + 1} lines)"
            for p in (REPO / "harlab").rglob("*.py")
            for n in ast.walk(ast.parse(p.read_text()))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and n.end_lineno - n.lineno + 1 > 100]
    assert not long, long


def test_no_ui_module_is_over_400_lines():
    long = [f"{p.relative_to(REPO)} ({n} lines)" for p in (REPO / "ui").rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400]
    assert not long, long


def test_ui_holds_no_sql_and_parses_no_stored_json():
    pattern = re.compile(r"\.(query|query_one|execute|executemany)\(|json\.loads|\bSELECT\b")
    found = [f"{p.relative_to(REPO)}:{i}" for p in (REPO / "ui").rglob("*.py")
             for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not found, found
