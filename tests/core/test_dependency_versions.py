"""The installed dependencies are within the ranges pyproject.toml declares.

Those ranges are what the suite has run on (README, "Tested versions"): a venv made by hand, or
an old one, can hold a release nobody here ran, and its failures would look like HARLab's bugs.
This test names the package, the installed and the declared versions, and the fix.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def declared_requirements() -> list[Requirement]:
    """The ``[project] dependencies`` of pyproject.toml (read without tomllib: Python 3.10)."""
    text = PYPROJECT.read_text(encoding="utf-8")
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M)
    assert block, "pyproject.toml has no [project] dependencies list"
    return [Requirement(m) for m in re.findall(r'^\s*"([^"]+)",', block.group(1), re.M)]


def test_pyproject_lists_the_dependencies():
    names = {r.name.lower() for r in declared_requirements()}
    assert {"numpy", "scipy", "opencv-python-headless", "pyside6-essentials", "openai",
            "sentence-transformers"} <= names


@pytest.mark.parametrize("req", declared_requirements(), ids=lambda r: r.name)
def test_installed_version_was_tested(req: Requirement):
    try:
        installed = metadata.version(req.name)
    except metadata.PackageNotFoundError:
        pytest.fail(f"{req.name} is not installed; run `bash scripts/test.sh` (it installs "
                    "everything pyproject.toml declares)")
    assert req.specifier.contains(installed, prereleases=True), (
        f"{req.name} {installed} is installed, but HARLab is tested with {req.name}"
        f"{req.specifier} (pyproject.toml). Run `pip install '{req}'`, or run the suite on "
        f"{installed} and widen the range in pyproject.toml and the README's tested-versions "
        "table if it passes.")
