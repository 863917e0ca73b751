"""What a study hands back: evaluation.csv and .jsonl, table3.csv and summary.md.

``evaluation.csv`` has one row per sample and modality (the contract in DESIGN.md), then the
further scores, the provenance of both answers and the human-rating columns. Model answers are
untrusted text: a CSV cell that a spreadsheet would run as a formula (leading ``=``, ``+``,
``-``, ``@``, tab or carriage return) is written with a leading ``'`` (OWASP); the exact texts
are in ``evaluation.jsonl`` and the store. Everything is computed from the store alone, with no
clock or randomness in it, so the same store always gives the same bytes.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
from pathlib import Path
from typing import Any

from harlab.attacks.samples import list_samples
from harlab.errors import StoreError
from harlab.llm.records import current_requests
from harlab.rating.commitment import commitment_root
from harlab.rating.rubric_file import load_rubric
from harlab.rating.tables import rating_summary, summary_column, superseded_ratings
from harlab.scoring import tables as score_tables
from harlab.scoring.metrics import METRICS
from harlab.scoring.results import pair_scores, results_table, truncated_sides
from harlab.store import Project
from harlab.study.config import StudyConfig
from harlab.vocab import MODALITIES

BASE_COLUMNS = ("sample_id", "video", "true_label", "keyframes", "attack", "eps", "clean_pred",
                "clean_conf", "adv_pred", "adv_conf", "modality", "status", "status_reason",
                "original_response", "attacked_response", "syntactic_cosine", "semantic_cosine")
# Every registered metric has a column: the contract's two among BASE_COLUMNS, the rest after.
EXTRA_SCORES = tuple(m for m in METRICS if m not in BASE_COLUMNS)
# The semantic cosine's truncation, per side: whether the model cut the answer at its
# max_seq_length, and then the answer's length in word pieces (with the 2 special tokens).
TRUNCATION = ("semantic_truncated_original", "semantic_tokens_original",
              "semantic_truncated_attacked", "semantic_tokens_attacked")
PROVENANCE = ("model", "original_model_snapshot", "attacked_model_snapshot", "temperature",
              "original_seed", "attacked_seed", "original_finish_reason",
              "attacked_finish_reason", "original_response_id", "attacked_response_id")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_COLUMNS = {"original_response", "attacked_response", "status_reason", "video",
                "true_label", "clean_pred", "adv_pred"}


def safe_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading ``'`` (OWASP)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _status(orig: Any, att: Any) -> tuple[str, str]:
    rows = [r for r in (orig, att) if r is not None]
    if len(rows) < 2:
        return "skipped", "not queried yet: run the query stage"
    for status in ("failed", "skipped"):
        bad = [r for r in rows if r["status"] == status]
        if bad:
            return status, bad[0]["error"] or status
    return "ok", ""


def evaluation_rows(project: Project, semantic_model: str = "all-MiniLM-L6-v2"
                    ) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns and rows of ``evaluation.csv`` (exact texts; see :func:`write_csv`)."""
    scores = {(s.sample_id, s.modality): s for s in pair_scores(project,
                                                                semantic_model=semantic_model)}
    requests = current_requests(project)
    rubric = load_rubric(project.root)
    rating_columns = ["rating_n_annotators"] + [summary_column(k) for k in rubric.keys()
                                                if rubric.item_for(k).kind.aggregated]
    rating_columns += ["rating_adjudicated", "rating_status", "superseded_ratings"]
    ratings = rating_summary(project, rubric)
    old = superseded_ratings(project)
    columns = [*BASE_COLUMNS, *EXTRA_SCORES, *TRUNCATION, *PROVENANCE, *rating_columns]
    rows = []
    for s in list_samples(project, selected=True):
        for modality in MODALITIES:
            orig = requests.get((s.id, modality, "original"))
            att = requests.get((s.id, modality, "attacked"))
            status, reason = _status(orig, att)
            pair = scores.get((s.id, modality)) if status == "ok" else None
            row: dict[str, Any] = {
                "sample_id": s.id, "video": s.video, "true_label": s.true_label,
                "keyframes": " ".join(str(i) for i in s.keyframes),
                "attack": s.attack, "eps": s.eps, "clean_pred": s.clean_pred,
                "clean_conf": s.clean_conf, "adv_pred": s.adv_pred,
                "adv_conf": s.adv_conf, "modality": modality, "status": status,
                "status_reason": reason,
                "original_response": orig["response_text"] if status == "ok" else None,
                "attacked_response": att["response_text"] if status == "ok" else None}
            for metric in METRICS:
                row[metric] = pair.values.get(metric) if pair else None
            row.update(_truncation(pair))
            if orig is not None and att is not None:
                row.update(model=att["model"], original_model_snapshot=orig["response_model"],
                           attacked_model_snapshot=att["response_model"],
                           temperature=att["temperature"], original_seed=orig["seed"],
                           attacked_seed=att["seed"],
                           original_finish_reason=orig["finish_reason"],
                           attacked_finish_reason=att["finish_reason"],
                           original_response_id=orig["id"], attacked_response_id=att["id"])
            row.update(ratings.get((s.id, modality), {}))
            row.update(_rating_status(row, old.get((s.id, modality))))
            rows.append({c: row.get(c) for c in columns})
    return columns, rows


