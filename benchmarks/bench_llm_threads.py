"""Built-in LLM throughput by server and thread count, against the old serial server, in one
process: llama-cpp-python's server (1 worker) as the baseline, then llama-server with 4 slots
on 1 and on every CPU's threads. Prints seconds, tokens/s and the answers/s ratio to the
baseline for the same demo prompts.

    .venv/bin/python benchmarks/bench_llm_threads.py [--answers 12] [--max-tokens 256]

Run it on a quiet machine: llama.cpp's threads wait for each other at every step, so other
work on the cores changes the picture (see harlab.llm.local_server.default_threads).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_llm_parallel import ask_all, demo_bodies  # noqa: E402

from harlab.llm.config import LLMConfig  # noqa: E402
from harlab.llm.local_server import LocalServer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--answers", type=int, default=12)
    ap.add_argument("--max-tokens", type=int, default=256)
    args = ap.parse_args()
    config = LLMConfig(max_tokens=args.max_tokens, temperature=0.7, timeout_s=1800.0)
    bodies = demo_bodies(args.answers + 1, config)
    cpus = min(os.cpu_count() or 1, 16)
    arms = [("serial server, 1 thread (baseline)", dict(engine="python", n_threads=1), 1),
            ("llama-server, 4 slots, 1 thread", dict(engine="llama-server", slots=4,
                                                     n_threads=1), 4),
            (f"llama-server, 4 slots, {cpus} threads", dict(engine="llama-server", slots=4,
                                                            n_threads=cpus), 4)]
    base = None
    for name, kwargs, workers in arms:
        with LocalServer(**kwargs) as server:
            ask_all(server.base_url, config, bodies[:1], 1)  # warm up
            seconds, tokens, _ = ask_all(server.base_url, config, bodies[1:], workers)
        base = base or seconds
        print(f"{name:<38} {args.answers} answers {seconds:7.1f} s  {tokens / seconds:6.1f} "
              f"tok/s  {base / seconds:5.2f}x answers/s")


if __name__ == "__main__":
    main()
