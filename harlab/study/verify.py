"""The chains of record a bundle is checked along, each link against the next.

- ``manifest.json``: must be JSON with the layout :func:`read_manifest` checks.
- frames: the frames the store's samples name, the frames the manifest lists and the files in
  the bundle must be the same set, and each file must have the manifest's SHA-256.
- requests: each image a stored request sent is recorded as ``png:PATH#sha256=DIGEST``; the
  frame at ``PATH`` must still have that digest (a frame changed after it was sent, even with
  the manifest updated to match, is caught here).
- answers: each ``ok`` answer's text must be the content of its stored raw response body.
- config, rubric and exports: each must match the hash or value the manifest recorded.
- blind A/B keys: each stored key must match the SHA-256 commitment made when rating opened
  (:mod:`harlab.rating.commitment`).

The scores are then recomputed from the answer texts and the exports from the store (in
:func:`harlab.study.bundle.verify_bundle`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harlab.attacks.samples import sample_rows, stored_frame_names
from harlab.errors import InputError
from harlab.paths import file_sha256
from harlab.rating.commitment import check_store as check_blind_key
from harlab.store import Project
from harlab.study.export import study_config
from harlab.study.safe_zip import unsafe_reason

MANIFEST = "manifest.json"
RUBRIC = "rubric.yaml"
FRAME_REF = re.compile(r"^png:(?P<rel>.+)#sha256=(?P<digest>[0-9a-f]{64})$")
SHOWN = 10  # ids named per difference; the rest are counted


@dataclass
class VerifyReport:
    """What :func:`~harlab.study.bundle.verify_bundle` checked and what differed."""

    lines: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def differ(self, text: str) -> None:
        self.differences.append(text)
        self.lines.append("DIFFERENT: " + text)


def read_manifest(path: Path, bundle: str) -> dict[str, Any]:
    """The bundle's manifest, checked for the fields verify reads; raises InputError."""
    where = f"{MANIFEST} in {bundle!r}"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{where} is not UTF-8 text ({exc}); the bundle is damaged or was "
                         "edited. Export it again with harlab export-bundle.") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{where} is not valid JSON ({exc.msg} at line {exc.lineno}, column "
                         f"{exc.colno}); the bundle is damaged or was edited. Export it again "
                         "with harlab export-bundle.") from exc
    if not isinstance(manifest, dict):
        raise InputError(f"{where} must be a JSON object, got {type(manifest).__name__}; "
                         "export the bundle again with harlab export-bundle.")
    for key in ("frames", "exports"):
        value = manifest.get(key)
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise InputError(f"{where}: {key!r} must map file names to SHA-256 digests, got "
                             f"{value!r:.80}; export the bundle again with harlab "
                             "export-bundle.")
    return manifest


def stored_frames(project: Project) -> dict[str, int]:
    """Every frame the study's (selected) samples name, with the first sample naming it."""
    out: dict[str, int] = {}
    for s in stored_frame_names(project, selected=True):
        for rel in s.clean + s.adv:
            out.setdefault(rel, s.id)
    return out


class FrameFiles:
    """The bundle's frame files, each hashed once."""

    def __init__(self, root: Path):
        self.root = root
        self._digests: dict[str, str | None] = {}

    def digest(self, rel: str) -> str | None:
        """The file's SHA-256, or None when it is absent or its path is unsafe."""
        if rel not in self._digests:
            path = self.root / rel
            safe = unsafe_reason(rel) is None and path.is_file()
            self._digests[rel] = file_sha256(path) if safe else None
        return self._digests[rel]


def check_frames(manifest: dict[str, Any], project: Project, files: FrameFiles,
                 report: VerifyReport) -> None:
    """Store, manifest and files name the same frames, with the manifest's hashes."""
    stored, listed = stored_frames(project), manifest["frames"]
    for rel in sorted(set(stored) | set(listed)):
        reason = unsafe_reason(rel)
        if reason is not None:
            report.differ(f"frame path {rel!r} is {reason}; it is not checked")
        elif rel not in listed:
            state = "is still in the bundle" if files.digest(rel) else "is missing from the bundle"
            report.differ(f"frame {rel} of sample {stored[rel]} in the store is not listed in "
                          f"{MANIFEST}, and its file {state}")
        elif rel not in stored:
            report.differ(f"frame {rel} is listed in {MANIFEST} but no sample of the store "
                          "names it")
        elif files.digest(rel) is None:
            report.differ(f"frame {rel} of sample {stored[rel]} is missing from the bundle")
        elif files.digest(rel) != listed[rel]:
            report.differ(f"frame {rel} has SHA-256 {files.digest(rel)}, not the "
                          f"{listed[rel]} that {MANIFEST} records")
    report.lines.append(f"frames: {len(stored)} named by the store, {len(listed)} in the "
                        "manifest, checked")


def _frame_refs(body: Any) -> list[str]:
    if isinstance(body, dict):
        if body.get("type") == "image_url" and isinstance(body.get("image_url"), dict):
            return [str(body["image_url"].get("url", ""))]
        return [u for v in body.values() for u in _frame_refs(v)]
    if isinstance(body, list):
        return [u for v in body for u in _frame_refs(v)]
    return []


