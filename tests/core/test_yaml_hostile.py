"""Hostile YAML and config inputs (issue 17): alias bombs, odd tags, non-UTF-8 files, huge
prompts and catastrophic regular expressions are refused fast, in bounded memory, with a
message naming the file and line."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from harlab.errors import InputError
from harlab.llm.scenarios import ScenarioError, load_scenario, parse_scenario
from harlab.rating.rubric import RubricError
from harlab.rating.rubric_file import load_rubric, parse_rubric
from harlab.scoring.judgments import load_decision_rules, parse_decision_rules, scenario_lookup
from harlab.study.config import StudyConfig, StudyConfigError
from harlab.yamlio import MAX_MESSAGE_CHARS, MAX_YAML_BYTES, load_yaml, read_yaml_text

SCENARIO = """\
name: home
role: assistant
classes: [Biking]
unimodal: "As a {role}, the label is {label}. Is it safe?"
multimodal: "As a {role}, is it safe?"
"""
RUBRIC = """\
version: "1"
title: t
items:
  - id: ok
    type: yes_no
    prompt: Fine?
"""
RULES = "default:\n  alert: [danger]\n  no_alert: [safe]\n"


def bomb(levels: int = 9) -> str:
    """A billion-laughs list: ``levels`` anchors, each nine aliases of the one before."""
    parts = ["&l0 [" + ",".join(["lol"] * 9) + "]"]
    parts += [f"&l{n} [" + ",".join([f"*l{n - 1}"] * 9) + "]" for n in range(1, levels)]
    return "[" + ",".join(parts) + "]"


def refused_quickly(call, error=InputError, match="expands to more than"):
    """Run ``call``; it must raise ``error`` within 2 s, under 50 MB, with a short message."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(error, match=match) as info:
            call()
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert elapsed < 2.0, f"took {elapsed:.2f} s"
    assert peak < 50 * 2**20, f"peak {peak / 2**20:.0f} MB"
    assert len(message) <= MAX_MESSAGE_CHARS + 40
    return message


# ------------------------------------------------------------------------- 1. alias bombs
def test_bomb_is_about_400_bytes():
    assert 250 < len(bomb()) < 450


@pytest.mark.parametrize("levels", [9, 12])
def test_study_config_bomb_is_refused(tmp_path, levels):
    path = tmp_path / "study.yaml"
    path.write_text(f"name: x\nclasses: {bomb(levels)}\n", encoding="utf-8")
    message = refused_quickly(lambda: StudyConfig.load(path), StudyConfigError)
    assert "study.yaml, line 2" in message


def test_rubric_bomb_is_refused(tmp_path):
    (tmp_path / "rubric.yaml").write_text(RUBRIC.replace('"1"', bomb()), encoding="utf-8")
    message = refused_quickly(lambda: load_rubric(tmp_path), RubricError)
    assert "rubric.yaml, line 1" in message


def test_scenario_bomb_is_refused(tmp_path):
    path = tmp_path / "home.yaml"
    path.write_text(SCENARIO.replace("name: home", f"name: {bomb()}"), encoding="utf-8")
    message = refused_quickly(lambda: load_scenario(path), ScenarioError)
    assert "home.yaml, line 1" in message
    # the scoring stage's lenient reader skips the file instead of expanding it
    tracemalloc.start()
    try:
        assert scenario_lookup(_project_with(tmp_path, path)) == {None: None}
        assert tracemalloc.get_traced_memory()[1] < 50 * 2**20
    finally:
        tracemalloc.stop()


def _project_with(tmp_path, scenario_path):
    folder = tmp_path / "project" / "scenarios"
    folder.mkdir(parents=True)
    (folder / scenario_path.name).write_bytes(scenario_path.read_bytes())
    return tmp_path / "project"


def test_decision_rules_bomb_is_refused():
    text = f"version: {bomb()}\n{RULES}"
    refused_quickly(lambda: parse_decision_rules(text, source="rules.yaml"))


def test_recursive_alias_and_oversized_file_are_refused(tmp_path):
    with pytest.raises(InputError, match=r"x\.yaml, line 1: .*inside its own anchor"):
        load_yaml("&a [1, *a]\n", "x.yaml")
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * MAX_YAML_BYTES + b"\n")
    with pytest.raises(InputError, match=rf"larger than the limit of {MAX_YAML_BYTES} bytes"):
        read_yaml_text(big, "study config")


def test_control_character_names_the_line():
    with pytest.raises(InputError, match=r"x\.yaml, line 2: not valid YAML \(unacceptable "
                                         r"character #x001f"):
        load_yaml("a: 1\nb: \x1f\n", "x.yaml")


