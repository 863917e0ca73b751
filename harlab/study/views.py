"""What the Overview and Results tabs say about a study, read from the store (no Qt).

Counts are in *items*: one item is a selected sample in one modality (its original and attacked
answer together), so "50 of 50 answered" means 50 pairs, and a rating count is the number of
items rated, not of rubric answers. :func:`llm_used` says which language model a study's
answers came from (provider, model, the snapshot the server reported, temperature) and whether
its settings came from the study config or from the Settings dialog.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harlab.paths import demo_dataset_dir
from harlab.store import Project
from harlab.study.config import StudyConfig
from harlab.study.export import study_config
from harlab.study.runner import current_samples, stage_state
from harlab.vocab import MODALITIES, SIDES


@dataclass(frozen=True)
class ArmItems:
    """The answer pairs of one modality for the selected samples.

    Attributes:
        samples: selected samples (the items this modality should have).
        ok, skipped, failed: items whose pair is all ok, has a skipped or a failed answer.
        reasons: skip or failure reason -> items.
    """

    modality: str
    samples: int
    ok: int = 0
    skipped: int = 0
    failed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def asked(self) -> int:
        return self.ok + self.skipped + self.failed

    def describe(self) -> str:
        text = f"{self.modality}: {self.ok} of {self.samples} answered"
        extra = [f"{n} {word}" for n, word in ((self.skipped, "skipped"),
                                               (self.failed, "failed")) if n]
        return text + (f" ({', '.join(extra)})" if extra else "")

    def skipped_line(self) -> str | None:
        """One line for an arm that was skipped throughout (a text-only model asked for the
        multimodal arm): its reason, which says how to enable it; None otherwise."""
        if self.ok or not self.skipped or not self.reasons:
            return None
        reason = max(self.reasons, key=self.reasons.get)
        return f"{self.modality}: not asked ({self.skipped} of {self.samples} skipped): {reason}"


def arm_items(project: Project) -> dict[str, ArmItems]:
    """Per modality: how many selected samples have an ok, skipped or failed answer pair."""
    n_samples = project.query_one("SELECT count(*) FROM samples WHERE selected = 1")[0]
    pairs: dict[tuple[int, str], list[Any]] = defaultdict(list)
    for row in project.query(
            "SELECT sample_id, modality, status, error FROM current_requests WHERE variant IN "
            "('original', 'attacked') AND sample_id IN (SELECT id FROM samples WHERE "
            "selected = 1)"):
        pairs[(row["sample_id"], row["modality"])].append(row)
    counts = {m: Counter() for m in MODALITIES}
    reasons: dict[str, Counter] = {m: Counter() for m in MODALITIES}
    for (_sample, modality), rows in pairs.items():
        status = next((s for s in ("failed", "skipped") if any(r["status"] == s for r in rows)),
                      "ok" if len(rows) == len(SIDES) else "")
        if not status:
            continue  # half asked: counted as neither
        counts.setdefault(modality, Counter())[status] += 1
        if status != "ok":
            reason = next(r["error"] for r in rows if r["status"] == status) or status
            reasons.setdefault(modality, Counter())[reason] += 1
    return {m: ArmItems(m, n_samples, counts[m]["ok"], counts[m]["skipped"],
                        counts[m]["failed"], dict(reasons[m])) for m in counts}


def rated_items(project: Project) -> tuple[int, int]:
    """``(items rated by anyone, annotators who rated)`` for the selected samples."""
    row = project.query_one(
        "SELECT count(DISTINCT sample_id || '/' || modality), count(DISTINCT annotator_id) "
        "FROM ratings WHERE sample_id IN (SELECT id FROM samples WHERE selected = 1)")
    return int(row[0] or 0), int(row[1] or 0)


def scored_items(project: Project) -> int:
    """Items (sample, modality) with at least one score of their original-vs-attacked pair."""
    return int(project.query_one(
        "SELECT count(DISTINCT sample_id || '/' || modality) FROM scores WHERE pair = "
        "'attacked' AND sample_id IN (SELECT id FROM samples WHERE selected = 1)")[0] or 0)


def query_state(state: str, arms: dict[str, ArmItems]) -> str:
    """The language-model stage's state with what the word 'done' would hide."""
    if state != "done":
        return state
    notes = []
    for arm in arms.values():
        if arm.samples and arm.skipped == arm.samples:
            notes.append(f"{arm.modality} all skipped")
        elif arm.skipped:
            notes.append(f"{arm.modality} {arm.skipped / max(arm.samples, 1):.0%} skipped")
        if arm.failed:
            notes.append(f"{arm.modality} {arm.failed} failed")
    return "done, " + "; ".join(notes) if notes else "done"


# ---------------------------------------------------------------------------- the dataset
@dataclass(frozen=True)
class DatasetProblem:
    """The project's recorded dataset folder is missing on this machine."""

    root: str
    is_demo: bool
    demo_here: bool  # this account's generated demo dataset exists (a re-point target)

    def message(self) -> str:
        what = "the generated demo dataset" if self.is_demo else "its dataset"
        text = (f"This project's dataset folder {self.root!r} does not exist here: the "
                f"project was copied from another account or machine, or {what} was moved "
                "or deleted. Nothing has been regenerated or changed.")
        if self.is_demo:
            text += (" Regenerate the demo dataset (about 150 MB, a few minutes) or re-point "
                     "the project at a copy of it." if not self.demo_here else
                     f" This account has a demo dataset at {str(demo_dataset_dir())!r}; "
                     "re-point the project at it, or choose another folder.")
        else:
            text += " Re-point the project at the dataset's new folder."
        return text


