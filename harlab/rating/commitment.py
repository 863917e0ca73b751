"""Commit-reveal for the blind A/B key: which answer each annotator saw as A, sealed by hash.

When an annotator starts rating, the order of every item is drawn and each is committed:

    commitment = SHA-256( salt + "\\n" + canonical )
    canonical  = JSON of {"a_is", "annotator", "modality", "sample_id"} with sorted keys and
                 no spaces (``json.dumps(..., sort_keys=True, separators=(",", ":"))``)

``salt`` is 32 random bytes (hex) kept in the project's meta (key ``rating/commit_salt``) and
never shown while rating, so a commitment cannot be inverted by trying both sides. The
*root* (SHA-256 over the sorted item commitments, one hex digest a line) is what the study's
``summary.md`` and the rating export publish. At export the key and salt are revealed
(:func:`reveal`); :func:`verify_reveal` recomputes every commitment and the root from a
reveal, and :func:`check_store` checks the stored orders against their commitments.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from harlab.errors import InputError
from harlab.store import Project

SALT_KEY = "rating/commit_salt"
METHOD = ("SHA-256 over salt + newline + canonical JSON {a_is, annotator, modality, sample_id} "
          "(sorted keys, no spaces); root = SHA-256 over the sorted item commitments, one a line")


def salt(project: Project) -> str:
    """The project's secret salt, made on first use."""
    value = project.get_meta(SALT_KEY)
    if value is None:
        project.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                        (SALT_KEY, secrets.token_hex(32)))
        value = project.get_meta(SALT_KEY)
    return value


def canonical(annotator: str, sample_id: int, modality: str, a_is: str) -> str:
    return json.dumps({"a_is": a_is, "annotator": annotator, "modality": modality,
                       "sample_id": int(sample_id)}, sort_keys=True, separators=(",", ":"))


def commit(salt_hex: str, annotator: str, sample_id: int, modality: str, a_is: str) -> str:
    """The commitment of one item's key (hex SHA-256)."""
    text = salt_hex + "\n" + canonical(annotator, sample_id, modality, a_is)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def root_of(commitments: list[str]) -> str:
    return hashlib.sha256("".join(c + "\n" for c in sorted(commitments)).encode()).hexdigest()


@dataclass(frozen=True)
class Root:
    """The published commitment: its hash, how many keys it seals, and how it was made."""

    sha256: str
    n_keys: int
    method: str = METHOD


_ORDERS = ("SELECT n.name AS annotator, b.sample_id, b.modality, b.a_is, b.commitment "
           "FROM blind_orders b JOIN annotators n ON n.id = b.annotator_id "
           "ORDER BY n.name, b.sample_id, b.modality")


def commitment_root(project: Project) -> Root:
    """The root over every committed order in the store (empty store: hash of nothing)."""
    found = [r["commitment"] for r in project.query(_ORDERS) if r["commitment"]]
    return Root(root_of(found), len(found))


def reveal(project: Project) -> dict[str, Any]:
    """The key, the salt and the root, as written to ``blind_key.json`` at export."""
    keys = [{"annotator": r["annotator"], "sample_id": r["sample_id"],
             "modality": r["modality"], "a_is": r["a_is"], "commitment": r["commitment"]}
            for r in project.query(_ORDERS) if r["commitment"]]
    root = commitment_root(project)
    return {"method": METHOD, "salt": salt(project), "root": root.sha256, "keys": keys}


def verify_reveal(revealed: dict[str, Any], root: str | None = None) -> list[str]:
    """Problems found checking a reveal against its commitments and ``root`` (default its
    own); empty when it verifies."""
    if not isinstance(revealed, dict) or not isinstance(revealed.get("keys"), list):
        raise InputError("a reveal must be the JSON object of blind_key.json with 'salt', "
                         "'root' and 'keys'; export the ratings again")
    problems, commitments = [], []
    salt_hex = str(revealed.get("salt", ""))
    for n, k in enumerate(revealed["keys"], start=1):
        try:
            again = commit(salt_hex, k["annotator"], k["sample_id"], k["modality"], k["a_is"])
        except (KeyError, TypeError, ValueError):
            problems.append(f"key {n}: not a key entry ({str(k)[:80]})")
            continue
        if again != k.get("commitment"):
            problems.append(f"key {n} ({k['annotator']}, sample {k['sample_id']} "
                            f"{k['modality']}, A = {k['a_is']}) does not match its commitment")
        commitments.append(k.get("commitment") or "")
    expected = root if root is not None else revealed.get("root")
    if root_of(commitments) != expected:
        problems.append(f"the revealed keys hash to root {root_of(commitments)[:16]}…, not "
                        f"the published {str(expected)[:16]}…")
    return problems


def check_store(project: Project) -> list[str]:
    """Stored orders whose key no longer matches its commitment (an edited key)."""
    salt_hex = project.get_meta(SALT_KEY)
    problems = []
    for r in project.query(_ORDERS):
        if not r["commitment"]:
            continue
        if salt_hex is None or commit(salt_hex, r["annotator"], r["sample_id"], r["modality"],
                                      r["a_is"]) != r["commitment"]:
            problems.append(f"blind order of {r['annotator']} for sample {r['sample_id']} "
                            f"{r['modality']} (A = {r['a_is']}) does not match its commitment")
    return problems
