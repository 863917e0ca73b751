"""The one safe way HARLab reads YAML: bounded in size, aliases, tags and message length.

Every YAML file a user can hand to HARLab (study configs, ``rubric.yaml``, scenarios, decision
rules) goes through this module, because plain ``yaml.safe_load`` is not safe against hostile
input: a 400-byte "billion laughs" alias bomb composes into a small graph whose *expansion*
(by ``repr``, ``str``, ``json.dumps`` or a walk over the values) takes gigabytes. Here:

* a file is read as bytes, at most :data:`MAX_YAML_BYTES`, and must be UTF-8 (the error gives
  the line and byte offset of the first bad byte);
* while composing, each node's *expanded* size (aliases counted at the full size of what they
  point to) is added up bottom-up, and a document over :data:`MAX_YAML_NODES` is refused at
  the node where it crosses the limit, before anything is expanded; an alias inside its own
  anchor (a recursive structure) is refused too;
* only the plain YAML tags (text, numbers, booleans, null, lists, mappings, timestamps) are
  accepted, so ``!!python/object`` and friends fail at compose time with their line;
* every message is cut to :data:`MAX_MESSAGE_CHARS`, and values are echoed via
  :func:`short_repr`.

Errors are raised as the caller's project error class (``error=``) so each reader keeps its
own type, and read ``SOURCE, line N: PROBLEM; HINT``.
"""

from __future__ import annotations

import reprlib
from pathlib import Path
from typing import Any

import yaml

from harlab.errors import InputError

MAX_YAML_BYTES = 1 << 20  # 1 MiB; HARLab's own YAML files are a few KB
MAX_YAML_NODES = 20_000  # expanded nodes; the bundled files hold fewer than 300
MAX_MESSAGE_CHARS = 500
_ALLOWED_TAGS = frozenset(
    {tag for tag in yaml.SafeLoader.yaml_constructors if tag is not None}
    | {"tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"})

_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 80
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 8
_repr.maxlevel = 3


def short_repr(value: Any) -> str:
    """``repr(value)`` cut to about 100 characters, without expanding large or shared values."""
    return _repr.repr(value)


def clip(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``message`` cut to ``limit`` characters, saying how much was left out."""
    if len(message) <= limit:
        return message
    return f"{message[:limit]}... [{len(message) - limit} more characters]"


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader that counts the expanded size of what it composes and refuses odd tags."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._sizes: dict[int, int] = {}
        self._created = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        is_alias = self.check_event(yaml.AliasEvent)
        mark = self.peek_event().start_mark
        node = super().compose_node(parent, index)
        if is_alias:
            if id(node) not in self._sizes:
                raise yaml.composer.ComposerError(
                    None, None, f"the alias *{self.anchor_of(node)} is inside its own anchor "
                                "(a recursive structure); HARLab's files never need one", mark)
            size = self._sizes[id(node)]
        else:
            self._created += 1
            if node.tag not in _ALLOWED_TAGS:
                raise yaml.composer.ComposerError(
                    None, None, f"the tag {clip(node.tag, 80)!r} is not allowed; only plain "
                                "YAML (text, numbers, true/false, lists, mappings) is read, "
                                "so remove the tag", node.start_mark)
            size = 1 + sum(self._sizes[id(child)] for child in _children(node))
            self._sizes[id(node)] = size
        if size > MAX_YAML_NODES or self._created > MAX_YAML_NODES:
            raise yaml.composer.ComposerError(
                None, None, f"the document expands to more than {MAX_YAML_NODES} values "
                            "(aliases such as *a count in full each time; an alias bomb looks "
                            "like this); write the values out plainly", mark)
        return node

    def anchor_of(self, node: Any) -> str:
        return next((name for name, n in self.anchors.items() if n is node), "?")


def _children(node: Any) -> list[Any]:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _line_of(exc: yaml.YAMLError, text: str) -> int:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return mark.line + 1
    position = getattr(exc, "position", None)  # ReaderError: a character index, no mark
    if isinstance(position, int):
        return text.count("\n", 0, position) + 1
    return 1


def _problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.reader.ReaderError) and isinstance(exc.character, int):
        return (f"unacceptable character #x{exc.character:04x} (control characters are not "
                "allowed; remove it)")
    return str(getattr(exc, "problem", None) or exc)


def compose_yaml(text: str, source: str, *, error: type[InputError] = InputError,
                 hint: str = "") -> Any:
    """The node tree of ``text`` (None for an empty document), within this module's bounds.

    Raises:
        error: ``SOURCE, line N: not valid YAML (PROBLEM); HINT`` for bad syntax, a refused
            tag, a recursive alias or a document too large.
    """
    if len(text) > MAX_YAML_BYTES:
        raise error(clip(f"{source}: {len(text)} characters, more than the limit of "
                         f"{MAX_YAML_BYTES} for a YAML file; check that this is the right "
                         "file"))
    loader = None
    try:
        loader = _BoundedLoader(text)  # checks the characters already
        return loader.get_single_node()
    except yaml.YAMLError as exc:
        tail = f"; {hint}" if hint else ""
        raise error(clip(f"{source}, line {_line_of(exc, text)}: not valid YAML "
                         f"({clip(_problem(exc), 300)}){tail}")) from exc
    finally:
        if loader is not None:
            loader.dispose()


def construct_yaml(node: Any, source: str, *, error: type[InputError] = InputError) -> Any:
    """The Python value of a node from :func:`compose_yaml` (None for None)."""
    if node is None:
        return None
    loader = _BoundedLoader("")
    try:
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise error(clip(f"{source}, line {_line_of(exc, '')}: {_problem(exc)}")) from exc
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        # an explicit tag that does not fit its value, e.g. ``!!int ten``
        raise error(clip(f"{source}, line {node.start_mark.line + 1}: a value does not fit its "
                         f"tag ({exc}); remove the !!tag")) from exc
    finally:
        loader.dispose()


def load_yaml(text: str, source: str, *, error: type[InputError] = InputError,
              hint: str = "") -> Any:
    """``yaml.safe_load`` within this module's bounds; errors name ``source`` and the line."""
    return construct_yaml(compose_yaml(text, source, error=error, hint=hint), source,
                          error=error)


def read_yaml_text(path: str | Path, what: str, *, error: type[InputError] = InputError,
                   hint: str = "give the path of a readable .yaml file") -> str:
    """The text of a YAML file: at most :data:`MAX_YAML_BYTES`, and UTF-8.

    Args:
        what: what the file is, for the messages (e.g. ``"study config"``).
        hint: the fix when the file cannot be read at all.

    Raises:
        error: naming the file: unreadable, too large, or not UTF-8 (with line and byte).
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_YAML_BYTES + 1)
    except OSError as exc:
        raise error(clip(f"{what} {str(path)!r} cannot be read ({exc.strerror or exc}); "
                         f"{hint}")) from exc
    if len(data) > MAX_YAML_BYTES:
        raise error(clip(f"{what} {str(path)!r} is larger than the limit of {MAX_YAML_BYTES} "
                         "bytes for a YAML file; check that this is the right file"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(clip(f"{path}, line {line}: byte {exc.start} (0x{data[exc.start]:02x}) is "
                         f"not UTF-8; the {what} must be UTF-8 text, so save it as UTF-8 "
                         "(e.g. 'Save with encoding' in your editor)")) from exc
