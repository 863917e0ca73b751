"""The registry of rubric item types: one :class:`ItemType` per type, holding all that differs.

Every module that treats items differently by type reads a field of the item's spec
(``item.kind.free_text``, ``item.kind.aggregate(values)``, ...) instead of comparing
``item.type`` with a name, so adding a type is one entry in :data:`ITEM_TYPES` (and, only if
it needs a new kind of editor, a change to the rating form). A test fails when a module outside
this one compares an item's type with a name.

A type's own ``rubric.yaml`` fields (:attr:`ItemType.yaml_keys`) are fields of the same name
of :class:`~harlab.rating.rubric.RubricItem`, which is how
:func:`harlab.rating.rubric_file.rubric_yaml` writes them back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any, Protocol

from harlab.errors import InputError
from harlab.yamlio import short_repr

PAIRWISE_VALUES = ("original", "attacked", "tie", "both_bad")
PAIRWISE_SHOWN = ("A", "B", "tie", "both_bad")
YES_NO = ("yes", "no")
MAX_TEXT = 10_000
LEVELS = ("nominal", "ordinal", "interval")  # krippendorff's levels of measurement we use


class RubricError(InputError):
    """A rubric file or a rating value does not fit; file errors name the line at fault."""


class ItemFields(Protocol):
    """What a type reads of an item: a :class:`harlab.rating.rubric.RubricItem` (which
    imports this module, hence a protocol rather than an import)."""

    id: str
    scale: tuple[int, int] | None
    anchors: tuple[tuple[int, str], ...]
    choices: tuple[str, ...]
    ordered: bool

    @property
    def values(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class ItemSource:
    """One item of ``rubric.yaml`` as a type's :attr:`ItemType.build` sees it.

    Attributes:
        id: the item's id.
        values: its fields as constructed from YAML (``{"scale": [1, 5], ...}``).
        fail: ``fail(field, message)``: a :class:`RubricError` naming the line of ``field``
            (of the item when it has no such field).
        fail_key: ``fail_key(field, key, message)``: the same at ``key`` of the mapping
            ``field``.
    """

    id: str
    values: Mapping[str, Any]
    fail: Callable[[str, str], RubricError]
    fail_key: Callable[[str, Any, str], RubricError]


@dataclass(frozen=True)
class ItemType:
    """Everything that differs between rubric item types.

    Attributes:
        name: the ``type`` written in ``rubric.yaml``.
        help: the keyboard help line of the rater instructions.
        values: ``values(item)``: the stored answers, in order (empty for free text).
        normalise: ``normalise(item, value)``: the stored form of an answer; raises
            :class:`RubricError` naming the item and the valid answers.
        level: ``level(item)``: how agreement treats the item (one of :data:`LEVELS`), or
            None when it is not compared.
        aggregate: ``aggregate(values)``: the answers of several annotators as one summary
            value (mean, majority); None when the type is not aggregated.
        parse: a stored answer as a summary value (a Likert point as an int).
        labels: ``labels(item)``: the ``(shown value, label)`` pairs of the form, in key
            order; default every stored answer labelled by itself (see :meth:`shown`).
        yaml_keys: the ``rubric.yaml`` fields only this type takes (beyond id, type, prompt,
            required and per_response); each is a ``RubricItem`` field of that name.
        bool_keys: those of ``yaml_keys`` that are true or false.
        build: ``build(source)``: checks the type's fields of an :class:`ItemSource` and
            returns them as ``RubricItem`` keyword arguments.
        example: the type's fields of a minimal valid item (tests parse one of each type).
        free_text: answers are text: never compared nor aggregated, an empty answer is no
            answer, and the form gives it a text box instead of numbered keys.
        per_response: the item may be asked for A and for B.
        names_sides: answers name a response (``A``/``B`` on screen, ``original``/
            ``attacked`` stored), so they are blinded and count for position bias.
        numeric: answers are numbers (averaged; correlated with the automatic metrics).
        keys_are_values: in the form an answer's key is the answer itself (a Likert point);
            otherwise answers are numbered from 1.
    """

    name: str
    help: str
    values: Callable[[ItemFields], tuple[str, ...]]
    normalise: Callable[[ItemFields, Any], str]
    level: Callable[[ItemFields], str | None]
    aggregate: Callable[[list[str]], Any] | None
    parse: Callable[[str], Any] = str
    labels: Callable[[ItemFields], tuple[tuple[str, str], ...]] | None = None
    yaml_keys: tuple[str, ...] = ()
    bool_keys: tuple[str, ...] = ()
    build: Callable[[ItemSource], dict[str, Any]] = lambda source: {}
    example: Mapping[str, Any] = field(default_factory=dict, compare=False)
    free_text: bool = False
    per_response: bool = True
    names_sides: bool = False
    numeric: bool = False
    keys_are_values: bool = False

    def __post_init__(self) -> None:
        # a spec is written by a developer; these catch a slip when a type is added
        if set(self.bool_keys) - set(self.yaml_keys):
            raise ValueError(f"item type {self.name!r}: bool_keys must be among yaml_keys")
        if self.free_text and self.aggregate is not None:
            raise ValueError(f"item type {self.name!r}: free text is not aggregated")

    @property
    def aggregated(self) -> bool:
        """Whether the type has a summary value per pair (a column of evaluation.csv)."""
        return self.aggregate is not None

    def shown(self, item: ItemFields) -> tuple[tuple[str, str], ...]:
        """What the form offers: ``(shown value, label)`` pairs, in key order."""
        return self.labels(item) if self.labels else tuple((v, v) for v in self.values(item))

    def key_for(self, n: int, value: str) -> str:
        """The key that picks the ``n``-th answer (from 1), whose shown value is ``value``."""
        return value if self.keys_are_values else str(n)


# ---------------------------------------------------------------------- shared pieces
def _choice_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value).strip().lower().replace(" ", "_") if value is not None else ""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _pick(item: ItemFields, value: Any, text: str) -> str:
    allowed = {v.lower(): v for v in item.values}
    if text not in allowed:
        hint = " (A and B are mapped by record_answer)" if text in ("a", "b") else ""
        raise RubricError(f"{item.id}: {_short(value)} is not an answer; expected one of "
                          f"{', '.join(item.values)}{hint}")
    return allowed[text]


def _normalise_choice(item: ItemFields, value: Any) -> str:
    return _pick(item, value, _choice_text(value))


def majority(values: list[str]) -> str:
    """The most frequent answer; a tie joins the tied answers with ``|`` (sorted)."""
    counts = Counter(values).most_common()
    top = [v for v, n in counts if n == counts[0][1]]
    return "|".join(sorted(top))


def _nominal(item: ItemFields) -> str:
    return "nominal"


# ---------------------------------------------------------------------- likert
def _likert_values(item: ItemFields) -> tuple[str, ...]:
    return tuple(str(v) for v in range(item.scale[0], item.scale[1] + 1))


def _likert_labels(item: ItemFields) -> tuple[tuple[str, str], ...]:
    anchors = dict(item.anchors)
    return tuple((v, f"{v} · {anchors[int(v)]}" if int(v) in anchors else v)
                 for v in item.values)


def _likert_normalise(item: ItemFields, value: Any) -> str:
    integral = isinstance(value, float) and value.is_integer()
    return _pick(item, value, str(int(value)) if integral else _choice_text(value))


def _likert_build(source: ItemSource) -> dict[str, Any]:
    scale = source.values.get("scale")
    if (not isinstance(scale, list) or len(scale) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in scale)
            or not 0 <= scale[0] < scale[1] <= scale[0] + 9):
        raise source.fail("scale", f"likert 'scale' must be [min, max] with integers, "
                                   f"min < max and at most 10 points (one key each), "
                                   f"got {short_repr(scale)}")
    anchors = source.values.get("anchors")
    if not isinstance(anchors, dict) or not anchors:
        raise source.fail("anchors", "likert items need 'anchors': {value: meaning}, "
                                     "at least for both ends of the scale")
    for key, label in anchors.items():
        if not isinstance(key, int) or not scale[0] <= key <= scale[1]:
            raise source.fail_key("anchors", key, f"anchor {key!r} is not a point of the "
                                                  f"scale {scale[0]}..{scale[1]}")
        if not isinstance(label, str) or not label.strip():
            raise source.fail_key("anchors", key, f"anchor {key} needs a text meaning, got "
                                                  f"{short_repr(label)}")
    if scale[0] not in anchors or scale[1] not in anchors:
        raise source.fail("anchors", f"anchors must name both ends of the scale ({scale[0]} "
                                     f"and {scale[1]})")
    return {"scale": (scale[0], scale[1]),
            "anchors": tuple(sorted((k, v.strip()) for k, v in anchors.items()))}


# ---------------------------------------------------------------------- categorical
def _categorical_build(source: ItemSource) -> dict[str, Any]:
    choices = source.values.get("choices")
    if (not isinstance(choices, list) or len(choices) < 2
            or not all(isinstance(c, str) and c.strip() for c in choices)
            or len({c.strip().lower() for c in choices}) != len(choices)):
        raise source.fail("choices", f"categorical item {source.id!r} needs 'choices': a list "
                                     "of at least two distinct names")
    return {"choices": tuple(c.strip() for c in choices),
            "ordered": source.values.get("ordered", False)}


# ---------------------------------------------------------------------- free text
def _text_normalise(item: ItemFields, value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise RubricError(f"{item.id}: expected text of at most {MAX_TEXT} characters, "
                          f"got {_short(value)}")
    return value


# ---------------------------------------------------------------------- the registry
_TYPES = (
    ItemType(
        name="likert",
        help="Press the number of the point that fits best; the anchors say what the ends "
             "(and the labelled points) mean.",
        values=_likert_values, normalise=_likert_normalise, level=lambda item: "ordinal",
        aggregate=lambda values: fmean(int(v) for v in values), parse=int,
        labels=_likert_labels, yaml_keys=("scale", "anchors"), build=_likert_build,
        example={"scale": [1, 3], "anchors": {1: "low", 3: "high"}},
        numeric=True, keys_are_values=True),
    ItemType(
        name="yes_no", help="Answer 1 for yes, 2 for no.",
        values=lambda item: YES_NO, normalise=_normalise_choice, level=_nominal,
        aggregate=majority),
    ItemType(
        name="categorical", help="Press the number of the choice.",
        values=lambda item: item.choices, normalise=_normalise_choice,
        level=lambda item: "ordinal" if item.ordered else "nominal", aggregate=majority,
        yaml_keys=("choices", "ordered"), bool_keys=("ordered",), build=_categorical_build,
        example={"choices": ["none", "minor", "major"], "ordered": True}),
    ItemType(
        name="pairwise",
        help="1: A is better, 2: B is better, 3: tie (equally good), 4: both bad. Judge "
             "against what really happened: the true action in the frames shown on both "
             "sides.",
        values=lambda item: PAIRWISE_VALUES, normalise=_normalise_choice, level=_nominal,
        aggregate=majority,
        labels=lambda item: tuple((v, v.replace("_", " ")) for v in PAIRWISE_SHOWN),
        per_response=False, names_sides=True),
    ItemType(
        name="free_text",
        help="Optional. Enter to type, Enter (or Esc, Tab) to save and go back.",
        values=lambda item: (), normalise=_text_normalise, level=lambda item: None,
        aggregate=None, free_text=True),
)

#: Every item type by name, in the order error messages and docs list them.
ITEM_TYPES: dict[str, ItemType] = {t.name: t for t in _TYPES}


def item_type(name: str) -> ItemType:
    """The spec of the type ``name``; raises :class:`RubricError` listing the valid types."""
    if name not in ITEM_TYPES:
        raise RubricError(f"unknown item type {name!r}; valid types: "
                          f"{', '.join(ITEM_TYPES)}")
    return ITEM_TYPES[name]


def type_fields() -> tuple[str, ...]:
    """Every type's own ``rubric.yaml`` fields, in registry order."""
    return tuple(dict.fromkeys(k for t in ITEM_TYPES.values() for k in t.yaml_keys))
