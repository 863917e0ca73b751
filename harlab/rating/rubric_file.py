"""Reading ``rubric.yaml``: every error names the file and the line at fault."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harlab.paths import RESOURCES
from harlab.rating.item_types import ITEM_TYPES, ItemSource, type_fields
from harlab.rating.rubric import _ID, Rubric, RubricError, RubricItem
from harlab.yamlio import compose_yaml, construct_yaml, read_yaml_text, short_repr

BUNDLED_RUBRIC = RESOURCES / "rubric.yaml"
TOP_FIELDS = ("version", "title", "items")
COMMON_FIELDS = ("id", "type", "prompt", "required", "per_response")
ITEM_FIELDS = (*COMMON_FIELDS, *type_fields())
BOOL_FIELDS = ("required", "per_response",
               *dict.fromkeys(k for t in ITEM_TYPES.values() for k in t.bool_keys))


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
    item_id, name = values["id"].strip(), values["type"].strip()
    if not _ID.match(item_id):
        raise fail(f["id"], f"item id {item_id!r} must start with a letter and hold only "
                            "letters, digits and _ (at most 40)")
    if name not in ITEM_TYPES:
        raise fail(f["type"], f"unknown item type {name!r}; valid types: "
                              f"{', '.join(ITEM_TYPES)}")
    kind = ITEM_TYPES[name]
    for key in BOOL_FIELDS:
        if key in values and not isinstance(values[key], bool):
            raise fail(f[key], f"{key} must be true or false, got {short_repr(values[key])}")
    for key in type_fields():
        if key in values and key not in kind.yaml_keys:
            owners = " and ".join(t.name for t in ITEM_TYPES.values() if key in t.yaml_keys)
            raise fail(f[key], f"{key!r} applies to {owners} items only, not {name}")
    if values.get("per_response") and not kind.per_response:
        why = "compares A and B" if kind.names_sides else "is asked once per pair"
        raise fail(f["per_response"], f"a {name} item {why}; it cannot be per_response")

    def fail_at(field: str, message: str) -> RubricError:
        return fail(f.get(field, node), message)

    def fail_key(field: str, key: Any, message: str) -> RubricError:
        return fail({_scalar(k): k for k, _ in f[field].value}.get(key), message)

    extra = kind.build(ItemSource(item_id, values, fail_at, fail_key))
    return RubricItem(id=item_id, type=name, prompt=values["prompt"].strip(),
                      required=values.get("required", True),
                      per_response=values.get("per_response", False), **extra)


def rubric_yaml(rubric: Rubric) -> str:
    """``rubric`` as ``rubric.yaml`` text: :func:`parse_rubric` reads it back equal."""
    items = []
    for item in rubric.items:
        entry: dict[str, Any] = {"id": item.id, "type": item.type, "prompt": item.prompt,
                                 "required": item.required, "per_response": item.per_response}
        entry.update({k: _plain(getattr(item, k)) for k in item.kind.yaml_keys})
        items.append(entry)
    return yaml.safe_dump({"version": rubric.version, "title": rubric.title, "items": items},
                          sort_keys=False, allow_unicode=True)


def _plain(value: Any) -> Any:
    # RubricItem keeps tuples (hashable); YAML wants lists, and pairs as a mapping
    if isinstance(value, tuple) and value and all(isinstance(v, tuple) and len(v) == 2
                                                  for v in value):
        return dict(value)
    return list(value) if isinstance(value, tuple) else value
