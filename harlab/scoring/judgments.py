"""Judgments beyond cosine: which action an answer names, and what it recommends.

Cosine barely notices a changed action (the paper's own finding), so two more readings of each
answer are stored:

* **label mention**: does the answer name the true action, the adversarial one, both or
  neither. A class name such as ``BabyCrawling`` matches its split words ("baby crawling"),
  case-insensitively, joined by spaces, hyphens, underscores or nothing, with simple plurals
  ("babies crawling", "push-ups").
* **decision**: ``alert``, ``no_alert`` or ``unclear``, by the keyword rules of
  ``resources/decision_rules.yaml`` (see that file for the rule and how to edit it).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex
import yaml

from harlab.errors import InputError
from harlab.paths import RESOURCES
from harlab.yamlio import compose_yaml, load_yaml, read_yaml_text, short_repr

DEFAULT_RULES_PATH = RESOURCES / "decision_rules.yaml"
DECISIONS = ("alert", "no_alert", "unclear")
MENTIONS = ("true", "adversarial", "both", "neither")
LABEL_SCORER = "label-mention-v1"
_RULE_KEYS = ("alert", "no_alert")
_TOP_KEYS = ("version", "default", "scenarios")
# Rules stay regular expressions (the bundled rules and users' copies rely on alternation and
# optional words, and a keyword-only format would change every scorer version), so instead of
# restricting them each one is matched with a time limit. The ``regex`` package (installed
# with transformers) is a drop-in for ``re`` whose matching takes a ``timeout``; ``re`` cannot
# be interrupted, so a pattern such as ``(a|a)*$`` would hang the scoring stage for hours.
RULE_TIMEOUT_S = 0.5


# ---------------------------------------------------------------------------- label mention
def label_words(label: str) -> list[str]:
    """``"ApplyEyeMakeup"`` -> ``["apply", "eye", "makeup"]``; ``"YoYo"`` -> ``["yo", "yo"]``."""
    words = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", label)
    return [w.lower() for w in words]


def _word_pattern(word: str) -> str:
    if len(word) > 2 and word.endswith("y") and word[-2] not in "aeiou":
        return re.escape(word[:-1]) + "(?:y|ies)"
    if word.endswith("s"):
        return re.escape(word) + "(?:es)?"
    return re.escape(word) + "(?:e?s)?"


def label_pattern(label: str) -> re.Pattern[str]:
    """A case-insensitive regex for a class name written as words (see module docstring)."""
    words = label_words(label)
    if not words:
        raise InputError(f"class name {label!r} has no letters or digits to look for; expected "
                         "a UCF-101 style name such as 'BabyCrawling'")
    body = r"[\s\-_]*".join(_word_pattern(w) for w in words)
    return re.compile(rf"(?<![^\W_]){body}(?![^\W_])", re.IGNORECASE)


def mentions(text: str | None, label: str) -> bool:
    """Whether ``text`` names the action ``label``."""
    return bool(text) and label_pattern(label).search(text) is not None


def label_mention(text: str | None, true_label: str, adv_label: str) -> str:
    """``true``, ``adversarial``, ``both`` or ``neither``: the actions ``text`` names."""
    t, a = mentions(text, true_label), mentions(text, adv_label)
    return {(True, True): "both", (True, False): "true", (False, True): "adversarial",
            (False, False): "neither"}[(t, a)]


# ---------------------------------------------------------------------------- decision rules
@dataclass(frozen=True)
class RuleSet:
    """The alert / no-alert patterns of one scenario (or the default)."""

    name: str
    alert: tuple[str, ...]
    no_alert: tuple[str, ...]
    _compiled: dict[str, list[tuple[str, Any]]] = field(default_factory=dict, compare=False,
                                                        repr=False)

    def __post_init__(self) -> None:
        for key in _RULE_KEYS:
            self._compiled[key] = [(p, regex.compile(rf"\b(?:{p})\b", regex.IGNORECASE))
                                   for p in getattr(self, key)]

    @property
    def version(self) -> str:
        """A short hash of the patterns: a changed rule is a new scorer, so scores are added."""
        text = json.dumps([self.alert, self.no_alert])
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def decide(self, text: str | None) -> tuple[str, dict[str, list[str]]]:
        """The decision for ``text`` and the phrases that matched.

        The no-alert phrases are matched first and blanked out, so "not in any danger" does not
        also count as the alert word "danger"; then the alert phrases are counted in what is
        left. More alert than no-alert matches gives ``alert``, fewer ``no_alert``, a tie
        (including none at all) ``unclear``.
        """
        if not text or not text.strip():
            return "unclear", {"alert": [], "no_alert": []}
        hits: dict[str, list[str]] = {"alert": [], "no_alert": []}
        rest = text
        for source, pattern in self._compiled["no_alert"]:
            try:
                hits["no_alert"] += [m.group(0) for m in
                                     pattern.finditer(rest, timeout=RULE_TIMEOUT_S)]
                rest = pattern.sub(lambda m: " " * len(m.group(0)), rest,
                                   timeout=RULE_TIMEOUT_S)
            except TimeoutError as exc:
                raise self._too_slow(source, "no_alert", len(text)) from exc
        for source, pattern in self._compiled["alert"]:
            try:
                hits["alert"] += [m.group(0) for m in
                                  pattern.finditer(rest, timeout=RULE_TIMEOUT_S)]
            except TimeoutError as exc:
                raise self._too_slow(source, "alert", len(text)) from exc
        n_alert, n_no = len(hits["alert"]), len(hits["no_alert"])
        decision = "alert" if n_alert > n_no else "no_alert" if n_no > n_alert else "unclear"
        return decision, hits

    def _too_slow(self, source: str, key: str, size: int) -> InputError:
        return InputError(f"decision rule {short_repr(source)} in {self.name}.{key} took more "
                          f"than {RULE_TIMEOUT_S} s on an answer of {size} characters "
                          "(catastrophic backtracking: a repeat inside a repeat whose "
                          "alternatives overlap, such as (a|aa)+); rewrite it as plain "
                          "phrases or alternatives without nested repeats")


@dataclass(frozen=True)
class DecisionRules:
    """Rule sets by scenario name, with a default for the rest."""

    default: RuleSet
    scenarios: dict[str, RuleSet]
    source: str = ""

    def for_scenario(self, name: str | None) -> RuleSet:
        return self.scenarios.get(name, self.default) if name else self.default


def _fail(source: str, node: Any, message: str) -> InputError:
    line = node.start_mark.line + 1 if node is not None else 1
    return InputError(f"{source}, line {line}: {message}. Fix that line (see the comments at "
                      f"the top of resources/decision_rules.yaml for the format).")


def _rule_set(name: str, node: Any, source: str, base: RuleSet | None) -> RuleSet:
    if not isinstance(node, yaml.MappingNode):
        raise _fail(source, node, f"rules for {name!r} must be a mapping with the keys "
                                  "alert and no_alert")
    found: dict[str, tuple[str, ...]] = {}
    for key_node, value_node in node.value:
        key = key_node.value
        if key not in _RULE_KEYS:
            raise _fail(source, key_node, f"unknown key {key!r} in the rules for {name!r}; "
                                          f"expected {' or '.join(_RULE_KEYS)}")
        if not isinstance(value_node, yaml.SequenceNode) or not value_node.value:
            raise _fail(source, value_node, f"{name}.{key} must be a non-empty list of "
                                            "phrases")
        patterns = []
        for item in value_node.value:
            if not isinstance(item, yaml.ScalarNode) or not str(item.value).strip():
                raise _fail(source, item, f"{name}.{key} entries must be non-empty phrases")
            try:
                regex.compile(item.value)
            except regex.error as exc:
                raise _fail(source, item, f"{item.value!r} in {name}.{key} is not a valid "
                                          f"regular expression ({exc})") from exc
            patterns.append(str(item.value))
        found[key] = tuple(patterns)
    for key in _RULE_KEYS:
        if key not in found:
            if base is None:
                raise _fail(source, node, f"the rules for {name!r} lack the key {key!r}")
            found[key] = getattr(base, key)
    return RuleSet(name, found["alert"], found["no_alert"])


def parse_decision_rules(text: str, source: str = "<decision rules>") -> DecisionRules:
    """Parse and check a rules file; errors name the line at fault."""
    root = compose_yaml(text, source, error=InputError, hint="fix that line")
    if not isinstance(root, yaml.MappingNode):
        raise _fail(source, root, "expected a mapping with the keys version, default and "
                                  "scenarios")
    nodes = {}
    for key_node, value_node in root.value:
        if key_node.value not in _TOP_KEYS:
            raise _fail(source, key_node, f"unknown key {key_node.value!r}; expected one of "
                                          f"{', '.join(_TOP_KEYS)}")
        nodes[key_node.value] = value_node
    if "default" not in nodes:
        raise _fail(source, root, "no 'default' rules; add default: with alert and no_alert")
    default = _rule_set("default", nodes["default"], source, None)
    scenarios: dict[str, RuleSet] = {}
    scen = nodes.get("scenarios")
    if scen is not None and not (isinstance(scen, yaml.ScalarNode) and scen.value in ("", "~")):
        if not isinstance(scen, yaml.MappingNode):
            raise _fail(source, scen, "scenarios must map scenario names to rules")
        for key_node, value_node in scen.value:
            scenarios[key_node.value] = _rule_set(key_node.value, value_node, source, default)
    return DecisionRules(default, scenarios, source)


def load_decision_rules(path: str | Path | None = None) -> DecisionRules:
    """The rules in ``path`` (default: the bundled ``resources/decision_rules.yaml``)."""
    path = Path(path) if path is not None else DEFAULT_RULES_PATH
    text = read_yaml_text(path, "decision rules file",
                          hint=f"expected a YAML file like {DEFAULT_RULES_PATH}")
    return parse_decision_rules(text, source=str(path))


def decision_changed(a: str, b: str) -> tuple[float | None, str | None]:
    """1.0 when the decision flipped, 0.0 when it held, None ("unclear") otherwise."""
    if "unclear" in (a, b):
        return None, "unclear"
    return (1.0 if a != b else 0.0), None


# ---------------------------------------------------------------------------- scenarios
def scenario_lookup(project_root: str | Path | None) -> dict[str, Any]:
    """Class name -> scenario name, plus the key ``None`` for the fallback scenario.

    Reads the same files the query stage uses (the project's ``scenarios/`` when it holds any,
    else the bundled ones), leniently: only ``name``, ``classes`` and ``fallback`` are needed,
    and a file the query stage would reject is skipped.
    """
    folder = Path(project_root) / "scenarios" if project_root is not None else None
    if folder is None or not folder.is_dir() or not any(folder.glob("*.y*ml")):
        folder = RESOURCES / "scenarios"
    lookup: dict[Any, Any] = {None: None}
    for path in sorted(folder.glob("*.y*ml")):
        try:
            data = load_yaml(read_yaml_text(path, "scenario file"), str(path))
        except InputError:  # unreadable, not UTF-8, not YAML or too large: skipped, as before
            continue
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            continue
        for cls in data.get("classes") or []:
            lookup.setdefault(str(cls), data["name"])
        if data.get("fallback"):
            lookup[None] = data["name"]
    return lookup