def _truncation(pair: Any) -> dict[str, Any]:
    """The :data:`TRUNCATION` cells of a pair with a semantic cosine (else empty)."""
    if pair is None or pair.values.get("semantic_cosine") is None:
        return {}
    cut = truncated_sides(pair.details.get("semantic_cosine", {}))
    out: dict[str, Any] = {}
    for side, name in (("a", "original"), ("b", "attacked")):
        out[f"semantic_truncated_{name}"] = side in cut
        out[f"semantic_tokens_{name}"] = cut.get(side)
    return out


def _rating_status(row: dict[str, Any], old: list[dict[str, Any]] | None) -> dict[str, Any]:
    """``rating_status``: current, adjudicated, superseded (ratings of answers a re-ask
    replaced, kept in ``superseded_ratings`` as JSON) or a ``+`` of them; empty when unrated."""
    parts = []
    if row.get("rating_adjudicated"):
        parts.append("adjudicated")
    elif row.get("rating_n_annotators"):
        parts.append("current")
    if old:
        parts.append("superseded")
    return {"rating_status": "+".join(parts),
            "superseded_ratings": json.dumps(old, ensure_ascii=False, sort_keys=True)
            if old else None}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def to_csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    # With "\n" line ends, csv quotes cells holding "\n" but not a lone "\r", which every
    # reader takes for a line end; a row with one is written fully quoted instead.
    quoted = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(columns)
    for row in rows:
        cells = [_cell(safe_cell(row[c]) if c in TEXT_COLUMNS or isinstance(row[c], str)
                       else row[c]) for c in columns]
        (quoted if any("\r" in cell for cell in cells) else writer).writerow(cells)
    return buf.getvalue()


def to_jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n" for r in rows)


def write_text(path: Path, text: str) -> None:
    """Write atomically (temp file, then rename): a full disk leaves the old file or none."""
    write_texts({path: text})


def write_texts(files: dict[Path, str]) -> None:
    """Write several files as one set: all new, or (on any error) all as they were.

    Every file is written in full to a ``.partial`` beside it before any is renamed into
    place, so a full disk never leaves a new evaluation.csv next to an old table3.csv.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for path, text in files.items():
            tmp = path.with_name(path.name + ".partial")
            staged.append((tmp, path))
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
        for tmp, path in staged:
            os.replace(tmp, path)
    except OSError as exc:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        where = str(staged[-1][1]) if staged else ""
        if exc.errno == errno.ENOSPC:
            raise StoreError(f"the disk is full: could not write {where!r}. Free some "
                             "space and run the same command again; finished stages are kept "
                             "and only the exports are written again.") from exc
        raise StoreError(f"cannot write {where!r}: {exc.strerror}. Choose a folder you "
                         "can write to.") from exc


def export_study(project: Project, out_dir: str | Path, config: StudyConfig | None = None
                 ) -> dict[str, Path]:
    """Write the four study files into ``out_dir``; returns their paths by name."""
    out = Path(out_dir).expanduser()
    config = config or study_config(project)
    semantic_model = config.similarity_model if config else "all-MiniLM-L6-v2"
    columns, rows = evaluation_rows(project, semantic_model)
    results = results_table(project, semantic_model=semantic_model)
    files = {"evaluation.csv": to_csv(columns, rows), "evaluation.jsonl": to_jsonl(rows),
             "table3.csv": score_tables.to_csv(results),
             "summary.md": summary_markdown(project, config, rows, results)}
    paths = {name: out / name for name in files}
    write_texts({paths[name]: text for name, text in files.items()})
    return paths


def save_study_config(project: Project, config: StudyConfig) -> None:
    """Make ``config`` the project's study (what the dashboard shows and runs)."""
    project.set_meta("study/config", json.dumps(config.to_dict(), sort_keys=True))


def study_config(project: Project) -> StudyConfig | None:
    """The project's study configuration, or None before one is chosen or run."""
    raw = project.get_meta("study/config")
    return StudyConfig.from_dict(json.loads(raw), "the project's study") if raw else None


