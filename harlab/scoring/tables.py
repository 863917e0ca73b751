"""Table 3 as text: CSV (the ``table3.csv`` contract), Markdown, LaTeX and a terminal table.

Every format carries the paper's figures beside ours, the paired unimodal-vs-multimodal tests
and the drift against the noise floor. Empty cells are figures that are undefined; the
``note`` column says why.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from harlab.errors import InputError
from harlab.scoring.results import Results
from harlab.scoring.stats import PAPER_TABLE3, Z_REFERENCE

PAIRED_METHOD = ("0/1 metrics: McNemar's exact binomial test on the discordant pairs; others: "
                 "Wilcoxon signed-rank, exact p without ties or zeros, else a sign-flip "
                 "permutation p (p_method per row)")

TABLE3_COLUMNS = ("modality", "metric", "n", "n_distinct_prompts", "mean", "var", "std",
                  "median", "ci_low", "ci_high", "ddof", "ci_method", "paper_mean",
                  "paper_var", "paper_std", "note")
PAIRED_COLUMNS = ("metric", "n", "mean_unimodal", "mean_multimodal", "mean_diff", "ci_low",
                  "ci_high", "ci_method", "test", "statistic", "p_value", "p_method", "p_holm",
                  "rank_biserial", "note")
DRIFT_COLUMNS = ("modality", "metric", "n", "noise_draws", "mean_z", "median_z",
                 "share_below_minus2", "expected_share_null", "z_reference", "note")
FORMATS = ("table", "csv", "md", "latex")
# Long text columns left out of fixed-width and LaTeX tables (their titles say the same).
_LONG = ("note", "z_reference")


def table3_records(results: Results) -> list[dict[str, Any]]:
    """One dict per modality and metric with :data:`TABLE3_COLUMNS`."""
    out = []
    for r in results.rows:
        paper = PAPER_TABLE3.get((r.modality, r.metric), {})
        out.append({
            "modality": r.modality, "metric": r.metric, "n": r.n,
            "n_distinct_prompts": results.distinct_prompts.get(r.modality, 0),
            "mean": r.mean, "var": r.var, "std": r.std, "median": r.median,
            "ci_low": r.ci_low, "ci_high": r.ci_high, "ddof": r.ddof,
            "ci_method": r.ci_method, "paper_mean": paper.get("mean"),
            "paper_var": paper.get("var"), "paper_std": paper.get("std"), "note": r.note})
    return out


def paired_records(results: Results) -> list[dict[str, Any]]:
    return [{"metric": t.metric, "n": t.n, "mean_unimodal": t.mean_a,
             "mean_multimodal": t.mean_b, "mean_diff": t.mean_diff, "ci_low": t.ci_low,
             "ci_high": t.ci_high, "ci_method": t.ci_method, "test": t.test,
             "statistic": t.statistic, "p_value": t.p_value, "p_method": t.p_method,
             "p_holm": t.p_holm, "rank_biserial": t.rank_biserial, "note": t.note}
            for t in results.paired]


def drift_records(results: Results) -> list[dict[str, Any]]:
    return [{c: getattr(d, c) for c in DRIFT_COLUMNS} for d in results.drift]


def _cell(value: Any, digits: int = 4) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}"
    return str(value)


def to_csv(results: Results) -> str:
    """Table 3 only (one row per modality and metric), full precision."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=TABLE3_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for rec in table3_records(results):
        writer.writerow({k: "" if v is None else v for k, v in rec.items()})
    return buf.getvalue()


