"""Annotators, the items they rate, and each annotator's sealed blind A/B order.

An *item* is one (sample, modality) whose current original and attacked answers are both
``ok`` (the current answer is the newest ``llm_requests`` row per sample, modality and
variant, unless the study chose another pair: see :mod:`harlab.rating.supersede`). It is
identified by the two response ids, so asking the model again makes a new, unrated item while
old ratings stay attached to the answers they judged: a rated pair that is no longer current
is listed too, marked ``superseded``, so its ratings stay visible and counted.

Which answer an annotator sees as A is drawn once per annotator and item from a SHA-256 of the
project's study seed (meta key ``study_seed``, default 0), the annotator's name, the sample and
the modality, then stored in ``blind_orders`` with its commitment
(:mod:`harlab.rating.commitment`); a stored order is never redrawn. Reading an order that
exists does not write, so showing an item never waits on another process's write lock.
"""

from __future__ import annotations

import hashlib
import json
import time
import unicodedata
from dataclasses import dataclass

from harlab.errors import InputError
from harlab.rating import commitment
from harlab.rating.busy import RatingNotSaved, no_wait
from harlab.store import Project
from harlab.vocab import MODALITIES

STUDY_SEED_KEY = "study_seed"
STATUSES = ("all", "unrated", "partial", "rated")
MAX_NAME = 64

# Each (selected sample, modality) with its current original and attacked answers, both ok.
# The current_requests view is correlated: joined on (sample_id, modality, variant) it reads
# through that index, so this stays linear in the number of samples (a self-join of all
# current answers was quadratic).
_CURRENT = """
SELECT s.id AS sample_id, m.modality, o.id AS original_id, a.id AS attacked_id, s.video,
       s.true_label, s.clean_pred, s.adv_pred, s.attack, s.eps, s.clean_frames_json,
       s.adv_frames_json, o.response_text AS original_text, a.response_text AS attacked_text
FROM samples s
CROSS JOIN (SELECT 'unimodal' AS modality UNION ALL SELECT 'multimodal') m
JOIN current_requests o ON o.sample_id = s.id AND o.modality = m.modality
     AND o.variant = 'original'
JOIN current_requests a ON a.sample_id = s.id AND a.modality = m.modality
     AND a.variant = 'attacked'
WHERE o.status = 'ok' AND a.status = 'ok' AND s.selected = 1
"""


@dataclass(frozen=True)
class Annotator:
    id: int
    name: str


@dataclass(frozen=True)
class RatingItem:
    """One pair of answers to rate (both texts current and ``ok``)."""

    sample_id: int
    modality: str
    original_id: int
    attacked_id: int
    video: str
    true_label: str
    clean_pred: str
    adv_pred: str
    attack: str
    eps: float
    original_text: str
    attacked_text: str
    clean_frames: tuple[str, ...] = ()
    adv_frames: tuple[str, ...] = ()
    superseded: bool = False  # a rated pair the study no longer uses (re-asked since)

    @property
    def key(self) -> tuple[int, str]:
        return self.sample_id, self.modality

    def text(self, side: str) -> str:
        """The answer for ``original`` or ``attacked``."""
        return self.original_text if side == "original" else self.attacked_text


@dataclass(frozen=True)
class ItemFilter:
    """Which items to list: by true class, modality and the annotator's rating status."""

    true_label: str | None = None
    modality: str | None = None
    status: str = "all"

    def __post_init__(self) -> None:
        if self.modality is not None and self.modality not in MODALITIES:
            raise InputError(f"modality filter must be one of {', '.join(MODALITIES)} or None, "
                             f"got {self.modality!r}")
        if self.status not in STATUSES:
            raise InputError(f"status filter must be one of {', '.join(STATUSES)}, got "
                             f"{self.status!r}")


def validate_name(name: object) -> str:
    """An annotator name, trimmed; raises :class:`InputError` for an unusable one."""
    if not isinstance(name, str):
        raise InputError(f"annotator name must be text, got {name!r}")
    clean = unicodedata.normalize("NFC", name.strip())
    if not clean or len(clean) > MAX_NAME:
        raise InputError(f"annotator name must have 1 to {MAX_NAME} characters, got {name!r}; "
                         "type your name or initials")
    if any(unicodedata.category(c).startswith("C") for c in clean):
        raise InputError(f"annotator name {name!r} holds control characters; use letters, "
                         "digits, spaces and punctuation only")
    return clean