def summary_markdown(project: Project, config: StudyConfig | None, rows: list[dict[str, Any]],
                     results: Any) -> str:
    """A human-readable account: settings, chosen defaults, counts, Table 3 beside the paper."""
    lines = [f"# {config.name if config else 'HARLab study'}", ""]
    if config is not None:
        lines += ["## Settings HARLab chose where the paper is silent", ""]
        lines += [f"- **{k}**: {v}" for k, v in config.chosen_settings().items()]
        uni, multi = config.llm("unimodal"), config.llm("multimodal")
        lines += ["", "## Study", "",
                  f"- dataset: `{config.dataset}` fold {config.fold}; classes "
                  f"{', '.join(config.classes)}, {config.per_class} per class",
                  f"- attack: {config.attack}, keyframes {config.keyframes} "
                  f"({config.keyframe_method})",
                  f"- unimodal: {uni.provider}:{uni.model_name}; multimodal: "
                  f"{multi.provider}:{multi.model_name}"]
    lines += ["", "## Rows", ""]
    by_status: dict[tuple[str, str], int] = {}
    for r in rows:
        by_status[(r["modality"], r["status"])] = by_status.get((r["modality"], r["status"]),
                                                                0) + 1
    lines += [f"- {m}: " + ", ".join(f"{n} {st}" for (mm, st), n in sorted(by_status.items())
                                     if mm == m) for m in MODALITIES]
    reasons = sorted({r["status_reason"] for r in rows if r["status"] != "ok"})
    lines += [f"  - reason: {reason}" for reason in reasons[:5]]
    root = commitment_root(project)
    if root.n_keys:
        lines += ["", "## Blind A/B commitment", "",
                  f"- SHA-256 root `{root.sha256}` over {root.n_keys} committed A/B keys "
                  "(revealed in the rating export's blind_key.json; check with "
                  "`harlab rate verify-key`)", f"- method: {root.method}"]
    lines += _method_lines(config, results)
    lines += ["", "## Table 3 (ours, with the paper's figures beside)", "",
              score_tables.to_markdown(results)]
    lines += _run_time_lines(project)
    return "\n".join(lines) + "\n"


def _run_time_lines(project: Project) -> list[str]:
    """summary.md's run times: each stage run of the latest study run that did any work, from
    the project's run records (wall clock: what this machine took, not a property of the
    study)."""
    studies = project.query("SELECT id, created_at, updated_at FROM runs WHERE kind = 'study' "
                            "AND status = 'done' ORDER BY id DESC")
    for study in studies:
        stages = project.query("SELECT kind, name, created_at, updated_at, config_json, "
                               "result_json FROM runs WHERE id > ? AND created_at <= ? AND "
                               "kind != 'study' ORDER BY id", (study["id"], study["updated_at"]))
        if stages:
            break
    else:
        return []
    total = study["updated_at"] - study["created_at"]
    lines = ["", "## Run times", "",
             f"- study run {study['id']}: {_seconds(total)} wall clock in all (from the project's "
             "run records; the rest of the total is indexing the data and setting up)"]
    for run in stages:
        took = run["updated_at"] - run["created_at"]
        result = json.loads(run["result_json"] or "{}")
        name, extra = run["name"], ""
        if run["kind"] == "query":
            arms = json.loads(run["config_json"] or "{}").get("modalities") or []
            name = f"{', '.join(arms)}, {name}" if arms else name
            asked, tokens = result.get("asked") or 0, result.get("completion_tokens") or 0
            extra = (f": {asked} answers, {tokens:,} completion tokens ({tokens / took:.0f} "
                     "tokens/s)" if asked and took > 0 else ": nothing asked")
        lines.append(f"- {run['kind']} ({name}): {_seconds(took)}{extra}")
    return lines


def _seconds(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else f"{seconds:.0f} s ({seconds / 60:.1f} min)"


def _method_lines(config: StudyConfig | None, results: Any) -> list[str]:
    """summary.md's account of the semantic truncation and the noise floor."""
    cut = results.truncation.values()
    pairs, truncated = sum(t.pairs for t in cut), sum(t.truncated for t in cut)
    limits = {t.max_seq_length for t in cut} - {None}
    limit = f"{max(limits)} word pieces" if limits else "its word-piece limit"
    lines = ["", "## Semantic cosine: truncation", ""]
    if pairs:
        lines.append(f"- {truncated} of {pairs} semantic cosines ({truncated / pairs:.0%}) were "
                     f"computed on truncated answers: {results.semantic_model} reads at most "
                     f"{limit} and drops the rest. `semantic_cosine` keeps that value (as "
                     "sentence-transformers computes it, comparable with the paper); "
                     "`semantic_cosine_full` embeds whole answers in overlapping windows. "
                     "evaluation.csv flags each truncated side (semantic_truncated_*, "
                     "semantic_tokens_*).")
    else:
        lines.append("- no semantic cosine yet")
    drift = [d for d in results.drift if d.metric == "semantic_cosine"]
    filled = [d for d in drift if d.n]
    lines += ["", "## Noise floor", ""]
    if config is not None:
        lines.append(f"- asked: {config.chosen_settings()['noise floor']}")
    lines += [f"- drift vs noise floor, {d.modality}: {d.n} samples, {d.noise_draws} draws "
              f"(median); share of z < -2 {d.share_below_minus2:.3f}, expected "
              f"{d.expected_share_null:.3f} with no effect" for d in filled]
    if not filled:
        lines.append("- the drift-vs-noise-floor table is empty: no sample has 2 or more "
                     "noise draws")
    return lines
