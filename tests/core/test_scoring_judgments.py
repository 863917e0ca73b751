"""Label mention and the decision rules: matching, the bundled rules, rejected rule files."""

from __future__ import annotations

import pytest

from harlab.errors import InputError
from harlab.scoring import judgments
from harlab.scoring.judgments import (
    decision_changed,
    label_mention,
    label_words,
    load_decision_rules,
    mentions,
    parse_decision_rules,
    scenario_lookup,
)


@pytest.mark.parametrize(("label", "words"), [
    ("BabyCrawling", ["baby", "crawling"]), ("ApplyEyeMakeup", ["apply", "eye", "makeup"]),
    ("YoYo", ["yo", "yo"]), ("PlayingDaf", ["playing", "daf"]), ("TaiChi", ["tai", "chi"]),
    ("HandstandPushups", ["handstand", "pushups"]), ("JumpingJack", ["jumping", "jack"]),
])
def test_label_words_split_camel_case(label, words):
    assert label_words(label) == words


@pytest.mark.parametrize(("text", "label", "found"), [
    ("The baby crawling is fine.", "BabyCrawling", True),
    ("Two BABIES CRAWLING on the floor", "BabyCrawling", True),
    ("baby-crawling detected", "BabyCrawling", True),
    ("BabyCrawling", "BabyCrawling", True),
    ("the baby is crawling", "BabyCrawling", False),
    ("she applies eye makeup", "ApplyEyeMakeup", True),
    ("apply eye-makeup carefully", "ApplyEyeMakeup", True),
    ("a yo-yo trick", "YoYo", True),
    ("jumping jacks in the park", "JumpingJack", True),
    ("cutting in kitchen", "CuttingInKitchen", True),
    ("the biker is biking", "Biking", True),
    ("mountainbiking", "Biking", False),
    ("", "Biking", False),
    (None, "Biking", False),
])
def test_mentions_is_tolerant_of_case_plural_and_hyphen(text, label, found):
    assert mentions(text, label) is found


def test_label_mention_categories():
    assert label_mention("baby crawling near cutting in kitchen", "BabyCrawling",
                         "CuttingInKitchen") == "both"
    assert label_mention("a baby crawling", "BabyCrawling", "Punch") == "true"
    assert label_mention("a punch", "BabyCrawling", "Punch") == "adversarial"
    assert label_mention("all is well", "BabyCrawling", "Punch") == "neither"
    with pytest.raises(InputError, match="class name '---' has no letters"):
        mentions("x", "---")


def test_bundled_rules_decide_typical_answers():
    rules = load_decision_rules()
    home = rules.for_scenario("smart-home-security")
    assert home.decide("The baby is not in any danger; this is a normal activity.")[0] \
        == "no_alert"
    decision, hits = home.decide("The baby is in danger near sharp knives and needs "
                                 "immediate assistance.")
    assert decision == "alert" and "sharp knives" in hits["alert"]
    assert home.decide("The weather is nice.")[0] == "unclear"
    assert home.decide("")[0] == "unclear"
    road = rules.for_scenario("road-safety-monitoring")
    assert road.decide("The cyclist is safely navigating the road.")[0] == "no_alert"
    assert road.decide("Riding against traffic is prohibited and dangerous.")[0] == "alert"
    assert rules.for_scenario("unknown-scenario") is rules.default
    assert rules.for_scenario(None) is rules.default
    # a scenario's rules replace only the keys it gives
    assert home.no_alert == rules.default.no_alert and home.alert != rules.default.alert


def test_decision_changed_values():
    assert decision_changed("alert", "no_alert") == (1.0, None)
    assert decision_changed("alert", "alert") == (0.0, None)
    assert decision_changed("unclear", "alert") == (None, "unclear")


def test_rule_version_changes_with_the_rules():
    a = parse_decision_rules("default:\n  alert: [danger]\n  no_alert: [safe]\n").default
    b = parse_decision_rules("default:\n  alert: [danger, hazard]\n  no_alert: [safe]\n").default
    assert a.version != b.version


@pytest.mark.parametrize(("text", "match"), [
    ("default:\n  alert: [danger\n", r"line \d+: not valid YAML"),
    ("- a\n- b\n", "line 1: expected a mapping"),
    ("scenarios: {}\n", "line 1: no 'default' rules"),
    ("default:\n  alert: [x]\n  no_alert: [y]\nextra: 1\n", "line 4: unknown key 'extra'"),
    ("default:\n  alert: [x]\n  maybe: [y]\n", "line 3: unknown key 'maybe' in the rules "
                                               "for 'default'"),
    ("default:\n  alert: [x]\n", "line 2: the rules for 'default' lack the key 'no_alert'"),
    ("default:\n  alert: []\n  no_alert: [y]\n", "line 2: default.alert must be a non-empty"),
    ("default:\n  alert: [x]\n  no_alert:\n    - y\n    - '(unclosed'\n",
     "line 5: '\\(unclosed' in default.no_alert is not a valid regular expression"),
    ("default:\n  alert: [x]\n  no_alert: [y]\nscenarios:\n  home: [a, b]\n",
     "line 5: rules for 'home' must be a mapping"),
    ("default:\n  alert: [x]\n  no_alert: [y]\nscenarios: [a]\n",
     "line 4: scenarios must map scenario names"),
])
def test_bad_rules_are_rejected_with_the_line(text, match):
    with pytest.raises(InputError, match=match):
        parse_decision_rules(text, source="rules.yaml")


def test_missing_rules_file(tmp_path):
    with pytest.raises(InputError, match="decision rules file .*nope.yaml' cannot be read"):
        load_decision_rules(tmp_path / "nope.yaml")


def test_scenario_lookup_reads_bundled_and_project_scenarios(tmp_path):
    bundled = scenario_lookup(None)
    assert bundled["BabyCrawling"] == "smart-home-security"
    assert bundled["Biking"] == "road-safety-monitoring"
    assert bundled[None] == "generic-activity-monitoring"
    own = tmp_path / "scenarios"
    own.mkdir()
    (own / "a.yaml").write_text("name: mine\nclasses: [Punch]\n")
    (own / "broken.yaml").write_text("name: [unclosed\n")
    lookup = scenario_lookup(tmp_path)
    assert lookup == {None: None, "Punch": "mine"}
    assert judgments.DEFAULT_RULES_PATH.is_file()
