"""semantic_cosine_full (issue 20): the whole answer is embedded, in overlapping windows."""

from __future__ import annotations

import numpy as np
import pytest

from harlab.scoring import compare_semantic
from harlab.scoring.metrics import METRICS, MetricContext, PairToScore, metric
from harlab.scoring.whole_text import OVERLAP, compare_semantic_full, windows
from tests.core.test_scoring_fixtures import minilm  # noqa: F401 - fixture

SHORT = [("The baby is crawling on the floor. The baby is safe.",
          "The baby is cutting vegetables in the kitchen, which is dangerous!"),
         ("A cyclist rides safely in the bike lane.", "The cyclist is doing a handstand.")]
HEAD = ("The video shows a baby crawling slowly across a soft living-room carpet towards a "
        "pile of colourful wooden toys, watched by an adult sitting nearby. ") * 14
TAIL_SAFE = "In summary the situation is calm and safe, so no alert is needed."
TAIL_ALARM = ("In summary there is a serious fire hazard with flames near the child, so "
              "call emergency services and raise an alert now.")


@pytest.fixture(scope="module")
def model(minilm):  # noqa: F811
    return minilm.get("all-MiniLM-L6-v2", "cpu")


def test_equals_semantic_cosine_for_texts_that_fit(model):
    full = compare_semantic_full(SHORT + [("same", "same"), ("", "x")], model)
    plain = compare_semantic(SHORT + [("same", "same"), ("", "x")], model)
    for f, p in zip(full, plain, strict=True):
        assert f.value == p.value and f.reason == p.reason
    assert full[0].details["windows_a"] == 1


def test_sees_a_change_made_only_in_the_tail_of_a_long_answer(model):
    a, b = HEAD + TAIL_SAFE, HEAD + TAIL_ALARM
    plain = compare_semantic([(a, b)], model)[0]
    assert plain.details["truncated_a"] and plain.details["truncated_b"]
    assert plain.value == pytest.approx(1.0, abs=1e-6)  # the model never read the tails
    full = compare_semantic_full([(a, b)], model)[0]
    assert full.value < 0.999 and full.details["windows_a"] >= 2
    assert full.details["word_pieces_a"] > model.max_seq_length


def test_windows_cover_the_text_at_word_boundaries_and_fit_the_model(model):
    text = HEAD + TAIL_ALARM
    parts = windows(model, text)
    limit = model.max_seq_length - 2
    assert len(parts) >= 2 and all(n <= limit for _, n in parts)
    assert parts[0][0].startswith("The video") and text.endswith(parts[-1][0])
    for chunk, n in parts:
        assert chunk in text and chunk == chunk.strip()
        assert len(model.tokenizer(chunk, add_special_tokens=False)["input_ids"]) == n
    # consecutive windows overlap by about OVERLAP word pieces
    assert sum(n for _, n in parts) >= len(model.tokenizer(text, add_special_tokens=False)
                                           ["input_ids"]) + OVERLAP // 2


def test_semantic_cosine_full_is_a_registered_model_metric(model, minilm):  # noqa: F811
    spec = metric("semantic_cosine_full")
    assert "semantic_cosine_full" in METRICS and spec.needs_model and spec.kind == "similarity"
    ctx = MetricContext("all-MiniLM-L6-v2", "cpu", 8, None, minilm)
    pair = PairToScore(1, "unimodal", "attacked", 1, 2, HEAD + TAIL_SAFE, HEAD + TAIL_ALARM,
                       "BabyCrawling", "Biking", None)
    scored = spec.compute([pair], ctx)[0]
    assert scored.value < 0.999 and scored.details["model"] == "all-MiniLM-L6-v2"
    assert spec.scorer(pair, ctx) == "all-MiniLM-L6-v2"
    assert np.isfinite(scored.value)


def test_a_model_without_a_fast_tokenizer_is_refused_with_the_fix():
    from types import SimpleNamespace

    from harlab.errors import InputError

    slow = SimpleNamespace(max_seq_length=256, tokenizer=SimpleNamespace(is_fast=False))
    with pytest.raises(InputError, match="needs a model with a fast .* tokenizer.*--metrics"):
        windows(slow, "some text")
