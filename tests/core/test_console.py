"""No third-party warning, log line or progress bar reaches the user's terminal unless -v."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_SCORE_LONG = """
import sys
from harlab.console import quiet_third_party
quiet_third_party(int(sys.argv[1]))
from harlab.scoring import semantic_similarity
long = " ".join(f"word{i}" for i in range(900))
print(round(semantic_similarity(long, long + " tail"), 3))
"""


def _run(verbose: int) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TRANSFORMERS_", "HF_HUB_DISABLE", "TOKENIZERS_"))}
    env.update(PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return subprocess.run([sys.executable, "-c", _SCORE_LONG, str(verbose)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_long_text_scoring_prints_nothing_but_the_result():
    quiet = _run(0)
    assert quiet.returncode == 0, quiet.stderr[-800:]
    assert quiet.stderr.strip() == "", f"third-party output reached the terminal: {quiet.stderr}"
    loud = _run(1)  # -v lets the library's own note through (and shows the test can fail)
    assert loud.returncode == 0 and "Token indices sequence length" in loud.stderr