def test_modest_aliases_still_work(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("unimodal: &llm {provider: builtin, temperature: 0.5}\n"
                    "multimodal: *llm\n", encoding="utf-8")
    config = StudyConfig.load(path)
    assert config.unimodal == config.multimodal == {"provider": "builtin",
                                                    "temperature": 0.5}


# ------------------------------------------------------------------- 2. unclear YAML errors
def test_python_tag_in_rubric_names_the_file_and_line(tmp_path):
    (tmp_path / "rubric.yaml").write_text(
        RUBRIC.replace("title: t", "title: !!python/object/apply:os.system [echo hi]"),
        encoding="utf-8")
    with pytest.raises(RubricError, match=r"rubric\.yaml, line 2: .*tag .*python/object"):
        load_rubric(tmp_path)
    with pytest.raises(RubricError, match=r"my\.yaml, line 2: .*not allowed"):
        parse_rubric(RUBRIC.replace("title: t", "title: !!python/name:os.system"),
                     source="my.yaml")


@pytest.mark.parametrize(("name", "text", "load", "error"), [
    ("study.yaml", "name: caf\xe9\nseed: 1\n", StudyConfig.load, StudyConfigError),
    ("home.yaml", SCENARIO.replace("assistant", "assist\xe9nt"), load_scenario,
     ScenarioError),
    ("rules.yaml", RULES.replace("danger", "dang\xe9r"), load_decision_rules, InputError),
])
def test_non_utf8_files_name_line_and_byte(tmp_path, name, text, load, error):
    path = tmp_path / name
    data = text.encode("latin-1")
    path.write_bytes(data)
    offset = data.index(b"\xe9")
    line = data[:offset].count(b"\n") + 1
    with pytest.raises(error, match=rf"{name}, line {line}: byte {offset} \(0xe9\) is not "
                                    r"UTF-8.*save it as UTF-8"):
        load(path)


def test_non_utf8_rubric_names_line_and_byte(tmp_path):
    (tmp_path / "rubric.yaml").write_bytes(RUBRIC.replace("Fine", "F\xeene").encode("latin-1"))
    with pytest.raises(RubricError, match=r"rubric\.yaml, line 6: byte \d+ .*save it as UTF-8"):
        load_rubric(tmp_path)


# ---------------------------------------------------------------- 3. classes as a mapping
@pytest.mark.parametrize("classes", [{"a": 1}, 5, [["a"]]])
def test_study_classes_must_be_a_list(classes):
    with pytest.raises(StudyConfigError, match="classes must be a list of class names"):
        StudyConfig.from_dict({"classes": classes})


def test_study_yaml_classes_mapping_is_refused(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("classes: {a: 1}\n", encoding="utf-8")
    with pytest.raises(StudyConfigError, match=r"study\.yaml: classes must be a list"):
        StudyConfig.load(path)


# ------------------------------------------------------------------- 4. prompt size bound
def test_scenario_prompt_size_is_bounded():
    role = "r" * 30_000
    huge = SCENARIO.replace("role: assistant", f"role: {role}").replace(
        "is it safe?", "is it safe? {role} {role} {role}")
    with pytest.raises(ScenarioError, match=r"home\.yaml, line \d+: the multimodal prompt of "
                                            r"scenario 'home' .*limit of \d+ characters"):
        parse_scenario(huge, source="home.yaml")
    template = SCENARIO.replace("Is it safe?", "Is it safe?" + " x" * 30_000)
    with pytest.raises(ScenarioError, match=r"line 4: the unimodal template of scenario "
                                            r"'home' .*limit of \d+ characters"):
        parse_scenario(template, source="home.yaml")
    scenario = parse_scenario(SCENARIO, source="home.yaml")
    with pytest.raises(ScenarioError, match=r"unimodal prompt of scenario 'home' .*limit"):
        scenario.unimodal_prompt("L" * 60_000)


# ------------------------------------------------------- 5. catastrophic regular expressions
@pytest.mark.parametrize("key", ["alert", "no_alert"])
def test_evil_rule_patterns_finish_fast(key):
    other = "no_alert" if key == "alert" else "alert"
    text = "a" * 40 + "!"
    rules = parse_decision_rules(f"default:\n  {key}: ['(a+)+$']\n  {other}: [safe]\n",
                                 source="rules.yaml").default
    start = time.perf_counter()
    assert rules.decide(text)[0] == "unclear"  # the regex engine does not backtrack here
    assert time.perf_counter() - start < 1.0
    rules = parse_decision_rules(f"default:\n  {key}: ['(a|a)*$']\n  {other}: [safe]\n",
                                 source="rules.yaml").default
    start = time.perf_counter()
    with pytest.raises(InputError, match=rf"rule '\(a\|a\)\*\$' in default\.{key} took more "
                                         r"than .* s on an answer of 41 characters.*rewrite"):
        rules.decide(text)
    assert time.perf_counter() - start < 3.0
