"""Reading training and evaluation runs back from a project: what the Train view shows.

A ``train`` run stores its per-epoch history and checkpoint paths in its result (kept on cancel
too); an ``evaluate`` run stores an :class:`~harlab.train.evaluate.EvalResult`. These readers turn
the stored rows into typed records, so views never touch SQL or JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from harlab.errors import InputError
from harlab.store import Project
from harlab.train.evaluate import EvalResult
from harlab.train.step_history import StepHistory


@dataclass(frozen=True)
class TrainRun:
    """One recorded ``train`` run.

    Attributes:
        id: the run's id; name: e.g. ``resnet18 112px``; status: running, done, failed or
            cancelled; error: the failure message.
        config: the TrainConfig fields plus ``dataset_root`` and ``resumed``.
        history: one row per finished epoch (``epoch, train_loss, train_acc, val_loss,
            val_acc, lr, time_s, best``).
        steps: loss and learning rate per step, thinned (empty for older runs).
        best_checkpoint, last_checkpoint: absolute paths, or None when never written.
        completed: whether every epoch of the recipe ran.
    """

    id: int
    name: str
    status: str
    created_at: float
    config: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    steps: StepHistory = field(default_factory=StepHistory)
    best_epoch: int = 0
    best_val_acc: float | None = None
    best_checkpoint: Path | None = None
    last_checkpoint: Path | None = None
    completed: bool = False
    weights: str = ""
    error: str | None = None

    @property
    def label(self) -> str:
        acc = ("" if self.best_val_acc is None or self.best_val_acc < 0
               else f", best val {self.best_val_acc:.1%}")
        return (f"#{self.id} {self.name} · {self.status} · {len(self.history)} epoch(s)"
                f"{acc}")


def _path(project: Project, rel: str | None) -> Path | None:
    if not rel:
        return None
    return Path(rel) if Path(rel).is_absolute() else project.abspath(rel)


def _loads(text: str | None) -> dict[str, Any]:
    value = json.loads(text) if text else {}
    return value if isinstance(value, dict) else {}


def _train_run(project: Project, row: Any) -> TrainRun:
    result = _loads(row["result_json"])
    best = result.get("best_val_acc")
    last = _path(project, result.get("last_checkpoint"))
    if last is None:  # a run cancelled before its first result still has its folder
        guess = project.checkpoints_dir / f"train-{row['id']}" / "last.pt"
        last = guess if guess.is_file() else None
    return TrainRun(id=row["id"], name=row["name"], status=row["status"],
                    created_at=row["created_at"], config=_loads(row["config_json"]),
                    history=list(result.get("history") or []),
                    steps=StepHistory.from_dict(result.get("steps")),
                    best_epoch=int(result.get("best_epoch") or 0),
                    best_val_acc=None if best is None else float(best),
                    best_checkpoint=_path(project, result.get("best_checkpoint")),
                    last_checkpoint=last, completed=bool(result.get("completed")),
                    weights=str(result.get("weights") or ""), error=row["error"])


def train_runs(project: Project) -> list[TrainRun]:
    """Every ``train`` run of the project, oldest first."""
    return [_train_run(project, row) for row in project.runs("train")]


def train_run(project: Project, run_id: int) -> TrainRun:
    """One ``train`` run by id; raises :class:`InputError` for an unknown id."""
    for run in train_runs(project):
        if run.id == run_id:
            return run
    raise InputError(f"project {str(project.root)!r} has no train run #{run_id}; pick one of "
                     f"{', '.join(str(r.id) for r in train_runs(project)) or 'none (train first)'}")


def best_checkpoint(project: Project) -> Path | None:
    """The best checkpoint of the latest finished (or cancelled) run whose file exists."""
    for run in reversed(train_runs(project)):
        if run.status not in ("done", "cancelled"):
            continue
        if run.best_checkpoint is not None and run.best_checkpoint.is_file():
            return run.best_checkpoint
    return None


def resume_checkpoint(project: Project) -> Path | None:
    """The newest run's ``last.pt`` when that run stopped before its last epoch."""
    for run in reversed(train_runs(project)):
        if run.last_checkpoint is not None and run.last_checkpoint.is_file():
            return None if run.completed else run.last_checkpoint
    return None


_EVAL_FIELDS = {f.name for f in fields(EvalResult)}


def evaluations(project: Project) -> list[EvalResult]:
    """Every finished ``evaluate`` run's result, oldest first (``run_id`` set)."""
    found = []
    for row in project.runs("evaluate"):
        if row["status"] != "done" or not row["result_json"]:
            continue
        values = {k: v for k, v in _loads(row["result_json"]).items() if k in _EVAL_FIELDS}
        values["run_id"] = row["id"]
        try:
            found.append(EvalResult(**values))
        except TypeError:
            continue  # a result from an older release without every field: not shown
    return found


def evaluation_of(project: Project, checkpoint: Path | None) -> EvalResult | None:
    """The newest evaluation of ``checkpoint`` (compared as resolved paths), or None."""
    if checkpoint is None:
        return None
    target = Path(checkpoint).resolve()
    for result in reversed(evaluations(project)):
        path = _path(project, result.checkpoint)
        if path is not None and path.resolve() == target:
            return result
    return None
