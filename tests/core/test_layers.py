"""The core stays free of Qt, and starts light."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORE_MODULES = sorted(
    "harlab." + ".".join(p.relative_to(REPO / "harlab").with_suffix("").parts)
    for p in (REPO / "harlab").rglob("*.py")
    if p.name not in {"__init__.py", "__main__.py"}
)


def _loaded_after(import_stmt: str) -> set[str]:
    code = f"import sys, json\n{import_stmt}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True).stdout
    return {m.split(".")[0] for m in json.loads(out.strip().splitlines()[-1])}


def test_importing_every_core_module_loads_no_qt():
    stmt = "\n".join(f"import {m}" for m in CORE_MODULES) or "import harlab"
    loaded = _loaded_after("import harlab, harlab.cli\n" + stmt)
    assert not loaded & {"PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "ui"}


@pytest.mark.parametrize("stmt", ["import harlab", "import harlab.cli; harlab.cli.build_parser()"])
def test_startup_imports_no_heavy_library(stmt):
    loaded = _loaded_after(stmt)
    assert not loaded & {"torch", "cv2", "sentence_transformers", "openai", "torchvision"}


def test_cli_output_into_a_closed_pipe_is_quiet(tmp_path):
    from harlab.store import Project

    Project.create(tmp_path / "p").close()
    code = ("import sys\nfrom harlab.cli import main\n"
            f"sys.exit(main(['project', 'info', {str(tmp_path / 'p')!r}]))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=REPO)
    proc.stdout.close()  # the reader went away before anything was written
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err