def check_requests(project: Project, files: FrameFiles, report: VerifyReport) -> None:
    """Each frame a stored request sent still has the hash the request recorded."""
    selected = {s.id for s in sample_rows(project, selected=True)}
    checked = unchecked = 0
    for r in project.query("SELECT id, sample_id, request_json FROM llm_requests ORDER BY id"):
        try:
            refs = _frame_refs(json.loads(r["request_json"] or "null"))
        except json.JSONDecodeError:
            report.differ(f"the stored request body of request {r['id']} is not JSON")
            continue
        for ref in refs:
            match = FRAME_REF.match(ref)
            if match is None:
                continue  # an image sent by digest only (no frame file to compare)
            rel, sent = match["rel"], match["digest"]
            now = files.digest(rel)
            if now is None and r["sample_id"] not in selected:
                unchecked += 1  # a sample outside the study: its frames are not packed
            elif now != sent:
                checked += 1
                report.differ(f"frame {rel} is not the frame request {r['id']} sent: the "
                              f"request recorded SHA-256 {sent}, the bundle's file "
                              + (f"has {now}" if now else "is missing"))
            else:
                checked += 1
    report.lines.append(f"request frames: {checked} checked against the hashes the requests "
                        f"recorded" + (f", {unchecked} of samples outside the study not packed"
                                       if unchecked else ""))


def _content(raw: str) -> str:
    """The answer text a raw chat-completion body holds (as the client reads it)."""
    content = json.loads(raw)["choices"][0]["message"].get("content")
    if content is not None and not isinstance(content, str):
        raise TypeError("content is not a string")
    return content or ""


def check_answers(project: Project, report: VerifyReport) -> None:
    """Each stored ``ok`` answer's text is the content of its raw response body."""
    rows = project.query("SELECT id, response_json, response_text FROM llm_requests "
                         "WHERE status = 'ok' ORDER BY id")
    bad: dict[str, list[int]] = {}
    for r in rows:
        if r["response_json"] is None:
            bad.setdefault("has no raw response body (response_json)", []).append(r["id"])
            continue
        try:
            text = _content(r["response_json"])
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            bad.setdefault("has a raw response body (response_json) that is not a chat "
                           "completion", []).append(r["id"])
            continue
        if text != (r["response_text"] or ""):
            bad.setdefault("has a response_text that differs from the content of its "
                           "raw response body (response_json)", []).append(r["id"])
    for what, ids in bad.items():
        more = f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else ""
        report.differ(f"each ok answer of llm_requests {ids[:SHOWN]}{more} {what}")
    report.lines.append(f"answers: {len(rows)} texts checked against their raw response bodies")


def check_recorded(manifest: dict[str, Any], project: Project, root: Path,
                   report: VerifyReport) -> None:
    """The study config and the rubric are the ones the manifest recorded."""
    config = study_config(project)
    if manifest.get("config") != (config.to_dict() if config else None):
        report.differ(f"the study config in the store differs from the one in {MANIFEST}")
    rubric = root / RUBRIC
    digest = file_sha256(rubric) if rubric.is_file() else None
    entry = manifest.get("rubric")
    recorded = entry.get("sha256") if isinstance(entry, dict) else None
    if digest != recorded:
        report.differ(f"{RUBRIC}: " + ("absent from the bundle" if digest is None else
                                       f"SHA-256 {digest}")
                      + f", but {MANIFEST} records " + (recorded or "no rubric"))
    report.lines.append(f"config and rubric ({'the project' if digest else 'the bundled'}"
                        f" rubric): checked")


def check_exports(manifest: dict[str, Any], root: Path, again: dict[str, Path],
                  report: VerifyReport) -> None:
    """Each exported file is in the bundle, has the manifest's hash and is recomputed exactly."""
    for name, path in again.items():
        packed = root / name
        if not packed.is_file():
            report.differ(f"{name} is missing from the bundle")
            continue
        same = packed.read_bytes() == path.read_bytes()
        report.lines.append(f"{name}: {'identical' if same else 'DIFFERENT'}")
        if not same:
            report.differences.append(f"{name} differs when recomputed from the store")
        if manifest["exports"].get(name) != file_sha256(packed):
            report.differ(f"{name} does not have the SHA-256 that {MANIFEST} records")


__all__ = ["FrameFiles", "VerifyReport", "check_answers", "check_exports", "check_frames",
           "check_recorded", "check_requests", "read_manifest", "stored_frames"]


def check_commitment(project: Project, report: VerifyReport) -> None:
    """Each stored blind A/B key must match the commitment made when rating opened."""
    problems = check_blind_key(project)
    n = project.query_one("SELECT count(*) FROM blind_orders WHERE commitment IS NOT NULL")[0]
    for problem in problems[:SHOWN]:
        report.differ(problem)
    if len(problems) > SHOWN:
        report.differ(f"{len(problems) - SHOWN} more blind keys do not match their commitments")
    if not problems:
        report.lines.append(f"blind A/B keys: {n} match their commitments")