def get_annotator(project: Project, name: str) -> Annotator:
    """The annotator called ``name``, created (and committed) when new."""
    clean = validate_name(name)
    project.execute("INSERT OR IGNORE INTO annotators (name, created_at) VALUES (?, ?)",
                    (clean, time.time()))
    row = project.query_one("SELECT id, name FROM annotators WHERE name = ?", (clean,))
    return Annotator(int(row["id"]), row["name"])


def find_annotator(project: Project, name: str) -> Annotator:
    """An existing annotator; raises :class:`InputError` listing the known names."""
    row = project.query_one("SELECT id, name FROM annotators WHERE name = ?",
                            (validate_name(name),))
    if row is None:
        known = ", ".join(a.name for a in annotators(project)) or "none yet"
        raise InputError(f"no annotator named {name!r} in this project; known: {known}")
    return Annotator(int(row["id"]), row["name"])


def annotators(project: Project) -> list[Annotator]:
    return [Annotator(int(r["id"]), r["name"])
            for r in project.query("SELECT id, name FROM annotators ORDER BY name")]


def study_seed(project: Project) -> int:
    raw = project.get_meta(STUDY_SEED_KEY, "0")
    try:
        return int(raw)
    except ValueError as exc:
        raise InputError(f"project meta {STUDY_SEED_KEY!r} must be an integer, got {raw!r}; "
                         "set it with project.set_meta('study_seed', '0')") from exc


def class_names(project: Project) -> list[str]:
    """True classes among the items, for a filter list."""
    return sorted({r["true_label"] for r in project.query(_CURRENT)})


def items(project: Project, annotator: Annotator | None = None,
          filters: ItemFilter | None = None,
          required_keys: tuple[str, ...] = ()) -> list[RatingItem]:
    """The items to rate, by sample and modality.

    ``filters.status`` other than ``all`` needs ``annotator`` and the rubric's
    ``required_keys`` (see :func:`harlab.rating.answers.item_status`).
    """
    filters = filters or ItemFilter()
    sql, params = _CURRENT, []
    if filters.true_label is not None:
        sql += " AND s.true_label = ?"
        params.append(filters.true_label)
    if filters.modality is not None:
        sql += " AND m.modality = ?"
        params.append(filters.modality)
    sql += " ORDER BY s.id, CASE m.modality WHEN 'unimodal' THEN 0 ELSE 1 END"
    out = [_item(r) for r in project.query(sql, params)]
    out += _superseded(project, annotator, filters, {(i.original_id, i.attacked_id)
                                                      for i in out})
    if filters.status == "all":
        return out
    if annotator is None:
        raise InputError(f"status filter {filters.status!r} needs an annotator; pass one or "
                         "use status='all'")
    answered = answered_keys(project, annotator)
    required = set(required_keys)
    return [i for i in out if status_of(answered.get((i.original_id, i.attacked_id), set()),
                                      required) == filters.status]


_RATED_PAIRS = """
SELECT DISTINCT r.sample_id, r.modality, r.original_response_id AS original_id,
       r.attacked_response_id AS attacked_id, s.video, s.true_label, s.clean_pred, s.adv_pred,
       s.attack, s.eps, s.clean_frames_json, s.adv_frames_json,
       o.response_text AS original_text, a.response_text AS attacked_text
FROM ratings r
JOIN samples s ON s.id = r.sample_id
JOIN llm_requests o ON o.id = r.original_response_id
JOIN llm_requests a ON a.id = r.attacked_response_id
WHERE s.selected = 1
"""


def _superseded(project: Project, annotator: Annotator | None, filters: ItemFilter,
                current: set[tuple[int, int]]) -> list[RatingItem]:
    """Rated pairs that are no longer current (this annotator's, or anyone's without one)."""
    sql, params = _RATED_PAIRS, []
    if annotator is not None:
        sql += " AND r.annotator_id = ?"
        params.append(annotator.id)
    if filters.true_label is not None:
        sql += " AND s.true_label = ?"
        params.append(filters.true_label)
    if filters.modality is not None:
        sql += " AND r.modality = ?"
        params.append(filters.modality)
    sql += " ORDER BY r.sample_id, r.modality, r.original_response_id"
    return [_item(r, superseded=True) for r in project.query(sql, params)
            if (r["original_id"], r["attacked_id"]) not in current]


