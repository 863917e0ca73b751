"""Reading ``rubric.yaml``: every error names the file and the line at fault."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harlab.paths import RESOURCES
from harlab.rating.rubric import _ID, ITEM_TYPES, Rubric, RubricError, RubricItem
from harlab.yamlio import compose_yaml, construct_yaml, read_yaml_text, short_repr

BUNDLED_RUBRIC = RESOURCES / "rubric.yaml"
TOP_FIELDS = ("version", "title", "items")
ITEM_FIELDS = ("id", "type", "prompt", "required", "per_response", "scale", "anchors",
               "choices", "ordered")


def load_rubric(project_root: str | Path | None = None) -> Rubric:
    """The project's own ``rubric.yaml`` when it has one, else the bundled rubric."""
    path = BUNDLED_RUBRIC
    if project_root is not None and (Path(project_root) / "rubric.yaml").is_file():
        path = Path(project_root) / "rubric.yaml"
    text = read_yaml_text(path, "rubric", error=RubricError,
                          hint="restore the file, or delete the project's copy to use the "
                               "bundled one")
    return parse_rubric(text, source=str(path), path=path)


def parse_rubric(text: str, source: str = "<rubric>", path: Path | None = None) -> Rubric:
    """Parse and validate a rubric; errors name ``source`` and the line at fault."""
    root = compose_yaml(text, source, error=RubricError,
                        hint="expected the layout of resources/rubric.yaml")
    construct_yaml(root, source, error=RubricError)  # a value that cannot be built names its line

    def fail(node: Any, message: str) -> RubricError:
        line = node.start_mark.line + 1 if node is not None else 1
        return RubricError(f"{source}, line {line}: {message}")

    if not isinstance(root, yaml.MappingNode):
        raise fail(root, "expected a mapping with version, title and items, as in "
                         "resources/rubric.yaml")
    fields = _fields(root, TOP_FIELDS, fail, "rubric")
    version_node = fields.get("version")
    if version_node is None:
        raise fail(root, "missing 'version'; add e.g. version: \"1\" (bump it when questions "
                         "change)")
    version = _scalar(version_node)
    if not isinstance(version, (str, int, float)) or not str(version).strip():
        raise fail(version_node, f"version must be text such as \"1\", got "
                                 f"{short_repr(version)}")
    title = _scalar(fields["title"]) if "title" in fields else ""
    items_node = fields.get("items")
    if not isinstance(items_node, yaml.SequenceNode) or not items_node.value:
        raise fail(items_node or root, "'items' must be a non-empty list of questions")
    items: list[RubricItem] = []
    for node in items_node.value:
        item = _parse_item(node, fail)
        if any(i.id == item.id for i in items):
            raise fail(node, f"duplicate item id {item.id!r}; ids must be unique")
        items.append(item)
    return Rubric(version=str(version).strip(), items=tuple(items), title=str(title or ""),
                  path=path)


def _fields(node: yaml.MappingNode, allowed: tuple[str, ...], fail: Any,
            what: str) -> dict[str, Any]:
    out = {}
    for key, value in node.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else None
        if name not in allowed:
            raise fail(key, f"unknown {what} field {short_repr(name)}; valid fields: "
                            f"{', '.join(allowed)}")
        out[name] = value
    return out


def _scalar(node: Any) -> Any:
    # compose_yaml already refused odd tags and alias bombs, so constructing is safe here
    return construct_yaml(node, "<rubric>", error=RubricError)


def _parse_item(node: Any, fail: Any) -> RubricItem:
    if not isinstance(node, yaml.MappingNode):
        raise fail(node, "each item must be a mapping with id, type and prompt")
    f = _fields(node, ITEM_FIELDS, fail, "item")
    values = {k: _scalar(v) for k, v in f.items()}
    for key in ("id", "type", "prompt"):
        if not isinstance(values.get(key), str) or not values[key].strip():
            raise fail(f.get(key, node), f"item needs a text {key!r}, got "
                                         f"{short_repr(values.get(key))}")
    item_id, kind = values["id"].strip(), values["type"].strip()
    if not _ID.match(item_id):
        raise fail(f["id"], f"item id {item_id!r} must start with a letter and hold only "
                            "letters, digits and _ (at most 40)")
    if kind not in ITEM_TYPES:
        raise fail(f["type"], f"unknown item type {kind!r}; valid types: "
                              f"{', '.join(ITEM_TYPES)}")
    for key in ("required", "per_response", "ordered"):
        if key in values and not isinstance(values[key], bool):
            raise fail(f[key], f"{key} must be true or false, got {short_repr(values[key])}")
    for key, only in (("scale", "likert"), ("anchors", "likert"), ("choices", "categorical"),
                      ("ordered", "categorical")):
        if key in values and kind != only:
            raise fail(f[key], f"{key!r} applies to {only} items only, not {kind}")
    if values.get("per_response") and kind == "pairwise":
        raise fail(f["per_response"], "a pairwise item compares A and B; it cannot be "
                                      "per_response")
    extra: dict[str, Any] = {}
    if kind == "likert":
        extra = _likert(values, f, node, fail)
    elif kind == "categorical":
        choices = values.get("choices")
        if (not isinstance(choices, list) or len(choices) < 2
                or not all(isinstance(c, str) and c.strip() for c in choices)
                or len({c.strip().lower() for c in choices}) != len(choices)):
            raise fail(f.get("choices", node), f"categorical item {item_id!r} needs 'choices':"
                                               " a list of at least two distinct names")
        extra = {"choices": tuple(c.strip() for c in choices),
                 "ordered": values.get("ordered", False)}
    return RubricItem(id=item_id, type=kind, prompt=values["prompt"].strip(),
                      required=values.get("required", True),
                      per_response=values.get("per_response", False), **extra)


def _likert(values: dict[str, Any], f: dict[str, Any], node: Any, fail: Any) -> dict[str, Any]:
    scale = values.get("scale")
    if (not isinstance(scale, list) or len(scale) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in scale)
            or not 0 <= scale[0] < scale[1] <= scale[0] + 9):
        raise fail(f.get("scale", node), f"likert 'scale' must be [min, max] with integers, "
                                         f"min < max and at most 10 points (one key each), "
                                         f"got {short_repr(scale)}")
    anchors = values.get("anchors")
    if not isinstance(anchors, dict) or not anchors:
        raise fail(f.get("anchors", node), "likert items need 'anchors': {value: meaning}, "
                                           "at least for both ends of the scale")
    nodes = {_scalar(k): k for k, _ in f["anchors"].value}
    for key, label in anchors.items():
        if not isinstance(key, int) or not scale[0] <= key <= scale[1]:
            raise fail(nodes.get(key), f"anchor {key!r} is not a point of the scale "
                                       f"{scale[0]}..{scale[1]}")
        if not isinstance(label, str) or not label.strip():
            raise fail(nodes.get(key), f"anchor {key} needs a text meaning, got "
                                       f"{short_repr(label)}")
    if scale[0] not in anchors or scale[1] not in anchors:
        raise fail(f["anchors"], f"anchors must name both ends of the scale ({scale[0]} and "
                                 f"{scale[1]})")
    return {"scale": (scale[0], scale[1]),
            "anchors": tuple(sorted((k, v.strip()) for k, v in anchors.items()))}
