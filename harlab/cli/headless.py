"""The app's main job without a window: the demo pipeline, stage by stage, in the terminal.

``python main.py`` runs this when no display is available (or with ``--headless``). Each stage
is skipped when the project already holds its result, so running it again resumes where it
stopped and repeats nothing.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

from harlab import jobs
from harlab.console import quiet_third_party
from harlab.errors import HarlabError
from harlab.store import Project

log = logging.getLogger(__name__)

STEPS = (
    "generate the demo dataset (UCF-101 layout) unless it is already there",
    "open or create the project",
    "fine-tune ResNet-18 with the demo preset unless the project has a trained checkpoint",
    "attack keyframes with FGSM and keep 25 + 25 correct-to-wrong samples (BabyCrawling, Biking)",
    "ask the built-in language model (SmolLM2 on llama.cpp) about each sample",
    "score every pair (syntactic and semantic cosine, label mention, decision change)",
    "write evaluation.csv, evaluation.jsonl, table3.csv and summary.md into PROJECT/exports/study",
)


def run_headless(project_dir: str | Path | None = None, *, dry_run: bool = False,
                 out: Callable[[str], None] | None = None) -> int:
    """Run the demo pipeline in ``project_dir`` (default: the demo project); returns exit code."""
    from harlab.paths import demo_project_dir

    quiet_third_party()
    say = out or (lambda text: print(text, file=sys.stderr))
    target = Path(project_dir) if project_dir else demo_project_dir()
    if dry_run:
        say(f"headless pipeline in {target}:")
        for i, step in enumerate(STEPS, 1):
            say(f"  {i}. {step}")
        return 0
    try:
        _pipeline(target, say)
    except HarlabError as exc:
        say(f"harlab: error: {exc}")
        return 2
    except KeyboardInterrupt:
        say("harlab: cancelled; run again to resume")
        return 130
    return 0


def _pipeline(target: Path, say: Callable[[str], None]) -> None:
    """The demo study (:func:`harlab.study.runner.run_study`), then its exports."""
    from harlab.study.config import StudyConfig
    from harlab.study.export import export_study
    from harlab.study.runner import run_study

    config = StudyConfig.demo()
    with Project.open_or_create(target) as project:
        say(f"demo study in {project.root}")
        for key, value in config.chosen_settings().items():
            say(f"    {key}: {value}")
        result = jobs.run_cli(run_study(project, config), "study")
        say("    samples: " + ", ".join(f"{c} {n}" for c, n in result.samples.items()))
        for arm, q in result.queries.items():
            say(f"    {arm}: {q['asked']} asked, {q['cached']} from the store, "
                f"{q['failed']} failed, {q['skipped']} skipped")
        paths = export_study(project, project.exports_dir / "study", config)
        for path in paths.values():
            say(f"    wrote {path}")
        say(f"done: everything is in {project.root} (open it with python main.py "
            f"{project.root})")
