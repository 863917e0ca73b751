"""A large synthetic project (10,000 samples, 100,000 requests) and the core reads on it.

:func:`generate_large_project` writes a project whose tables look like a real study's (one
attack run, one query run; per sample two modalities x original, attacked and three
noise-floor draws, all ``ok``). The benchmark then times opening the project and the core read
functions the panels call first (median of rounds). Target (issue 12): each under 1 s, so a
panel's first paint stays under 1 s.

    .venv/bin/python benchmarks/bench_store_scale.py [--samples 10000] [--requests 100000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from harlab.llm.runner import latest_requests, response_pairs, usage_summary
from harlab.store import Project

LABELS = ["Biking", "PushUps", "Punch", "JumpRope", "Diving", "Bowling", "Drumming", "Rowing"]
TARGET_S = 1.0


def _insert_many(project: Project, table: str, rows: list[dict]) -> None:
    cols = list(rows[0])
    sql = (f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
           f"({', '.join('?' * len(cols))})")
    project.executemany(sql, ([r[c] for c in cols] for r in rows))


def generate_large_project(root: str | Path, samples: int = 10_000, requests: int = 100_000,
                           seed: int = 0) -> Path:
    """Write a synthetic project with ``samples`` samples and ``requests`` llm_requests rows."""
    rng = np.random.default_rng(seed)
    now = time.time()
    variants = [(m, v) for m in ("unimodal", "multimodal")
                for v in ("original", "attacked", "noise-1", "noise-2", "noise-3")]
    with Project.create(root) as project:
        attack = project.start_run("attack", {"synthetic": True}, "synthetic")
        query = project.start_run("query", {"synthetic": True}, "synthetic")
        rows = []
        for i in range(samples):
            true, adv = rng.choice(LABELS, 2, replace=False)
            frames = json.dumps([f"frames/s{i}_{k}.png" for k in range(2)])
            rows.append(dict(run_id=attack, video=f"{true}/v_{true}_g{i % 25 + 1:02d}_c{i}.avi",
                             true_label=str(true), true_index=0, keyframes_json="[0, 10]",
                             timestamps_json="[0.0, 0.4]", attack="fgsm", eps=8 / 255,
                             clean_pred=str(true), clean_conf=0.9, adv_pred=str(adv),
                             adv_conf=0.7, clean_top5_json="[]", adv_top5_json="[]",
                             clean_frames_json=frames, adv_frames_json=frames, created_at=now))
        _insert_many(project, "samples", rows)
        ids = [r["id"] for r in project.query("SELECT id FROM samples ORDER BY id")]
        rows = []
        for n in range(requests):
            sample_id = ids[n // len(variants) % len(ids)]
            modality, variant = variants[n % len(variants)]
            text = f"answer {n}: " + "lorem ipsum dolor sit amet " * 12
            rows.append(dict(cache_key=f"{n:064x}", sample_id=sample_id, modality=modality,
                             variant=variant, provider="openai", base_url="", model="gpt-4o",
                             request_json='{"model": "gpt-4o"}',
                             response_json=json.dumps({"choices": [{"message": {
                                 "content": text}}]}), response_text=text, status="ok",
                             prompt_tokens=300, completion_tokens=80, latency_s=2.0,
                             attempts=1, created_at=now, finished_at=now, run_id=query))
            if len(rows) == 20_000:
                _insert_many(project, "llm_requests", rows)
                rows = []
        if rows:
            _insert_many(project, "llm_requests", rows)
        project.finish_run(attack, "done", {})
        project.finish_run(query, "done", {})
    return Path(root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        root = generate_large_project(Path(tmp) / "large", args.samples, args.requests)
        size = (root / "project.sqlite").stat().st_size
        print(f"generated {args.samples} samples, {args.requests} requests in "
              f"{time.perf_counter() - t:.1f} s ({size / 1e6:.0f} MB)")
        timings: dict[str, list[float]] = {}

        def timed(name: str, fn) -> None:
            t = time.perf_counter()
            fn()
            timings.setdefault(name, []).append(time.perf_counter() - t)

        for _ in range(args.rounds):
            t = time.perf_counter()
            project = Project.open(root)
            timings.setdefault("Project.open", []).append(time.perf_counter() - t)
            with project:
                timed("samples (all rows)", lambda p=project: p.query("SELECT * FROM samples"))
                timed("latest_requests", lambda p=project: latest_requests(p))
                timed("latest_requests(one sample)", lambda p=project: latest_requests(p, 5))
                timed("response_pairs(unimodal)",
                      lambda p=project: response_pairs(p, "unimodal"))
                timed("usage_summary", lambda p=project: usage_summary(p))
    for name, values in timings.items():
        med = statistics.median(values)
        print(f"  {name:<28} {med * 1000:8.1f} ms  (< {TARGET_S * 1000:.0f} ms) "
              f"{'PASS' if med < TARGET_S else 'FAIL'}")


if __name__ == "__main__":
    main()
