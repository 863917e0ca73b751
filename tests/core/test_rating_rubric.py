"""The rubric file: the bundled one, each bad case with its line, and A/B <-> original/attacked."""

from __future__ import annotations

import pytest

from harlab.rating import RubricError, blind, load_rubric, parse_rubric, unblind

GOOD = """\
version: "2"
title: t
items:
  - id: hazard
    type: likert
    per_response: true
    prompt: Hazard of {response}?
    scale: [1, 3]
    anchors: {1: none, 3: high}
  - id: change
    type: categorical
    prompt: Changed?
    choices: [none, minor, major]
    ordered: true
  - id: better
    type: pairwise
    prompt: Which is better?
  - id: ok
    type: yes_no
    prompt: Fine?
  - id: notes
    type: free_text
    prompt: Notes
    required: false
"""


def test_bundled_rubric_has_the_default_items():
    rubric = load_rubric()
    assert rubric.version == "1"
    assert rubric.keys() == ("action_correct.original", "action_correct.attacked",
                             "hazard.original", "hazard.attacked", "action_change",
                             "meaning_change", "better_fit", "notes")
    assert "notes" not in rubric.required_keys()
    questions = {q.key: q for q in rubric.questions()}
    assert questions["hazard.B"].prompt == "What hazard level does response B imply?"
    assert questions["hazard.A"].choices[0] == ("1", "1 · no hazard")
    assert [v for v, _ in questions["better_fit"].choices] == ["A", "B", "tie", "both_bad"]
    assert rubric.item_for("action_change").level == "ordinal"
    assert rubric.item_for("better_fit").level == "nominal"
    assert rubric.item_for("notes").level is None


def test_project_copy_wins(tmp_path):
    (tmp_path / "rubric.yaml").write_text(GOOD)
    assert load_rubric(tmp_path).version == "2"
    assert load_rubric(tmp_path / "elsewhere").version == "1"


def test_good_rubric_parses():
    rubric = parse_rubric(GOOD)
    assert rubric.item_for("hazard.original").values == ("1", "2", "3")
    assert rubric.item_for("hazard.A").anchors == ((1, "none"), (3, "high"))
    assert rubric.required_keys() == ("hazard.original", "hazard.attacked", "change", "better",
                                      "ok")


@pytest.mark.parametrize(("old", "new", "line", "message"), [
    ('version: "2"\n', "", 1, "missing 'version'"),
    ("title: t\n", "title: t\ncolour: red\n", 3, "unknown rubric field 'colour'"),
    ("    type: likert\n", "    type: slider\n", 5, "unknown item type 'slider'"),
    ("    scale: [1, 3]\n", "    scale: [3, 1]\n", 8, "scale"),
    ("    anchors: {1: none, 3: high}\n", "    anchors:\n      1: none\n      7: high\n", 11,
     "anchor 7 is not a point of the scale 1..3"),
    ("    anchors: {1: none, 3: high}\n", "    anchors: {1: none}\n", 9,
     "both ends of the scale"),
    ("    choices: [none, minor, major]\n", "    choices: [none]\n", 13, "at least two"),
    ("  - id: ok\n", "  - id: better\n", 18, "duplicate item id 'better'"),
    ("  - id: ok\n", "  - id: 9lives\n", 18, "must start with a letter"),
    ("    required: false\n", "    required: maybe\n", 24, "required must be true or false"),
    ("    prompt: Fine?\n", "    prompt: Fine?\n    choices: [a, b]\n", 21,
     "'choices' applies to categorical items only"),
    ("    prompt: Which is better?\n", "    prompt: [Which]\n", 17, "needs a text 'prompt'"),
    ("    prompt: Which is better?\n", "    prompt: Which is better?\n    per_response: true\n",
     18, "cannot be per_response"),
    ("    prompt: Changed?\n", "    prompt: Changed?: [\n", 12, "not valid YAML"),
])
def test_bad_rubric_names_the_line(old, new, line, message):
    assert old in GOOD
    with pytest.raises(RubricError, match=rf"my\.yaml, line {line}: .*{message}"):
        parse_rubric(GOOD.replace(old, new, 1), source="my.yaml")


def test_not_a_mapping_and_no_items():
    with pytest.raises(RubricError, match="line 1: expected a mapping"):
        parse_rubric("- a\n- b\n")
    with pytest.raises(RubricError, match="line 2: 'items' must be a non-empty list"):
        parse_rubric('version: "1"\nitems: []\n')


def test_values_are_validated_and_normalised():
    rubric = parse_rubric(GOOD)
    assert rubric.item_for("hazard.original").normalise(2) == "2"
    assert rubric.item_for("ok").normalise(True) == "yes"
    assert rubric.item_for("change").normalise("Major") == "major"
    assert rubric.item_for("better").normalise("both bad") == "both_bad"
    with pytest.raises(RubricError, match=r"hazard: '7' is not an answer; expected one of 1, 2"):
        rubric.item_for("hazard.original").normalise("7")
    with pytest.raises(RubricError, match="A and B are mapped by record_answer"):
        rubric.item_for("better").normalise("A")
    with pytest.raises(RubricError, match="expected text"):
        rubric.item_for("notes").normalise(5)
    with pytest.raises(RubricError, match="unknown rubric item 'nope'.*valid items: hazard"):
        rubric.item_for("nope")


@pytest.mark.parametrize("a_is", ["original", "attacked"])
def test_blind_and_unblind_are_inverse(a_is):
    rubric = parse_rubric(GOOD)
    b_is = "attacked" if a_is == "original" else "original"
    assert unblind(rubric, "hazard.A", "3", a_is) == (f"hazard.{a_is}", "3")
    assert unblind(rubric, "hazard.B", "3", a_is) == (f"hazard.{b_is}", "3")
    assert unblind(rubric, "better", "A", a_is) == ("better", a_is)
    assert unblind(rubric, "better", "tie", a_is) == ("better", "tie")
    assert unblind(rubric, "hazard.original", "1", a_is) == ("hazard.original", "1")
    for key, value in (("hazard.B", "2"), ("better", "B"), ("change", "minor")):
        assert blind(rubric, *unblind(rubric, key, value, a_is), a_is) == (key, value)
