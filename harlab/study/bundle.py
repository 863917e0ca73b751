"""A study's reproducibility bundle, and checking one.

:func:`export_bundle` writes one zip: ``manifest.json`` (study config, package versions, the
machine, the checkpoint's SHA-256, a hash of the split files, a SHA-256 per frame, of the
rubric and of each export), the project's store as a consistent copy (``project.sqlite``:
samples with their keyframe indices, raw request and response JSON, scores, ratings), the
project's own ``rubric.yaml`` when it has one, the lossless frame PNGs, and ``evaluation.csv``,
``evaluation.jsonl``, ``table3.csv`` and ``summary.md``. The packed copy has the user's paths
replaced by placeholders (:mod:`~harlab.study.redact`) and the exports are computed from that
copy, so a verifier recomputes the very same bytes; the live project is never changed.

:func:`verify_bundle` unpacks a bundle defensively (:mod:`~harlab.study.safe_zip`), checks
every chain of record (:mod:`~harlab.study.verify`: store -> frames -> files, request -> frame
hashes, raw response -> text) and recomputes, offline, every exported number: each stored
syntactic and semantic cosine from the stored answer texts, and the four exported files from
the store (which must match byte for byte).
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import sqlite3
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

from harlab import __version__
from harlab.errors import HarlabError, InputError
from harlab.paths import file_sha256
from harlab.scoring import metrics, similarity
from harlab.store import DB_NAME, Project
from harlab.study import redact, safe_zip, verify
from harlab.study.export import export_study, study_config
from harlab.study.verify import MANIFEST, RUBRIC, VerifyReport

PACKAGES = ("harlab", "torch", "torchvision", "numpy", "scikit-learn", "scipy",
            "sentence-transformers", "openai", "opencv-python-headless", "statsmodels",
            "krippendorff")


def _versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def _split_hash(dataset_root: str | None) -> str | None:
    folder = Path(dataset_root or "") / "ucfTrainTestlist"
    if not dataset_root or not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.txt")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _frames(project: Project) -> list[str]:
    """The study's frames, each a safe path inside the project that exists; else InputError."""
    rels = list(verify.stored_frames(project))
    for rel in rels:
        reason = safe_zip.unsafe_reason(rel)
        if reason is not None:
            raise InputError(f"frame path {rel!r} in project {str(project.root)!r} is "
                             f"{reason}; frames must lie inside the project folder. Re-run the "
                             "attack stage to store them there.")
    missing = [rel for rel in rels if not project.abspath(rel).is_file()]
    if missing:
        raise InputError(f"{len(missing)} frame(s) of the study are missing from project "
                         f"{str(project.root)!r}, e.g. {missing[0]!r}; a bundle without them "
                         "could not be verified. Restore them, or re-run the attack stage.")
    return rels


def _stage(project: Project, stage: Path) -> redact.Redactor:
    """The packed copy of the store (and rubric) in ``stage``, with the user's paths redacted."""
    config = study_config(project)
    redactor = redact.for_project(project.root, project.get_meta("dataset_root"),
                                  config.dataset if config else None)
    stage.mkdir()
    with sqlite3.connect(stage / DB_NAME) as dst:
        project.conn().backup(dst)
    dst.close()
    redactor.db(stage / DB_NAME)
    own_rubric = project.root / RUBRIC
    if own_rubric.is_file():
        (stage / RUBRIC).write_text(redactor(own_rubric.read_text(encoding="utf-8")),
                                    encoding="utf-8", newline="")
    return redactor