def item_by_pair(project: Project, sample_id: int, modality: str, original_id: int,
                 attacked_id: int) -> RatingItem:
    """The item of one exact pair of answers, current or not; raises InputError if unknown."""
    one = (_RATED_PAIRS.replace("FROM ratings r", "FROM (SELECT ? AS sample_id, ? AS modality, "
                                "? AS original_response_id, ? AS attacked_response_id) r")
           .replace("WHERE s.selected = 1", ""))  # a deselected sample's pair still exists
    row = project.query_one(one, (sample_id, modality, original_id, attacked_id))
    if row is None:
        raise InputError(f"no answers {original_id} / {attacked_id} for sample {sample_id} "
                         f"{modality} in this project")
    current = project.query_one(_CURRENT + " AND s.id = ? AND m.modality = ?",
                                (sample_id, modality))
    now = current is not None and (current["original_id"], current["attacked_id"]) == (
        original_id, attacked_id)
    return _item(row, superseded=not now)


def _item(row, superseded: bool = False) -> RatingItem:
    return RatingItem(
        sample_id=row["sample_id"], modality=row["modality"], original_id=row["original_id"],
        attacked_id=row["attacked_id"], video=row["video"], true_label=row["true_label"],
        clean_pred=row["clean_pred"], adv_pred=row["adv_pred"], attack=row["attack"],
        eps=row["eps"], original_text=row["original_text"] or "",
        attacked_text=row["attacked_text"] or "",
        clean_frames=tuple(json.loads(row["clean_frames_json"] or "[]")),
        adv_frames=tuple(json.loads(row["adv_frames_json"] or "[]")), superseded=superseded)


def answered_keys(project: Project, annotator: Annotator) -> dict[tuple[int, int], set[str]]:
    """Stored item keys this annotator answered, by (original id, attacked id)."""
    out: dict[tuple[int, int], set[str]] = {}
    for r in project.query("SELECT original_response_id AS o, attacked_response_id AS a, item "
                           "FROM ratings WHERE annotator_id = ?", (annotator.id,)):
        out.setdefault((r["o"], r["a"]), set()).add(r["item"])
    return out


def status_of(answered: set[str], required: set[str]) -> str:
    if not answered:
        return "unrated"
    return "rated" if required <= answered else "partial"


def draw_order(seed: int, annotator_name: str, sample_id: int, modality: str) -> tuple[str, int]:
    """``(a_is, seed)``: the deterministic blind draw for one annotator and item."""
    text = f"{seed}|{annotator_name}|{sample_id}|{modality}".encode()
    value = int.from_bytes(hashlib.sha256(text).digest()[:8], "big") >> 1
    return ("original" if value % 2 == 0 else "attacked"), value


_ORDER = "SELECT a_is FROM blind_orders WHERE annotator_id = ? AND sample_id = ? AND modality = ?"
_ADD_ORDER = ("INSERT OR IGNORE INTO blind_orders (annotator_id, sample_id, modality, a_is, "
              "seed, commitment, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")


def blind_order(project: Project, annotator: Annotator, item: RatingItem) -> str:
    """Which answer this annotator sees as A (``original`` or ``attacked``), drawn once."""
    row = project.query_one(_ORDER, (annotator.id, item.sample_id, item.modality))
    if row is not None:
        return row["a_is"]
    try:
        with no_wait(project):
            commit_orders(project, annotator, [item])
    except RatingNotSaved:  # another process is writing: the same draw is stored next time
        return draw_order(study_seed(project), annotator.name, *item.key)[0]
    return project.query_one(_ORDER, (annotator.id, item.sample_id, item.modality))["a_is"]


def commit_orders(project: Project, annotator: Annotator, listed: list[RatingItem]) -> int:
    """Draw and commit the order of every listed item not drawn yet (one transaction, when
    rating opens); returns how many were new."""
    seed, salt = study_seed(project), commitment.salt(project)
    have = {(r["sample_id"], r["modality"]) for r in project.query(
        "SELECT sample_id, modality FROM blind_orders WHERE annotator_id = ?", (annotator.id,))}
    rows, now = [], time.time()
    for key in dict.fromkeys(i.key for i in listed):
        if key in have:
            continue
        a_is, value = draw_order(seed, annotator.name, *key)
        rows.append((annotator.id, *key, a_is, value,
                     commitment.commit(salt, annotator.name, *key, a_is), now))
    if rows:
        project.executemany(_ADD_ORDER, rows)
    return len(rows)
