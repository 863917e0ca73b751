"""``semantic_cosine_full``: the semantic cosine of whole answers, however long.

A sentence-transformers model reads at most ``max_seq_length`` word pieces (256 for
all-MiniLM-L6-v2, including its two special tokens) and silently drops the rest, so
``semantic_cosine`` (kept exactly as sentence-transformers computes it, for comparison with the
paper) does not see the tail of a long answer. Here each answer is embedded whole:

1. The answer is split into word pieces by the model's own tokenizer. If they fit
   (``max_seq_length - 2`` or fewer), the answer is embedded as it is: the embedding, and so the
   cosine, is exactly the one ``semantic_cosine`` uses.
2. Otherwise it is cut into windows of at most ``max_seq_length - 2`` word pieces that start
   and end at word boundaries, consecutive windows sharing :data:`OVERLAP` word pieces. Each
   window is a slice of the original text, embedded by the model (nothing truncated).
3. The answer's embedding is the mean of its windows' embeddings weighted by their word pieces,
   L2-normalised; the score is the cosine of the two answers' embeddings.

Empty and identical answers get the same fixed values as the other cosines.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from harlab.errors import InputError
from harlab.scoring.similarity import (
    Pair,
    Similarity,
    _check_pairs,
    _precheck,
    cosines,
    embed_texts,
    is_refusal,
)

#: Word pieces shared by consecutive windows, so no sentence is only ever seen cut in two.
OVERLAP = 64
METHOD = (f"whole-answer embedding: windows of max_seq_length - 2 word pieces at word "
          f"boundaries, overlapping by {OVERLAP}; mean of the window embeddings weighted by "
          "word pieces, L2-normalised (one window: the model's own embedding)")


def windows(model: Any, text: str) -> list[tuple[str, int]]:
    """The text's windows as ``(slice of the text, word pieces)``; ``[(text, n)]`` if it fits."""
    size = int(model.max_seq_length) - 2
    if not getattr(model.tokenizer, "is_fast", False):
        raise InputError("semantic_cosine_full needs a model with a fast (Rust) tokenizer, "
                         "which gives the word offsets of its windows; this model has "
                         f"{type(model.tokenizer).__name__}. Leave the metric out with "
                         "--metrics, or use a model saved with its tokenizer.json")
    enc = model.tokenizer(text, add_special_tokens=False, truncation=False,
                          return_offsets_mapping=True)
    n = len(enc["input_ids"])
    if n <= size:
        return [(text, n)]
    offsets, words = enc["offset_mapping"], enc.word_ids()

    def word_start(i: int, floor: int) -> int:
        """``i`` moved back to the first piece of its word (not below ``floor + 1``)."""
        while i > floor + 1 and words[i] is not None and words[i] == words[i - 1]:
            i -= 1
        return i

    out, start = [], 0
    while True:
        end = n if start + size >= n else word_start(start + size, start)
        out.append((text[offsets[start][0]:offsets[end - 1][1]], end - start))
        if end >= n:
            return out
        start = word_start(max(end - OVERLAP, start + 1), start)


def whole_embeddings(model: Any, texts: Sequence[str], batch_size: int = 64
                     ) -> dict[str, tuple[np.ndarray, int, int]]:
    """text -> (embedding, word pieces, windows) for each text, every window in one batch."""
    split = {t: windows(model, t) for t in dict.fromkeys(texts)}
    chunks = sorted({c for parts in split.values() for c, _ in parts})
    rows = dict(zip(chunks, embed_texts(model, chunks, batch_size), strict=True))
    out = {}
    for text, parts in split.items():
        if len(parts) == 1:
            emb = rows[parts[0][0]]
        else:
            weights = np.array([n for _, n in parts], dtype=np.float64)
            mean = np.average(np.stack([rows[c] for c, _ in parts]), axis=0, weights=weights)
            norm = np.linalg.norm(mean)
            emb = mean / norm if norm > 0 else mean
        pieces = parts[0][1] if len(parts) == 1 else _count(model, text)
        out[text] = (emb, pieces, len(parts))
    return out


def _count(model: Any, text: str) -> int:
    return len(model.tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])


def compare_semantic_full(pairs: Iterable[Pair], model: Any, *, batch_size: int = 64,
                          cache: dict[str, tuple[np.ndarray, int, int]] | None = None
                          ) -> list[Similarity]:
    """Whole-answer embedding cosines of many pairs (see the module docstring).

    Args:
        cache: text -> (embedding, word pieces, windows), reused and filled.
    """
    pairs = _check_pairs(pairs)
    cache = cache if cache is not None else {}
    fixed = [_precheck(a, b) for a, b in pairs]
    todo = [i for i, f in enumerate(fixed) if f is None]
    needed = sorted({t for i in todo for t in pairs[i]} - cache.keys())
    cache.update(whole_embeddings(model, needed, batch_size))
    out: list[Similarity] = list(fixed)  # type: ignore[arg-type]
    if not todo:
        return out
    values = cosines(np.stack([cache[pairs[i][0]][0] for i in todo]),
                     np.stack([cache[pairs[i][1]][0] for i in todo]))
    for i, value in zip(todo, values, strict=True):
        a, b = pairs[i]
        details: dict[str, Any] = {"refusal_a": is_refusal(a), "refusal_b": is_refusal(b),
                                   "method": f"windows-v1, overlap {OVERLAP}"}
        for side, text in (("a", a), ("b", b)):
            _emb, pieces, n_windows = cache[text]
            details[f"word_pieces_{side}"] = pieces
            details[f"windows_{side}"] = n_windows
        out[i] = (Similarity(None, "an embedding has zero length", details) if np.isnan(value)
                  else Similarity(float(value), None, details))
    return out
