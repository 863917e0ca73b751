"""Scenario files: the paper's prompts verbatim, validation with line numbers, lookup."""

from __future__ import annotations

import pytest

from harlab.errors import InputError
from harlab.llm.scenarios import (
    BUNDLED_DIR,
    ScenarioError,
    ScenarioSet,
    load_scenarios,
    parse_scenario,
    save_scenario,
    scenarios_for_project,
)

# Figure 2 of the paper, with its {original_label} written as {label}.
PAPER = {
    "BabyCrawling": (
        "As a smart home security assistant, the analysis results of the baby's actions from "
        "the video footage are {label}, can you determine if the baby is in any dangerous "
        "situations or engaging in potentially hazardous activities that may require "
        "assistance?",
        "As a smart home security assistant, could you please analyze the frames extracted "
        "from the video footage, identify the baby's actions, and determine if the baby is in "
        "any dangerous situations or engaging in potentially hazardous activities that may "
        "require assistance?"),
    "Biking": (
        "As your road safety monitoring assistant, the results of the traffic footage is "
        "{label}, can you determine if the cyclist is safely navigating a roadway designated "
        "for vehicles, including bicycles, and identify any prohibited actions or potential "
        "dangers present?",
        "As your road safety monitoring assistant, can you evaluate the frames extracted from "
        "the traffic footage to determine if the cyclist is safely navigating a roadway "
        "designated for vehicles, including bicycles, and identify any prohibited actions or "
        "potential dangers present?"),
}

GOOD = """\
name: test
role: tester
classes: [A, B]
unimodal: "As a {role}, the result is {label}. Safe?"
multimodal: "As a {role}, look at the frames. Safe?"
"""


def test_bundled_scenarios_hold_the_paper_prompts_verbatim():
    scenarios = load_scenarios()
    for label, (uni, multi) in PAPER.items():
        sc = scenarios.for_label(label)
        assert sc.source.startswith("paper")
        assert sc.unimodal == uni and sc.multimodal == multi
        assert sc.unimodal_prompt("X") == uni.replace("{label}", "X")
    fallback = scenarios.for_label("JumpingJack")
    assert fallback.fallback and "not from the paper" in fallback.source


def test_templates_fill_label_and_role():
    sc = parse_scenario(GOOD)
    assert sc.unimodal_prompt("Biking") == "As a tester, the result is Biking. Safe?"
    assert sc.multimodal_prompt() == "As a tester, look at the frames. Safe?"
    assert ScenarioSet([sc]).for_label("C") is None


@pytest.mark.parametrize("text, match", [
    (GOOD.replace("{label}. Safe?", "{label} at {time}."), r"line 4: unknown placeholder \{time\}"),
    (GOOD.replace("look at the frames", "the label is {label}"),
     r"line 5: unknown placeholder \{label\} in the multimodal template"),
    (GOOD.replace("{label}", "X"), "line 4: the unimodal template must contain {label}"),
    (GOOD.replace("Safe?\"\nmulti", "Safe? {\"\nmulti"), "line 4: unimodal template is malformed"),
    (GOOD.replace("role: tester\n", ""), "missing field 'role'"),
    (GOOD + "colour: red\n", "line 6: unknown field 'colour'; valid fields: name"),
    (GOOD.replace("classes: [A, B]", "classes: 3"), "line 3: classes must be a list"),
    (GOOD.replace("classes: [A, B]", "classes: []"), "line 3: a scenario must list its classes"),
    (GOOD.replace("name: test", "name: [x"), "not valid YAML"),
    ("just text", "line 1: expected a mapping"),
])
def test_bad_scenarios_name_the_line(text, match):
    with pytest.raises(ScenarioError, match=match):
        parse_scenario(text, source="x.yaml")


def test_conflicts_between_scenarios_are_rejected():
    a = parse_scenario(GOOD)
    with pytest.raises(ScenarioError, match="class 'A' is listed by two scenarios"):
        ScenarioSet([a, a])
    fb = parse_scenario(GOOD.replace("classes: [A, B]", "fallback: true"))
    with pytest.raises(ScenarioError, match="two fallback scenarios"):
        ScenarioSet([fb, fb])


def test_saving_into_a_project_copies_the_bundled_set(tmp_path):
    folder = tmp_path / "scenarios"
    assert len(scenarios_for_project(tmp_path)) == len(load_scenarios(BUNDLED_DIR))
    save_scenario(folder, "test.yaml", GOOD)
    names = {s.name for s in scenarios_for_project(tmp_path)}
    assert "test" in names and "smart-home-security" in names
    with pytest.raises(ScenarioError, match="unknown placeholder"):
        save_scenario(folder, "bad.yaml", GOOD.replace("{label}", "{lable}"))
    assert not (folder / "bad.yaml").exists()
    with pytest.raises(ScenarioError, match="class 'Biking' is listed by two"):
        save_scenario(folder, "clash.yaml", GOOD.replace("[A, B]", "[Biking]"))
    assert not (folder / "clash.yaml").exists()
    with pytest.raises(InputError, match="must be a plain name ending in .yaml"):
        save_scenario(folder, "../evil.txt", GOOD)


def test_error_points_at_the_line_inside_a_folded_template():
    text = (BUNDLED_DIR / "smart_home_security.yaml").read_text()
    bad = text.replace("are {label}", "are {labels}")
    line = next(n for n, row in enumerate(bad.splitlines(), 1) if "{labels}" in row)
    assert line > bad.splitlines().index("unimodal: >-") + 1
    with pytest.raises(ScenarioError, match=f"line {line}: unknown placeholder {{labels}}"):
        parse_scenario(bad, source="s.yaml")


def test_missing_folder_is_reported(tmp_path):
    with pytest.raises(ScenarioError, match="scenario folder .* does not exist"):
        load_scenarios(tmp_path / "nope")
