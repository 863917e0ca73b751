"""A study's reproducibility bundle, and checking one.

:func:`export_bundle` writes one zip: ``manifest.json`` (study config, package versions, the
machine, the checkpoint's SHA-256, a hash of the split files, a SHA-256 per frame), the
project's store as a consistent copy (``project.sqlite``: samples with their keyframe indices,
raw request and response JSON, scores, ratings), the lossless frame PNGs, and the exported
``evaluation.csv``, ``evaluation.jsonl``, ``table3.csv`` and ``summary.md``.

:func:`verify_bundle` recomputes, offline, every exported number from that record: each
frame's hash, each stored syntactic and semantic cosine from the stored answer texts, and the
four exported files from the store (which must match byte for byte).
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import sqlite3
import tempfile
import zipfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from harlab import __version__
from harlab.errors import InputError
from harlab.paths import file_sha256
from harlab.scoring import similarity
from harlab.store import Project
from harlab.study.export import export_study, study_config

PACKAGES = ("harlab", "torch", "torchvision", "numpy", "scikit-learn", "scipy",
            "sentence-transformers", "openai", "opencv-python-headless", "statsmodels",
            "krippendorff")
EXPORTS = ("evaluation.csv", "evaluation.jsonl", "table3.csv", "summary.md")
TOLERANCE = {"syntactic_cosine": 1e-9, "semantic_cosine": 1e-4}


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
    rels: list[str] = []
    for s in project.query("SELECT clean_frames_json, adv_frames_json FROM samples "
                           "WHERE selected = 1 ORDER BY id"):
        rels += json.loads(s["clean_frames_json"]) + json.loads(s["adv_frames_json"])
    return rels


def export_bundle(project: Project, out: str | Path) -> Path:
    """Write the bundle zip (see the module docstring); returns its path."""
    out = Path(out).expanduser()
    if out.suffix != ".zip":
        raise InputError(f"the bundle must be a .zip file, got {str(out)!r}; e.g. "
                         "--out study-bundle.zip")
    config = study_config(project)
    stored = project.get_meta("study/checkpoint")
    checkpoint = str(project.resolve(stored)) if stored else ""
    frames = _frames(project)
    with tempfile.TemporaryDirectory() as tmp:
        exports = export_study(project, Path(tmp) / "exports", config)
        db_copy = Path(tmp) / "project.sqlite"
        with sqlite3.connect(db_copy) as dst:
            project.conn().backup(dst)
        dst.close()
        manifest = {
            "harlab": __version__, "config": config.to_dict() if config else None,
            "packages": _versions(),
            "machine": {"python": platform.python_version(), "platform": platform.platform(),
                        "processor": platform.machine()},
            "checkpoint": {"path": checkpoint, "sha256": file_sha256(Path(checkpoint))
                           if checkpoint and Path(checkpoint).is_file() else None},
            "split_files_sha256": _split_hash(project.get_meta("dataset_root")),
            "frames": {rel: file_sha256(project.abspath(rel)) for rel in frames
                       if project.abspath(rel).is_file()},
            "exports": {name: file_sha256(path) for name, path in exports.items()},
        }
        tmp_zip = out.with_name(out.name + ".partial")
        try:
            with zipfile.ZipFile(tmp_zip, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True))
                zf.write(db_copy, "project.sqlite")
                for rel in manifest["frames"]:
                    zf.write(project.abspath(rel), rel)
                for name, path in exports.items():
                    zf.write(path, name)
            tmp_zip.replace(out)
        finally:
            tmp_zip.unlink(missing_ok=True)
    return out


@dataclass
class VerifyReport:
    """What :func:`verify_bundle` checked and what differed."""

    lines: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def differ(self, text: str) -> None:
        self.differences.append(text)
        self.lines.append("DIFFERENT: " + text)


def _check_scores(project: Project, report: VerifyReport) -> None:
    rows = project.query(
        "SELECT s.id, s.metric, s.scorer, s.value, a.response_text AS a, b.response_text AS b "
        "FROM scores s JOIN llm_requests a ON a.id = s.response_a_id "
        "JOIN llm_requests b ON b.id = s.response_b_id "
        "WHERE s.metric IN ('syntactic_cosine', 'semantic_cosine') ORDER BY s.id")
    models = similarity.EmbeddingModels()
    for metric in ("syntactic_cosine", "semantic_cosine"):
        mine = [r for r in rows if r["metric"] == metric]
        by_scorer: dict[str, list[Any]] = {}
        for r in mine:
            by_scorer.setdefault(r["scorer"], []).append(r)
        for scorer, group in by_scorer.items():
            pairs = [(r["a"] or "", r["b"] or "") for r in group]
            if metric == "syntactic_cosine":
                again = similarity.syntactic_similarities(pairs)
            else:
                again = similarity.semantic_similarities(pairs, scorer, models=models,
                                                         device="cpu")
            bad = [r["id"] for r, v in zip(group, again, strict=True)
                   if (r["value"] is None) != (v is None) or (
                       v is not None and not math.isclose(r["value"], v, rel_tol=0,
                                                          abs_tol=TOLERANCE[metric]))]
            report.lines.append(f"{metric} ({scorer}): {len(group)} recomputed, "
                                f"{len(bad)} different")
            if bad:
                report.differ(f"{metric} of score rows {bad[:10]} differ from the texts")


def verify_bundle(bundle: str | Path) -> VerifyReport:
    """Recompute every exported number of ``bundle`` from its record; see the module doc."""
    bundle = Path(bundle).expanduser()
    if not zipfile.is_zipfile(bundle):
        raise InputError(f"{str(bundle)!r} is not a bundle zip; give a file written by "
                         "harlab export-bundle")
    report = VerifyReport()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with zipfile.ZipFile(bundle) as zf:
            zf.extractall(root)
        if not (root / "manifest.json").is_file() or not (root / "project.sqlite").is_file():
            raise InputError(f"{str(bundle)!r} lacks manifest.json or project.sqlite; it is "
                             "not a HARLab bundle")
        manifest = json.loads((root / "manifest.json").read_text())
        for rel, digest in manifest["frames"].items():
            if not (root / rel).is_file() or file_sha256(root / rel) != digest:
                report.differ(f"frame {rel} is missing or changed")
        report.lines.append(f"frames: {len(manifest['frames'])} checked")
        with Project.open(root) as project:
            _check_scores(project, report)
            again = export_study(project, root / "recomputed", study_config(project))
        for name in EXPORTS:
            same = (root / name).read_bytes() == again[name].read_bytes()
            report.lines.append(f"{name}: {'identical' if same else 'DIFFERENT'}")
            if not same:
                report.differences.append(f"{name} differs when recomputed from the store")
    return report


__all__ = ["VerifyReport", "export_bundle", "verify_bundle"]