def is_demo_root(root: str | Path) -> bool:
    """Whether ``root`` is (by its folder name) a generated demo dataset."""
    return Path(root).name == demo_dataset_dir().name


def dataset_problem(project: Project, study_dataset: str | None = None) -> DatasetProblem | None:
    """The project's missing dataset folder, or None when it exists or none is recorded."""
    root = project.get_meta("dataset_root")
    if not root or Path(root).is_dir():
        return None
    demo = study_dataset == "demo" or is_demo_root(root)
    return DatasetProblem(root, demo, (demo_dataset_dir() / "UCF-101").is_dir())


# ---------------------------------------------------------------------------- the LLM used
@dataclass(frozen=True)
class LLMUsed:
    """Which model answered one modality's current pairs, and where its settings came from."""

    modality: str
    provider: str
    model: str
    snapshots: tuple[str, ...]
    temperatures: tuple[float, ...]
    answers: int
    source: str

    def describe(self) -> str:
        snap = [s for s in self.snapshots if s and s != self.model]
        temps = ", ".join(f"{t:g}" for t in self.temperatures) or "?"
        return (f"{self.modality}: {self.provider}:{self.model}"
                + (f" (snapshot {', '.join(snap)})" if snap else "")
                + f", temperature {temps}, {self.answers} answer(s); settings from "
                  f"{self.source}")


def _sources(project: Project) -> dict[int, str]:
    """Query run id -> where its settings came from (a study run around it, else Settings)."""
    studies = [(r["id"], r["name"], r["updated_at"]) for r in project.runs("study")]
    out = {}
    for run in project.runs("query"):
        outer = [s for s in studies if s[0] < run["id"] and s[2] >= run["created_at"]]
        out[run["id"]] = (f"the study config '{outer[-1][1]}' (study run #{outer[-1][0]})"
                          if outer else f"the Settings dialog (query run #{run['id']})")
    return out


def llm_used(project: Project) -> list[LLMUsed]:
    """Per modality and model: the current answers of the selected samples (noise draws too)."""
    sources = _sources(project)
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in project.query(
            "SELECT modality, provider, model, response_model, temperature, run_id, "
            "count(*) AS n FROM current_requests WHERE status = 'ok' AND sample_id IN "
            "(SELECT id FROM samples WHERE selected = 1) GROUP BY modality, provider, model, "
            "response_model, temperature, run_id ORDER BY modality"):
        key = (row["modality"], row["provider"], row["model"])
        g = groups.setdefault(key, {"snap": set(), "temp": set(), "n": 0, "src": set()})
        g["snap"].add(row["response_model"] or "")
        if row["temperature"] is not None:
            g["temp"].add(float(row["temperature"]))
        g["n"] += row["n"]
        g["src"].add(sources.get(row["run_id"], "an earlier release (no run recorded)"))
    return [LLMUsed(m, p, model, tuple(sorted(g["snap"])), tuple(sorted(g["temp"])), g["n"],
                    " and ".join(sorted(g["src"])))
            for (m, p, model), g in sorted(groups.items())]


# ---------------------------------------------------------------------------- the overview
@dataclass(frozen=True)
class StudyOverview:
    """The Overview tab's rows: each stage's state and what the project holds for it."""

    config: Any
    states: dict[str, str]
    holds: dict[str, str]
    problem: DatasetProblem | None
    llm: list[LLMUsed] = field(default_factory=list)
    skipped_arms: list[str] = field(default_factory=list)  # ArmItems.skipped_line of each


def study_overview(project: Project) -> StudyOverview:
    """Read everything the Overview shows (a job thread's work: it opens the store)."""
    config = study_config(project) or StudyConfig.demo()
    states = stage_state(project, config)
    arms = arm_items(project)
    problem = dataset_problem(project, config.dataset)
    states["query"] = query_state(states["query"], arms)
    if problem is not None and states["data"] == "done":
        states["data"] = "done, dataset missing here"
    rated, annotators = rated_items(project)
    checkpoint = project.get_meta("study/checkpoint")
    root = project.get_meta("dataset_root") or ""
    holds = {
        "data": (root or ("generated demo dataset" if config.dataset == "demo" else
                          config.dataset)) + (" (missing)" if problem else ""),
        "classifier": Path(checkpoint).name if checkpoint else "none yet",
        "samples": ", ".join(f"{c} {n}/{config.per_class}"
                             for c, n in current_samples(project).items()) or "none yet",
        "query": "; ".join(a.describe() for a in arms.values() if a.samples) or "none yet",
        "score": f"{scored_items(project)} item(s) scored; {rated} item(s) rated by "
                 f"{annotators} annotator(s)",
    }
    return StudyOverview(config, states, holds, problem, llm_used(project),
                         [line for a in arms.values() if (line := a.skipped_line())])


def row_counts(project: Project) -> dict[str, int]:
    """Rows per table, as ``harlab project info`` prints them."""
    return {t: project.query_one(f"SELECT count(*) FROM {t}")[0]
            for t in ("runs", "samples", "llm_requests", "scores", "annotators", "ratings")}
