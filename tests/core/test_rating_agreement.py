"""Agreement: the values are the libraries' own on known data; degenerate cases have reasons."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from harlab.errors import InputError
from harlab.rating import get_annotator, items, load_rubric, record_answer
from harlab.rating.agreement import AgreementConfig, alpha, cohen, fleiss
from harlab.rating.reliability import compute_agreement
from tests.core.test_rating_fixtures import make_project

MEANING = {"Ada": [1, 2, 3, 4, 5, 3, 2, 1], "Bob": [1, 2, 4, 4, 5, 2, 2, 3],
           "Carol": [2, 2, 3, 5, 5, None, 1, 1]}
BETTER = {"Ada": ["original", "attacked", "tie", "tie", "both_bad", "original", "original",
                  "attacked"],
          "Bob": ["original", "attacked", "tie", "original", "both_bad", "original", "attacked",
                  "attacked"],
          "Carol": ["original", "tie", "tie", "original", None, "original", "attacked", "tie"]}
PAIRWISE = ("original", "attacked", "tie", "both_bad")
FAST = AgreementConfig(n_boot=60, seed=3)


@pytest.fixture
def rated(tmp_path):
    """8 units (unimodal only) rated by the annotators of ``request.param``."""
    project = make_project(tmp_path / "p", n_samples=8, modalities=("unimodal",))
    yield project
    project.close()


def rate(project, names, meaning=MEANING, better=BETTER):
    rubric = load_rubric()
    for name in names:
        ann = get_annotator(project, name)
        for n, item in enumerate(items(project)):
            if meaning[name][n] is not None:
                record_answer(project, ann, item, "meaning_change", meaning[name][n], rubric)
            if better[name][n] is not None:
                record_answer(project, ann, item, "better_fit", better[name][n], rubric)
    return rubric


def test_two_annotators_match_the_libraries(rated):
    rubric = rate(rated, ["Ada", "Bob"])
    result = compute_agreement(rated, rubric, FAST)
    assert result.annotators == ("Ada", "Bob")
    by = {r.item: r for r in result.items}
    assert set(by) == {"meaning_change", "better_fit", "action_correct.original",
                       "action_correct.attacked", "hazard.original", "hazard.attacked",
                       "action_change"}
    m = by["meaning_change"]
    assert (m.n_units, m.n_annotators, m.level) == (8, 2, "ordinal")
    a, b = np.array(MEANING["Ada"]) - 1, np.array(MEANING["Bob"]) - 1
    assert m.cohen.value == pytest.approx(cohen_kappa_score(a, b, labels=list(range(5)),
                                                            weights="quadratic"))
    table, _ = aggregate_raters(np.stack([a, b], axis=1), n_cat=5)
    assert m.fleiss.value == pytest.approx(fleiss_kappa(table))
    assert m.alpha.value == pytest.approx(krippendorff.alpha(
        reliability_data=np.stack([a, b]).astype(float), value_domain=range(5),
        level_of_measurement="ordinal"))
    assert m.cohen.ci_low <= m.cohen.value <= m.cohen.ci_high
    bf = by["better_fit"]
    ca = [PAIRWISE.index(v) for v in BETTER["Ada"]]
    cb = [PAIRWISE.index(v) for v in BETTER["Bob"]]
    assert bf.cohen.value == pytest.approx(cohen_kappa_score(ca, cb))
    assert bf.alpha.value == pytest.approx(krippendorff.alpha(
        reliability_data=np.array([ca, cb], float), value_domain=range(4),
        level_of_measurement="nominal"))
    unrated = by["hazard.original"]
    assert unrated.alpha.value is None and unrated.alpha.reason == "no ratings"
    assert result.overall.alpha.value == pytest.approx((m.alpha.value + bf.alpha.value) / 2)
    assert result.overall.alpha.reason == "mean over 2 of 7 items"
    linear = compute_agreement(rated, rubric, AgreementConfig(n_boot=0, weights="linear"),
                               item="meaning_change")
    assert linear.items[0].cohen.value == pytest.approx(
        cohen_kappa_score(a, b, labels=list(range(5)), weights="linear"))
    assert linear.items[0].cohen.ci_low is None


def test_three_annotators_with_missing_ratings(rated):
    rubric = rate(rated, ["Ada", "Bob", "Carol"])
    m = compute_agreement(rated, rubric, FAST, item="meaning_change").items[0]
    assert m.cohen.value is None and "needs exactly two annotators, 3 rated" in m.cohen.reason
    data = np.array([[np.nan if v is None else v - 1 for v in MEANING[n]]
                     for n in ("Ada", "Bob", "Carol")])
    complete = data[:, ~np.isnan(data).any(axis=0)].T.astype(int)
    assert complete.shape == (7, 3)
    assert m.fleiss.value == pytest.approx(fleiss_kappa(aggregate_raters(complete, 5)[0]))
    assert m.alpha.value == pytest.approx(krippendorff.alpha(
        reliability_data=data, value_domain=range(5), level_of_measurement="ordinal"))


def test_bootstrap_is_seeded(rated):
    rubric = rate(rated, ["Ada", "Bob"])
    first = compute_agreement(rated, rubric, FAST, item="meaning_change")
    again = compute_agreement(rated, rubric, FAST, item="meaning_change")
    other = compute_agreement(rated, rubric, AgreementConfig(n_boot=60, seed=4),
                              item="meaning_change")
    assert first == again and first.items[0].alpha != other.items[0].alpha


def test_disagreements_widest_first(rated):
    rubric = rate(rated, ["Ada", "Bob"])
    worst = compute_agreement(rated, rubric, FAST).disagreements
    assert worst[0].item == "better_fit" or worst[0].score >= 0.5
    top_meaning = [d for d in worst if d.item == "meaning_change"][0]
    assert top_meaning.sample_id == 8 and top_meaning.values == {"Ada": "1", "Bob": "3"}
    assert top_meaning.score == pytest.approx(0.5)
    assert all(d.score > 0 for d in worst)


def test_degenerate_cases_have_a_value_and_a_reason(rated):
    rubric = rate(rated, ["Ada"])
    only = compute_agreement(rated, rubric, FAST, item="meaning_change").items[0]
    assert only.alpha.value is None and only.alpha.reason == "only one annotator (Ada) rated it"
    same = {"Ada": [3] * 8, "Bob": [3] * 8}
    rate(rated, ["Ada", "Bob"], meaning=same)
    m = compute_agreement(rated, rubric, FAST, item="meaning_change").items[0]
    for stat in (m.cohen, m.fleiss, m.alpha):
        assert stat.value is None and "same category" in stat.reason
    assert cohen(np.array([], int), np.array([], int), 5, "ordinal")[0] is None
    assert fleiss(np.zeros((0, 2), int), 3) == (None, "no unit rated by every annotator")
    assert alpha(np.array([[0, np.nan], [np.nan, 1]]), 2, "nominal") == (
        None, "no unit rated by two or more annotators")


def test_config_and_item_errors(rated):
    for kwargs, message in (({"n_boot": -1}, "n_boot must be"), ({"ci": 1.5}, "ci must be"),
                            ({"weights": "cubic"}, "weights must be one of linear, quadratic"),
                            ({"seed": -1}, r"seed must be a whole number in \[0, 2\*\*63 - 1\]"),
                            ({"seed": 1.5}, "seed must be a whole number")):
        with pytest.raises(InputError, match=message):
            AgreementConfig(**kwargs)
    with pytest.raises(InputError, match="no comparable rubric item 'notes'"):
        compute_agreement(rated, load_rubric(), FAST, item="notes")
