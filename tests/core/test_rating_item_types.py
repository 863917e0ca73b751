"""The registry of rubric item types (issue 18): every registered type goes through the rubric
file and back, its answers through blind/unblind and the summary, and no module outside
harlab/rating/item_types.py tells types apart by comparing with a name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from harlab.rating import RubricError, RubricItem, blind, load_rubric, parse_rubric, unblind
from harlab.rating.item_types import ITEM_TYPES, LEVELS, ItemType, item_type, type_fields
from harlab.rating.rubric_file import rubric_yaml

ROOT = Path(__file__).resolve().parents[2]
DEVICE_TYPES = {"cpu", "cuda", "mps", "xpu", "meta"}  # torch.device.type, not an item type


def _item(name: str, item_id: str, **fields) -> dict:
    return {"id": item_id, "type": name, "prompt": f"{name} of {{response}}?",
            **ITEM_TYPES[name].example, **fields}


def _rubric_text(items: list[dict]) -> str:
    return yaml.safe_dump({"version": "7", "title": "every type", "items": items},
                          sort_keys=False)


def _every_type() -> str:
    items = []
    for name, kind in ITEM_TYPES.items():
        items.append(_item(name, f"{name}_once", required=False))
        if kind.per_response:
            items.append(_item(name, f"{name}_each", per_response=True))
    return _rubric_text(items)


@pytest.mark.parametrize("name", list(ITEM_TYPES))
def test_every_type_round_trips_through_the_rubric_file(name):
    rubric = parse_rubric(_rubric_text([_item(name, "q")]))
    (item,) = rubric.items
    assert item.kind is ITEM_TYPES[name] and item.kind.name == name
    again = parse_rubric(rubric_yaml(rubric))
    assert again == rubric
    assert rubric_yaml(again) == rubric_yaml(rubric)


def test_a_rubric_of_every_type_and_the_bundled_one_round_trip():
    for rubric in (parse_rubric(_every_type()), load_rubric()):
        assert parse_rubric(rubric_yaml(rubric)) == rubric


@pytest.mark.parametrize("name", list(ITEM_TYPES))
def test_every_type_answers_round_trip(name):
    rubric = parse_rubric(_every_type())
    item = rubric.item_for(f"{name}_once")
    kind = item.kind
    assert kind.free_text == (not item.values) == (item.level is None) == (not kind.aggregated)
    assert item.level is None or item.level in LEVELS
    for value in item.values:
        assert item.normalise(value) == value
        assert kind.aggregate([value, value]) == kind.parse(value)
    shown = kind.shown(item)
    keys = [kind.key_for(n, value) for n, (value, _) in enumerate(shown, start=1)]
    assert len(set(keys)) == len(keys) and all(k.isdigit() and len(k) == 1 for k in keys)
    for a_is in ("original", "attacked"):
        for value, _ in shown:
            key, stored = unblind(rubric, item.id, value, a_is)
            assert blind(rubric, key, item.normalise(stored), a_is) == (item.id, value)
    if kind.per_response:
        each = f"{name}_each"
        assert rubric.item_for(f"{each}.B").keys() == (f"{each}.original", f"{each}.attacked")
        for value, _ in shown:
            key, stored = unblind(rubric, f"{each}.B", value, "original")
            assert key == f"{each}.attacked"
            assert blind(rubric, key, stored, "original") == (f"{each}.B", value)


def test_free_text_takes_text_and_is_not_summarised():
    rubric = parse_rubric(_every_type())
    notes = rubric.item_for("free_text_once")
    assert notes.normalise("any words") == "any words" and notes.values == ()
    with pytest.raises(RubricError, match="expected text"):
        notes.normalise(5)


def test_aggregates_mean_and_majority():
    rubric = parse_rubric(_every_type())
    assert rubric.item_for("likert_once").kind.aggregate(["1", "2"]) == 1.5
    assert rubric.item_for("yes_no_once").kind.aggregate(["yes", "no", "yes"]) == "yes"
    assert rubric.item_for("pairwise_once").kind.aggregate(["tie", "original"]) == (
        "original|tie")


def test_an_unknown_type_lists_the_registry():
    valid = ", ".join(ITEM_TYPES)
    text = _rubric_text([{"id": "q", "type": "nope", "prompt": "?"}])
    with pytest.raises(RubricError, match=rf"line \d+: unknown item type 'nope'; valid types: "
                                          rf"{valid}$"):
        parse_rubric(text)
    with pytest.raises(RubricError, match=f"valid types: {valid}$"):
        item_type("nope")
    with pytest.raises(RubricError, match="unknown item type 'nope'"):
        RubricItem(id="q", type="nope", prompt="?")


@pytest.mark.parametrize("key", type_fields())
def test_a_type_field_applies_to_its_types_only(key):
    owners = [n for n, t in ITEM_TYPES.items() if key in t.yaml_keys]
    other = next(n for n, t in ITEM_TYPES.items() if key not in t.yaml_keys)
    value = ITEM_TYPES[owners[0]].example[key]
    with pytest.raises(RubricError, match=rf"'{key}' applies to {' and '.join(owners)} items "
                                          rf"only, not {other}"):
        parse_rubric(_rubric_text([_item(other, "q", **{key: value})]))


def test_a_type_that_is_not_per_response_refuses_it():
    for name, kind in ITEM_TYPES.items():
        if not kind.per_response:
            with pytest.raises(RubricError, match=f"a {name} item .*cannot be per_response"):
                parse_rubric(_rubric_text([_item(name, "q", per_response=True)]))


def test_a_spec_with_a_slip_is_refused():
    def spec(**fields) -> ItemType:
        return ItemType(**{"name": "x", "help": "h", "values": lambda item: (),
                           "normalise": lambda item, v: v, "level": lambda item: None,
                           "aggregate": None, **fields})

    with pytest.raises(ValueError, match="bool_keys must be among yaml_keys"):
        spec(bool_keys=("flag",))
    with pytest.raises(ValueError, match="free text is not aggregated"):
        spec(free_text=True, aggregate=len)


# ---------------------------------------------------------------------- no string dispatch
def _type_name_uses(tree: ast.AST) -> list[int]:
    """Lines that tell item types apart by a literal: a comparison, dict key, subscript or
    case with a registered type name, or ``x.type`` / ``x.kind.name`` compared with text."""
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_names_a_type(op) for op in operands) and any(
                    isinstance(op, ast.Constant) and isinstance(op.value, str)
                    and op.value not in DEVICE_TYPES for op in operands):
                hits.append(node.lineno)
                continue
        elif isinstance(node, ast.Dict):
            operands = [k for k in node.keys if k is not None]
        elif isinstance(node, ast.Subscript):
            operands = [node.slice]
        elif isinstance(node, ast.MatchValue):
            operands = [node.value]
        else:
            continue
        for op in operands:
            elts = op.elts if isinstance(op, (ast.Tuple, ast.List, ast.Set)) else [op]
            if any(isinstance(e, ast.Constant) and e.value in ITEM_TYPES for e in elts):
                hits.append(node.lineno)
                break
    return hits


def _names_a_type(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and (node.attr == "type" or (
        node.attr == "name" and isinstance(node.value, ast.Attribute)
        and node.value.attr == "kind"))


def test_the_scan_finds_string_dispatch():
    code = ('a = item.type == "likert"\nb = x.type in ("pairwise", "yes_no")\n'
            'c = {"free_text": 1}\nd = q.item.type != "slider"\ne = item.kind.name == "y"\n'
            'f = ITEM_TYPES["categorical"]\n'
            'g = dev.type == "cuda"\nh = item.kind.free_text\ni = event.type() == 3\n')
    assert _type_name_uses(ast.parse(code)) == [1, 2, 3, 4, 5, 6]


def test_no_module_tells_item_types_apart_by_name():
    hits = []
    for folder in ("harlab", "ui"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.relative_to(ROOT) == Path("harlab/rating/item_types.py"):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            hits += [f"{path.relative_to(ROOT)}:{line}" for line in _type_name_uses(tree)]
    assert not hits, ("read a field of item.kind (harlab.rating.item_types) instead of "
                      "comparing an item's type with a name:\n" + "\n".join(hits))


def test_the_shipped_rubrics_comment_lists_every_item_type():
    """resources/rubric.yaml documents the types by hand: adding one to ITEM_TYPES without
    the comment (or the reverse) fails here."""
    from pathlib import Path

    from harlab.rating.item_types import ITEM_TYPES

    text = (Path(__file__).resolve().parents[2] / "resources" / "rubric.yaml").read_text()
    line = next(t for t in text.splitlines() if t.startswith("#   type "))
    listed = [name.strip() for name in line.split(None, 2)[2].split("|")]
    assert listed == list(ITEM_TYPES), (f"resources/rubric.yaml lists types {listed}, "
                                        f"the registry has {list(ITEM_TYPES)}")
