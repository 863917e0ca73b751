"""The rating rubric: the questions an annotator answers about one pair of responses.

The rubric lives in ``resources/rubric.yaml`` (a project may hold its own ``rubric.yaml``);
its header comment documents the fields. Each item has a type, whose spec in
:data:`harlab.rating.item_types.ITEM_TYPES` (``item.kind``) holds all that differs by type;
items are required or optional, and ``per_response`` items are asked for A and for B.

Two vocabularies exist. On screen, responses are **A** and **B** (blind). In the store and in
every analysis, they are **original** and **attacked**: a per-response item ``hazard`` is kept
as ``hazard.original`` / ``hazard.attacked`` and a pairwise answer ``A`` as ``original`` or
``attacked``, whichever A was. :func:`unblind` and :func:`blind` map between the two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harlab.errors import InputError
from harlab.rating.item_types import ItemType, RubricError, item_type
from harlab.vocab import SHOWN_SIDES, SIDES

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")


@dataclass(frozen=True)
class RubricItem:
    """One question of the rubric (see ``resources/rubric.yaml`` for the fields)."""

    id: str
    type: str
    prompt: str
    required: bool = True
    per_response: bool = False
    scale: tuple[int, int] | None = None
    anchors: tuple[tuple[int, str], ...] = ()
    choices: tuple[str, ...] = ()
    ordered: bool = False

    def __post_init__(self) -> None:
        item_type(self.type)  # an unknown type raises, listing the valid ones

    @property
    def kind(self) -> ItemType:
        """The spec of this item's type: everything that differs by type."""
        return item_type(self.type)

    @property
    def values(self) -> tuple[str, ...]:
        """The stored answers in their order; empty for free text."""
        return self.kind.values(self)

    @property
    def level(self) -> str | None:
        """Agreement level (``ordinal``, ``nominal``...), or None: free text is not compared."""
        return self.kind.level(self)

    def keys(self) -> tuple[str, ...]:
        """Stored item keys: ``id`` or ``id.original`` and ``id.attacked``."""
        return tuple(f"{self.id}.{s}" for s in SIDES) if self.per_response else (self.id,)

    def normalise(self, value: Any) -> str:
        """The stored form of ``value`` (original/attacked terms); raises :class:`RubricError`."""
        return self.kind.normalise(self, value)


@dataclass(frozen=True)
class Question:
    """One thing asked on screen, in blind (A/B) terms.

    Attributes:
        key: ``id`` or ``id.A`` / ``id.B``.
        item: the rubric item it asks.
        side: ``A``, ``B`` or None.
        prompt: the text shown.
        choices: ``(shown value, label)`` pairs, in key order (1, 2, ...); empty for free text.
    """

    key: str
    item: RubricItem
    side: str | None
    prompt: str
    choices: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Rubric:
    """A parsed rubric: a version, a title and its items in order."""

    version: str
    items: tuple[RubricItem, ...]
    title: str = ""
    path: Path | None = field(default=None, compare=False)

    def keys(self) -> tuple[str, ...]:
        """Every stored item key, in order."""
        return tuple(k for item in self.items for k in item.keys())

    def required_keys(self) -> tuple[str, ...]:
        return tuple(k for item in self.items if item.required for k in item.keys())

    def item_for(self, key: str) -> RubricItem:
        """The item behind a stored key (``hazard.original``) or a shown one (``hazard.A``)."""
        base = key.split(".", 1)[0]
        for item in self.items:
            if item.id == base and key in (*item.keys(), *_shown_keys(item)):
                return item
        raise RubricError(f"unknown rubric item {key!r} for rubric version {self.version}; "
                          f"valid items: {', '.join(self.keys())}")

    def questions(self) -> list[Question]:
        """What the annotator is asked, in order, A before B."""
        out = []
        for item in self.items:
            for key, side in zip(_shown_keys(item), SHOWN_SIDES if item.per_response else
                                 (None,), strict=True):
                prompt = item.prompt.replace("{response}", side or "")
                out.append(Question(key, item, side, prompt, item.kind.shown(item)))
        return out


def _shown_keys(item: RubricItem) -> tuple[str, ...]:
    return tuple(f"{item.id}.{s}" for s in SHOWN_SIDES) if item.per_response else (item.id,)


def unblind(rubric: Rubric, key: str, value: Any, a_is: str) -> tuple[str, Any]:
    """Map a shown ``(key, value)`` (A/B terms) to stored terms, given what A is.

    Keys and values already in original/attacked terms pass through unchanged.
    """
    if a_is not in SIDES:
        raise InputError(f"a_is must be 'original' or 'attacked', got {a_is!r}")
    side = {"A": a_is, "B": SIDES[1 - SIDES.index(a_is)]}
    item = rubric.item_for(key)
    if item.per_response and key.rsplit(".", 1)[1] in side:
        key = f"{item.id}.{side[key.rsplit('.', 1)[1]]}"
    if item.kind.names_sides and isinstance(value, str) and value.strip() in side:
        value = side[value.strip()]
    return key, value


def blind(rubric: Rubric, key: str, value: str | None, a_is: str) -> tuple[str, str | None]:
    """Map a stored ``(key, value)`` to what the annotator saw (A/B terms)."""
    shown = {a_is: "A", SIDES[1 - SIDES.index(a_is)]: "B"}
    item = rubric.item_for(key)
    if item.per_response:
        key = f"{item.id}.{shown[key.rsplit('.', 1)[1]]}"
    if item.kind.names_sides and value in shown:
        value = shown[value]
    return key, value

