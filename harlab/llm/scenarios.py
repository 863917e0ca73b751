"""Scenarios: the role a language model plays for a class, and its two prompts.

A scenario is a small YAML file (see ``resources/scenarios/``)::

    name: smart-home-security
    title: Smart home security assistant
    source: paper (Figure 2)
    classes: [BabyCrawling]           # the true labels it applies to
    fallback: false                   # true: used for every class no scenario lists
    role: smart home security assistant
    system: null                      # optional system message
    unimodal: "... the analysis results ... are {label}, can you ...?"
    multimodal: "... could you please analyze the frames ...?"

``unimodal`` must contain ``{label}`` (the clean or the adversarial label); both templates may
use ``{role}``; ``multimodal`` may not use ``{label}`` (the frames alone must carry the
action). A project may hold its own edited copies in ``PROJECT/scenarios/``; otherwise the
bundled ones are used.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harlab.errors import InputError
from harlab.paths import RESOURCES
from harlab.yamlio import compose_yaml, construct_yaml, read_yaml_text, short_repr

BUNDLED_DIR = RESOURCES / "scenarios"
FIELDS = ("name", "title", "source", "classes", "fallback", "role", "system", "unimodal",
          "multimodal")
REQUIRED = ("name", "role", "unimodal", "multimodal")
PLACEHOLDERS = {"unimodal": ("label", "role"), "multimodal": ("role",), "system": ("role",)}
# The paper's prompts are about 400 characters. A template may repeat {role}, so the rendered
# prompt is bounded too: a 30 MB prompt would be sent (and paid for) as is.
MAX_TEMPLATE_CHARS = 20_000
MAX_PROMPT_CHARS = 50_000


class ScenarioError(InputError):
    """A scenario file is malformed; the message names the file and the line at fault."""


@dataclass(frozen=True)
class Scenario:
    """One role and its prompt templates (see the module docstring for the fields)."""

    name: str
    role: str
    unimodal: str
    multimodal: str
    classes: tuple[str, ...] = ()
    fallback: bool = False
    title: str = ""
    source: str = ""
    system: str | None = None
    path: Path | None = field(default=None, compare=False)

    def unimodal_prompt(self, label: str) -> str:
        return self._render("unimodal", label=label, role=self.role)

    def multimodal_prompt(self) -> str:
        return self._render("multimodal", role=self.role)

    def system_prompt(self) -> str | None:
        if not self.system:
            return None
        return self._render("system", role=self.role)

    def _render(self, key: str, **values: str) -> str:
        template = getattr(self, key)
        size = _rendered_size(template, values)  # before rendering: never build a huge text
        if size > MAX_PROMPT_CHARS:
            raise ScenarioError(_too_long_prompt(self.name, key, size)
                                + f" ({self.path or 'no file'})")
        return template.format(**values)


def _rendered_size(template: str, values: dict[str, str]) -> int:
    return sum(len(literal) + (len(values[name]) if name is not None else 0)
               for literal, name, _, _ in string.Formatter().parse(template))


def _too_long_prompt(name: str, key: str, size: int) -> str:
    return (f"the {key} prompt of scenario {name!r} is {size} characters, over the limit of "
            f"{MAX_PROMPT_CHARS} characters; shorten the template or the role (each {{role}} "
            "repeats it), or the label")


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Parse and validate one scenario; errors name ``source`` and the line at fault."""
    node = compose_yaml(text, source, error=ScenarioError,
                        hint="expected 'key: value' lines as in resources/scenarios/")
    data = construct_yaml(node, source, error=ScenarioError)
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise ScenarioError(f"{source}, line 1: expected a mapping of fields "
                            f"({', '.join(REQUIRED)} ...), got {type(data).__name__}")
    lines = {k.value: v.start_mark.line + 1 for k, v in node.value
             if isinstance(k, yaml.ScalarNode)}
    spans = {k.value: (v.start_mark.line, v.end_mark.line) for k, v in node.value
             if isinstance(k, yaml.ScalarNode)}
    text_lines = text.splitlines()
    end_line = len(text_lines) + 1

    def fail(key: str | None, message: str, needle: str | None = None) -> ScenarioError:
        line = lines.get(key, end_line) if key else end_line
        if needle and key in spans:  # point at the template line holding the bad text
            first, last = spans[key]
            for n in range(first, min(last + 1, len(text_lines))):
                if needle in text_lines[n]:
                    line = n + 1
                    break
        return ScenarioError(f"{source}, line {line}: {message}")

    for key in data:
        if key not in FIELDS:
            raise fail(key, f"unknown field {short_repr(key)}; valid fields: "
                            f"{', '.join(FIELDS)}")
    for key in REQUIRED:
        if key not in data or data[key] in (None, ""):
            raise fail(None if key not in data else key,
                       f"missing field {key!r}; a scenario needs {', '.join(REQUIRED)}")
    for key in ("name", "role", "unimodal", "multimodal", "title", "source", "system"):
        if key in data and data[key] is not None and not isinstance(data[key], str):
            raise fail(key, f"{key} must be text, got {short_repr(data[key])}")
    classes = data.get("classes") or []
    if isinstance(classes, str):
        classes = [classes]
    if not isinstance(classes, list) or not all(isinstance(c, str) and c for c in classes):
        raise fail("classes", f"classes must be a list of class names such as [Biking], got "
                              f"{short_repr(data.get('classes'))}")
    fallback = data.get("fallback", False)
    if not isinstance(fallback, bool):
        raise fail("fallback", f"fallback must be true or false, got {short_repr(fallback)}")
    if not classes and not fallback:
        raise fail("classes", "a scenario must list its classes (e.g. classes: [Biking]) or "
                              "be the fallback (fallback: true)")
    name = data["name"].strip()
    for key, allowed in PLACEHOLDERS.items():
        if data.get(key):
            if len(data[key]) > MAX_TEMPLATE_CHARS:
                raise fail(key, f"the {key} template of scenario {name!r} is {len(data[key])} "
                                f"characters, over the limit of {MAX_TEMPLATE_CHARS} characters;"
                                " shorten it")
            _check_template(data[key], allowed, key,
                            lambda msg, needle=None, k=key: fail(k, msg, needle))
            # the label is unknown here: count it as empty, and the role in full
            size = _rendered_size(data[key], {"label": "", "role": data["role"].strip()})
            if size > MAX_PROMPT_CHARS:
                raise fail(key, _too_long_prompt(name, key, size))
    if "{label}" not in data["unimodal"].replace("{{", "").replace("}}", ""):
        raise fail("unimodal", "the unimodal template must contain {label}, where the "
                               "clean or adversarial label goes")
    return Scenario(name=name, role=data["role"].strip(),
                    unimodal=data["unimodal"].strip(), multimodal=data["multimodal"].strip(),
                    classes=tuple(classes), fallback=fallback,
                    title=(data.get("title") or data["name"]).strip(),
                    source=(data.get("source") or "").strip(),
                    system=(data.get("system") or None))


