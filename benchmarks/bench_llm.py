"""Benchmark: 200 LLM requests at concurrency 8 against a loopback server with 0.5 s latency.

Issue #6 threshold: the query job finishes within 1.5x the ideal 12.5 s (200 x 0.5 s / 8),
and running the same study again makes 0 requests. A plain ThreadPoolExecutor loop over the
openai client, in the same process, is the baseline that shows HARLab's own overhead.

Run: .venv/bin/python benchmarks/bench_llm.py
"""

from __future__ import annotations

import concurrent.futures as cf
import importlib.util
import tempfile
import time
from pathlib import Path

from harlab import jobs
from harlab.llm import client as llm_client
from harlab.llm.config import LLMConfig
from harlab.llm.runner import query_samples
from harlab.store import Project

N_SAMPLES = 100  # x 2 variants (original, attacked), unimodal = 200 requests
LATENCY_S = 0.5
CONCURRENCY = 8
IDEAL_S = 2 * N_SAMPLES * LATENCY_S / CONCURRENCY
THRESHOLD = 1.5


def _load_fake_server():
    # tests/ is not a package on sys.path when this runs as a script; load the file directly.
    path = Path(__file__).resolve().parent.parent / "tests" / "llm_server.py"
    spec = importlib.util.spec_from_file_location("harlab_bench_llm_server", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    fake = _load_fake_server()
    with tempfile.TemporaryDirectory() as tmp, fake.FakeLLMServer(latency_s=LATENCY_S) as server:
        config = LLMConfig(provider="vllm", base_url=server.base_url, model="bench-model",
                           concurrency=CONCURRENCY, timeout_s=30)
        # Baseline: the same 200 bodies through a bare thread pool, nothing stored.
        bodies = [llm_client.request_body(config, llm_client.build_messages(f"q{i}"))
                  for i in range(2 * N_SAMPLES)]
        client = llm_client.make_client(config, server.base_url)
        started = time.perf_counter()
        with cf.ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(lambda b: llm_client.chat(client, b), bodies))
        baseline_s = time.perf_counter() - started
        server.requests.clear()

        with Project.create(Path(tmp) / "bench") as project:
            fake.add_samples(project, [(f"Class{i}", f"Class{i}", f"Adv{i}")
                                       for i in range(N_SAMPLES)], frames=1)
            started = time.perf_counter()
            first = jobs.run(query_samples(project, config, modalities=["unimodal"]))
            harlab_s = time.perf_counter() - started
            sent_first = len(server.requests)
            started = time.perf_counter()
            second = jobs.run(query_samples(project, config, modalities=["unimodal"]))
            rerun_s = time.perf_counter() - started
            sent_second = len(server.requests) - sent_first

    ratio = harlab_s / IDEAL_S
    print(f"requests: {sent_first} sent ({first.asked} asked, {first.failed} failed), "
          f"latency {LATENCY_S} s, concurrency {CONCURRENCY}")
    print(f"ideal:            {IDEAL_S:6.2f} s")
    print(f"baseline pool:    {baseline_s:6.2f} s  ({baseline_s / IDEAL_S:.2f}x ideal)")
    print(f"harlab query job: {harlab_s:6.2f} s  ({ratio:.2f}x ideal, threshold {THRESHOLD}x) "
          f"-> {'PASS' if ratio <= THRESHOLD else 'FAIL'}")
    print(f"second run:       {rerun_s:6.2f} s, {sent_second} requests, {second.cached} from "
          f"the store -> {'PASS' if sent_second == 0 else 'FAIL'}")
    return 0 if ratio <= THRESHOLD and sent_second == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