def _sections(results: Results) -> list[tuple[str, tuple[str, ...], list[dict[str, Any]]]]:
    return [
        (f"Table 3 (semantic model {results.semantic_model}; var with ddof="
         f"{results.config.ddof}, std = sqrt(var); {results.config.confidence:.0%} bootstrap CI "
         f"of the mean, {results.config.n_resamples} resamples)",
         TABLE3_COLUMNS, table3_records(results)),
        (f"Unimodal vs multimodal on the same samples ({PAIRED_METHOD}; Holm across "
         f"metrics; difference = unimodal - multimodal, {results.config.confidence:.0%} paired "
         f"bootstrap CI of the mean difference, {results.config.n_resamples} resamples)",
         PAIRED_COLUMNS, paired_records(results)),
        (f"Drift vs the noise floor: z = (attacked sim - mean noise sim) / std noise sim "
         f"(ddof=1); {Z_REFERENCE}, so compare share_below_minus2 with expected_share_null",
         DRIFT_COLUMNS, drift_records(results)),
    ]


def method_lines(results: Results) -> list[str]:
    """One line per method note: the semantic truncation, and how the tests were made."""
    lines = [f"semantic_cosine, {m}: {t.describe()}" for m, t in results.truncation.items()
             if t.truncated]
    lines.append(f"p-values: {PAIRED_METHOD}; Holm across metrics")
    lines.append(f"CIs: {results.config.confidence:.0%} {results.config.ci_method} bootstrap, "
                 f"{results.config.n_resamples} resamples, seed {results.config.seed} "
                 "(percentile where the row's ci_method says so)")
    return lines


def to_markdown(results: Results) -> str:
    parts = []
    for title, cols, recs in _sections(results):
        parts.append(f"**{title}**\n")
        parts.append("| " + " | ".join(cols) + " |")
        parts.append("|" + "|".join("---" for _ in cols) + "|")
        for rec in recs:
            parts.append("| " + " | ".join(_cell(rec[c]).replace("|", "\\|") for c in cols)
                         + " |")
        parts.append("")
    parts += [f"- {line}" for line in method_lines(results)] + [""]
    return "\n".join(parts)


def _tex(text: str) -> str:
    text = text.replace("\\", r"\textbackslash{}")
    for char in "_%&#$":
        text = text.replace(char, "\\" + char)
    return text


def to_latex(results: Results) -> str:
    """Booktabs tables (``\\usepackage{booktabs}``); notes are left to the CSV."""
    parts = []
    for title, cols, recs in _sections(results):
        cols = tuple(c for c in cols if c not in _LONG)
        parts.append(f"% {title}")
        parts.append("\\begin{tabular}{" + "l" * 2 + "r" * (len(cols) - 2) + "}")
        parts.append("\\toprule")
        parts.append(" & ".join(_tex(c) for c in cols) + " \\\\")
        parts.append("\\midrule")
        for rec in recs:
            parts.append(" & ".join(_tex(_cell(rec[c])) for c in cols) + " \\\\")
        parts.append("\\bottomrule")
        parts.append("\\end{tabular}")
        parts.append("")
    return "\n".join(parts)


def to_text(results: Results) -> str:
    """Fixed-width tables for a terminal."""
    parts = []
    for title, cols, recs in _sections(results):
        cols = tuple(c for c in cols if c not in _LONG)
        cells = [[_cell(rec[c]) for c in cols] for rec in recs]
        widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
        parts.append(title)
        parts.append("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
        for row, rec in zip(cells, recs, strict=True):
            line = "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True))
            parts.append(line + (f"  ({rec['note']})" if rec.get("note") else ""))
        parts.append("")
    for modality, classes in sorted(results.by_class.items()):
        per = ", ".join(f"{label} {n} pairs / {d} distinct"
                        for label, (n, d) in sorted(classes.items()))
        parts.append(f"effective n, {modality}: {per}")
    parts += method_lines(results)
    return "\n".join(parts)


_FORMATTERS: dict[str, Callable[[Results], str]] = {
    "table": to_text, "csv": to_csv, "md": to_markdown, "latex": to_latex}


def format_results(results: Results, fmt: str) -> str:
    """``results`` as ``table``, ``csv``, ``md`` or ``latex``."""
    try:
        return _FORMATTERS[fmt](results)
    except KeyError:
        raise InputError(f"unknown format {fmt!r}; valid formats: {', '.join(FORMATS)}"
                         ) from None