def _as_single_file(db: Path) -> None:
    """Leave ``db`` as one self-contained file (WAL folded in), as a zip member must be."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")
    finally:
        conn.close()


def export_bundle(project: Project, out: str | Path) -> Path:
    """Write the bundle zip (see the module docstring); returns its path."""
    out = Path(out).expanduser()
    if out.suffix != ".zip":
        raise InputError(f"the bundle must be a .zip file, got {str(out)!r}; e.g. "
                         "--out study-bundle.zip")
    stored = project.get_meta("study/checkpoint")
    checkpoint = project.resolve(stored) if stored else None
    frames = _frames(project)
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / "stage"
        redactor = _stage(project, stage)
        with Project.open(stage) as packed:
            config = study_config(packed)
            exports = export_study(packed, Path(tmp) / "exports", config)
        _as_single_file(stage / DB_NAME)
        rubric = stage / RUBRIC
        manifest = {
            "harlab": __version__, "config": config.to_dict() if config else None,
            "packages": _versions(),
            "machine": {"python": platform.python_version(), "platform": platform.platform(),
                        "processor": platform.machine()},
            "checkpoint": {"path": stored or "", "sha256": file_sha256(checkpoint)
                           if checkpoint and checkpoint.is_file() else None},
            "split_files_sha256": _split_hash(project.get_meta("dataset_root")),
            "rubric": {"path": RUBRIC, "sha256": file_sha256(rubric)}
            if rubric.is_file() else None,
            "frames": {rel: file_sha256(project.abspath(rel)) for rel in frames},
            "exports": {name: file_sha256(path) for name, path in exports.items()},
        }
        tmp_zip = out.with_name(out.name + ".partial")
        try:
            with zipfile.ZipFile(tmp_zip, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(MANIFEST, redactor(json.dumps(manifest, indent=2, sort_keys=True)))
                zf.write(stage / DB_NAME, DB_NAME)
                if rubric.is_file():
                    zf.write(rubric, RUBRIC)
                for rel in manifest["frames"]:
                    zf.write(project.abspath(rel), rel)
                for name, path in exports.items():
                    zf.write(path, name)
            tmp_zip.replace(out)
        finally:
            tmp_zip.unlink(missing_ok=True)
    return out


def _check_scores(project: Project, report: VerifyReport) -> None:
    """Recompute every stored similarity score (every registered metric of that kind) from
    the two answer texts it names, with that metric's own batch function."""
    names = metrics.of_kind(metrics.SIMILARITY)
    marks = ", ".join("?" * len(names))
    rows = project.query(
        "SELECT s.id, s.metric, s.scorer, s.value, a.response_text AS a, b.response_text AS b "
        "FROM scores s JOIN llm_requests a ON a.id = s.response_a_id "
        f"JOIN llm_requests b ON b.id = s.response_b_id WHERE s.metric IN ({marks}) "
        "ORDER BY s.id", names)
    models = similarity.EmbeddingModels()
    for name in names:
        spec = metrics.metric(name)
        by_scorer: dict[str, list[Any]] = {}
        for r in rows:
            if r["metric"] == name:
                by_scorer.setdefault(r["scorer"], []).append(r)
        for scorer, group in by_scorer.items():
            context = metrics.MetricContext(scorer, "cpu", 32, None, models)
            pairs = [metrics.PairToScore(0, "", "", r["id"], r["id"], r["a"] or "", r["b"] or "",
                                         "", "", None) for r in group]
            again = [s.value for s in spec.compute(pairs, context)]
            bad = [r["id"] for r, v in zip(group, again, strict=True)
                   if (r["value"] is None) != (v is None) or (
                       v is not None and not math.isclose(r["value"], v, rel_tol=0,
                                                          abs_tol=spec.verify_tol))]
            report.lines.append(f"{name} ({scorer}): {len(group)} recomputed, "
                                f"{len(bad)} different")
            if bad:
                report.differ(f"{name} of score rows {bad[:10]} differ from the texts")


def verify_bundle(bundle: str | Path, limits: safe_zip.ZipLimits | None = None
                  ) -> VerifyReport:
    """Recompute every exported number of ``bundle`` from its record; see the module doc.

    Args:
        bundle: a zip written by :func:`export_bundle`.
        limits: what the zip may unpack to (default :class:`~harlab.study.safe_zip.ZipLimits`).

    Raises:
        InputError: not a zip, an unsafe entry, over ``limits``, no manifest or store, or a
            manifest or store that cannot be read; the message names the file.
    """
    bundle = Path(bundle).expanduser()
    if not bundle.is_file() or not zipfile.is_zipfile(bundle):
        raise InputError(f"{str(bundle)!r} is not a bundle zip; give a file written by "
                         "harlab export-bundle")
    report = VerifyReport()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "bundle"
        root.mkdir()
        names = set(safe_zip.extract(bundle, root, limits))
        if MANIFEST not in names or DB_NAME not in names:
            raise InputError(f"{str(bundle)!r} lacks {MANIFEST} or {DB_NAME}; it is not a "
                             "HARLab bundle")
        manifest = verify.read_manifest(root / MANIFEST, str(bundle))
        try:
            project = Project.open(root)
        except HarlabError as exc:
            raise InputError(f"{DB_NAME} in {str(bundle)!r} is not a readable HARLab store "
                             f"({exc}); export the bundle again.") from exc
        with project:
            try:
                again = _check_store(project, manifest, root, Path(tmp) / "recomputed",
                                     report)
            except HarlabError:
                raise
            except (ValueError, KeyError, TypeError, sqlite3.Error) as exc:
                raise InputError(f"{DB_NAME} in {str(bundle)!r} holds malformed records "
                                 f"({type(exc).__name__}: {exc}); it was not written by "
                                 "harlab export-bundle, or was edited.") from exc
        verify.check_exports(manifest, root, again, report)
    return report


def _check_store(project: Project, manifest: dict[str, Any], root: Path, out: Path,
                 report: VerifyReport) -> dict[str, Path]:
    """Every chain of the store, then the exports recomputed into ``out``."""
    files = verify.FrameFiles(root)
    verify.check_recorded(manifest, project, root, report)
    verify.check_frames(manifest, project, files, report)
    verify.check_requests(project, files, report)
    verify.check_answers(project, report)
    verify.check_commitment(project, report)
    _check_scores(project, report)
    return export_study(project, out, study_config(project))


__all__ = ["VerifyReport", "export_bundle", "verify_bundle"]
