"""Scoring benchmarks, as ratios against baselines measured in the same process.

1. Scoring 100 answer pairs (syntactic + semantic cosine with details, model loaded) vs one
   batched ``model.encode`` of the 200 texts. Target: <= 1.2x.
2. Table 3 (n, mean, var, std, median, 10,000-resample BCa bootstrap CI) for 1,000 pairs per
   modality and the two cosines, plus the paired tests. Target: < 2 s.

Run: ``python benchmarks/bench_scoring.py`` (CPU; offline).
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402

from harlab.scoring import EmbeddingModels, compare_semantic, compare_syntactic  # noqa: E402
from harlab.scoring.stats import StatsConfig, describe, holm, paired_test  # noqa: E402

WORDS = ("baby crawling floor kitchen danger safe assistance knife cutting normal activity "
         "supervision hazard cyclist road lane prohibited risk monitor footage frames").split()


def _answers(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(40, 90)))) + "." for _ in range(n)]


def _best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_pairs() -> None:
    model = EmbeddingModels().get("all-MiniLM-L6-v2", "cpu")
    a, b = _answers(100, 1), _answers(100, 2)
    texts = a + b
    pairs = list(zip(a, b, strict=True))
    model.encode(texts[:8], batch_size=64)  # warm-up

    def base() -> None:
        model.encode(texts, batch_size=64, convert_to_numpy=True, show_progress_bar=False)

    def ours() -> None:
        compare_syntactic(pairs)
        compare_semantic(pairs, model, batch_size=64)

    # Interleaved, best of 7 each: a busy machine slows both alike.
    times: dict[str, list[float]] = {"base": [], "ours": []}
    for _ in range(7):
        times["base"].append(_best(base, repeat=1))
        times["ours"].append(_best(ours, repeat=1))
    b, o = min(times["base"]), min(times["ours"])
    print(f"score 100 pairs: {o * 1000:.0f} ms vs encode 200 texts {b * 1000:.0f} ms "
          f"-> {o / b:.2f}x (target <= 1.2x)")


def bench_table3() -> None:
    rng = np.random.default_rng(0)
    config = StatsConfig(n_resamples=10_000)
    data = {(m, k): list(rng.beta(8, 2, 1000)) for m in ("unimodal", "multimodal")
            for k in ("syntactic_cosine", "semantic_cosine")}

    def table() -> None:
        for (modality, metric), values in data.items():
            describe(values, config, modality=modality, metric=metric)
        holm([paired_test(data[("unimodal", k)], data[("multimodal", k)], config, metric=k)
              for k in ("syntactic_cosine", "semantic_cosine")])

    seconds = _best(table, repeat=3)
    print(f"Table 3 + paired tests, 1000 pairs, 10000 resamples: {seconds:.2f} s (target < 2 s)")


if __name__ == "__main__":
    bench_pairs()
    bench_table3()