def _check_template(template: str, allowed: Iterable[str], key: str, fail: Any) -> None:
    allowed = tuple(allowed)
    try:
        fields = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(template)
                  if f is not None]
    except ValueError as exc:
        raise fail(f"{key} template is malformed ({exc}); write a literal brace as {{{{ or "
                   "}}") from exc
    for name, spec, conversion in fields:
        if spec or conversion:  # e.g. {role:>9999999} would pad the prompt to any size
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (
                f":{spec}" if spec else "") + "}"
            raise fail(f"placeholder {shown} in the {key} template has a format spec or "
                       f"conversion; write it plainly as {{{name}}}", shown)
        if name not in allowed:
            shown = "{" + name + "}" if name else "{}"
            raise fail(f"unknown placeholder {shown} in the {key} template; allowed: "
                       f"{', '.join('{' + a + '}' for a in allowed)}", shown)


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    text = read_yaml_text(path, "scenario file", error=ScenarioError,
                          hint="expected a YAML file")
    scenario = parse_scenario(text, source=str(path))
    return Scenario(**{**scenario.__dict__, "path": path})


class ScenarioSet:
    """The scenarios of a folder, looked up by class name."""

    def __init__(self, scenarios: Iterable[Scenario]):
        self.scenarios = list(scenarios)
        self._by_class: dict[str, Scenario] = {}
        self.fallback: Scenario | None = None
        for sc in self.scenarios:
            for cls in sc.classes:
                other = self._by_class.get(cls)
                if other is not None:
                    raise ScenarioError(f"class {cls!r} is listed by two scenarios, "
                                        f"{other.name!r} ({other.path}) and {sc.name!r} "
                                        f"({sc.path}); keep it in one of them")
                self._by_class[cls] = sc
            if sc.fallback:
                if self.fallback is not None:
                    raise ScenarioError(f"two fallback scenarios, {self.fallback.name!r} and "
                                        f"{sc.name!r}; set fallback: false in one of them")
                self.fallback = sc

    def for_label(self, label: str) -> Scenario | None:
        """The scenario for a true label, else the fallback, else None."""
        return self._by_class.get(label, self.fallback)

    def __iter__(self):
        return iter(self.scenarios)

    def __len__(self) -> int:
        return len(self.scenarios)


def load_scenarios(folder: str | Path | None = None) -> ScenarioSet:
    """Every ``*.yaml`` / ``*.yml`` in ``folder`` (default: the bundled ones), sorted by name."""
    folder = Path(folder) if folder is not None else BUNDLED_DIR
    if not folder.is_dir():
        raise ScenarioError(f"scenario folder {str(folder)!r} does not exist; expected a folder "
                            "of .yaml files such as resources/scenarios/")
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    return ScenarioSet(load_scenario(p) for p in files)


def project_scenarios_dir(project_root: str | Path) -> Path:
    return Path(project_root) / "scenarios"


def scenarios_for_project(project_root: str | Path) -> ScenarioSet:
    """The project's own scenarios when it has any, else the bundled ones."""
    folder = project_scenarios_dir(project_root)
    if folder.is_dir() and any(folder.glob("*.y*ml")):
        return load_scenarios(folder)
    return load_scenarios(BUNDLED_DIR)


def save_scenario(folder: str | Path, filename: str, text: str) -> Scenario:
    """Validate ``text`` and write it as ``folder/filename``; nothing is written if invalid.

    The first save into a project copies the bundled scenarios there, so the project keeps a
    complete, self-contained set.
    """
    folder = Path(folder)
    if not filename.endswith((".yaml", ".yml")) or "/" in filename or "\\" in filename:
        raise InputError(f"scenario file name must be a plain name ending in .yaml, got "
                         f"{filename!r}")
    scenario = parse_scenario(text, source=filename)
    if not folder.is_dir() or not any(folder.glob("*.y*ml")):
        folder.mkdir(parents=True, exist_ok=True)
        for src in BUNDLED_DIR.glob("*.yaml"):
            if not (folder / src.name).exists():
                (folder / src.name).write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    others = [load_scenario(p) for p in sorted(folder.glob("*.y*ml")) if p.name != filename]
    path = folder / filename
    ScenarioSet([*others, Scenario(**{**scenario.__dict__, "path": path})])  # conflicts?
    path.write_text(text, encoding="utf-8")
    return Scenario(**{**scenario.__dict__, "path": path})
