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
from harlab.errors import HarlabError
from harlab.store import Project

log = logging.getLogger(__name__)

STEPS = (
    "generate the demo dataset (UCF-101 layout) unless it is already there",
    "open or create the project and point it at the demo dataset",
    "fine-tune ResNet-18 with the demo preset unless the project has a trained checkpoint",
    "attack keyframes with FGSM and keep correct-to-wrong samples (BabyCrawling, Biking)",
    "ask the built-in language model (SmolLM2 on llama.cpp) about each sample",
)


def run_headless(project_dir: str | Path | None = None, *, dry_run: bool = False,
                 out: Callable[[str], None] | None = None) -> int:
    """Run the demo pipeline in ``project_dir`` (default: the demo project); returns exit code."""
    from harlab.paths import demo_project_dir

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
    from harlab.attacks.selection import AttackConfig, default_checkpoint, find_samples
    from harlab.data.demo_data import ensure_demo_dataset_job
    from harlab.train.config import TrainConfig
    from harlab.train.fit import train

    say("1/5 demo dataset")
    root = jobs.run_cli(ensure_demo_dataset_job(), "demo dataset")
    say(f"    {root}")

    say(f"2/5 project {target}")
    with Project.open_or_create(target) as project:
        if not project.get_meta("dataset_root"):
            project.set_meta("dataset_root", str(root))
        dataset_root = Path(project.get_meta("dataset_root") or root)

        say("3/5 fine-tune")
        try:
            checkpoint = default_checkpoint(project)
            say(f"    using {checkpoint}")
        except HarlabError:
            config = TrainConfig.demo()
            result = jobs.run_cli(train(config, dataset_root, project=project), "train")
            checkpoint = Path(result.best_checkpoint)
            say(f"    best validation accuracy {result.best_val_acc:.1%}; {checkpoint}")

        say("4/5 attack")
        n_samples = project.query_one("SELECT count(*) FROM samples WHERE selected = 1")[0]
        if n_samples:
            say(f"    the project already holds {n_samples} samples")
        else:
            found = jobs.run_cli(find_samples(project, checkpoint, dataset_root,
                                              AttackConfig()), "attack")
            say(f"    {found.summary()}")

        say("5/5 language model")
        from harlab.llm.config import LLMConfig
        from harlab.llm.runner import query_samples

        answered = jobs.run_cli(query_samples(project, LLMConfig()), "query")
        say(f"    {answered.asked} asked, {answered.cached} from the store, "
            f"{answered.failed} failed, {answered.skipped} skipped")
        say(f"done: everything is in {project.root} (open it with python main.py "
            f"{project.root} where a display is available)")
