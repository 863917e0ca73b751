"""The built-in LLM answering in parallel (llama-server slots) against today's serial server.

Issue 20: 100 answers took 350 s of the demo study because llama-cpp-python's server answers one
request at a time. Both servers run the packaged SmolLM2-135M in this one process's children:

* ``serial``: ``python -m llama_cpp.server`` (what HARLab ran before), asked one request at a
  time, as the runner asks it;
* ``parallel``: llama.cpp's ``llama-server`` with ``--parallel SLOTS`` and continuous batching,
  asked SLOTS requests at a time.

Both get the same requests at the demo's settings (max_tokens 512, temperature 0.7, the demo
scenarios' unimodal prompts from resources/scenarios, a per-request seed), in blocks that
alternate between the arms so that load from other processes falls on both alike. Reported:
answers/s and completion tokens/s per arm and their ratios (issue threshold: >= 3x answers/s).

``--sweep 1,2,4,8`` also measures llama-server's tokens/s per slot count; ``--repro`` checks
that one request with one seed gives the same text alone and with the other slots busy.
``--model FILE`` gives llama-server (sweep and repro) another GGUF, e.g. the packaged weights
re-encoded with llama.cpp's ``llama-quantize --allow-requantize`` to Q8_0, F16 or F32;
``HARLAB_LLAMA_SERVER`` points it at another build.

Measured on the quiet 2-core machine (Xeon, AVX-512 capable), 8 slots, 2 threads, 32 answers:
SmolLM2 Q4_1 (packaged) 114 tok/s; re-encoded Q8_0 124, F16 90, F32 84; an AVX-512 build 115;
AVX-512 with llamafile's kernels and Q8_0 140 (but those kernels round by batch shape). The
serial server: 47 tok/s on its default 1 thread, 74 on 2. Generation is compute-bound here: one
request alone runs at 83 tok/s on 2 threads, so batching 8 adds 1.4x, and no build or weight
format reaches 3x the serial server's 47 tok/s while keeping per-seed answers.

    .venv/bin/python benchmarks/bench_llm_parallel.py [--answers 64] [--slots 8] [--repro]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import itertools
import json
import time
from pathlib import Path

from harlab.llm import client as llm_client
from harlab.llm.config import LLMConfig, draw_seed
from harlab.llm.local_server import DEFAULT_SLOTS, LocalServer, find_gguf
from harlab.llm.scenarios import load_scenarios

THRESHOLD = 3.0
REPO = Path(__file__).resolve().parents[1]
LABELS = ("BabyCrawling", "Biking", "HandstandWalking", "CuttingInKitchen", "Punch",
          "ApplyEyeMakeup", "BlowDryHair", "JumpRope")


def demo_bodies(n: int, config: LLMConfig) -> list[dict]:
    """``n`` distinct request bodies: the demo scenarios' unimodal prompts, one seed each."""
    scenarios = list(load_scenarios(REPO / "resources" / "scenarios"))
    bodies = []
    for i, (scenario, label) in enumerate(itertools.islice(
            itertools.cycle(itertools.product(scenarios, LABELS)), n)):
        messages = llm_client.build_messages(scenario.unimodal_prompt(label),
                                             system=scenario.system_prompt())
        bodies.append(llm_client.request_body(config, messages,
                                              seed=draw_seed(0, i, "original")))
    return bodies


def ask_all(base_url: str, config: LLMConfig, bodies: list[dict], workers: int) -> tuple[
        float, int, list[str]]:
    """Seconds, completion tokens and texts of ``bodies`` sent ``workers`` at a time."""
    client = llm_client.make_client(config, base_url)
    started = time.perf_counter()
    with cf.ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda b: llm_client.chat(client, b, max_retries=1), bodies))
    elapsed = time.perf_counter() - started
    return elapsed, sum(r.completion_tokens or 0 for r in results), [r.text for r in results]


def compare(args: argparse.Namespace, config: LLMConfig) -> dict:
    bodies = demo_bodies(args.answers, config)
    block = max(args.block, args.slots)
    totals = {"serial": [0.0, 0], "parallel": [0.0, 0]}
    with (LocalServer(engine="python", n_threads=args.serial_threads) as serial,
          LocalServer(engine="llama-server", slots=args.slots) as parallel):
        ask_all(serial.base_url, config, bodies[:1], 1)  # warm both (page cache, first eval)
        ask_all(parallel.base_url, config, bodies[:1], 1)
        for start in range(0, len(bodies), block):
            chunk = bodies[start:start + block]
            for name, server, workers in (("serial", serial, 1),
                                          ("parallel", parallel, args.slots)):
                seconds, tokens, _ = ask_all(server.base_url, config, chunk, workers)
                totals[name][0] += seconds
                totals[name][1] += tokens
                print(f"  {name:<8} answers {start:>3}-{start + len(chunk) - 1:<3} "
                      f"{seconds:7.1f} s  {tokens / seconds:6.1f} tok/s", flush=True)
    rows = {name: {"answers": len(bodies), "seconds": round(s, 2), "tokens": t,
                   "answers_per_s": round(len(bodies) / s, 4), "tokens_per_s": round(t / s, 2)}
            for name, (s, t) in totals.items()}
    rows["ratio_answers"] = round(rows["parallel"]["answers_per_s"]
                                  / rows["serial"]["answers_per_s"], 2)
    rows["ratio_tokens"] = round(rows["parallel"]["tokens_per_s"]
                                 / rows["serial"]["tokens_per_s"], 2)
    return rows


def sweep(args: argparse.Namespace, config: LLMConfig) -> dict:
    """llama-server's throughput per slot count (each asked as many at a time as it has)."""
    out = {}
    for slots in (int(s) for s in args.sweep.split(",")):
        bodies = demo_bodies(max(args.sweep_answers, slots), config)
        with LocalServer(args.model, engine="llama-server", slots=slots) as server:
            ask_all(server.base_url, config, bodies[:1], 1)
            seconds, tokens, _ = ask_all(server.base_url, config, bodies, slots)
        out[slots] = {"answers_per_s": round(len(bodies) / seconds, 4),
                      "tokens_per_s": round(tokens / seconds, 2)}
        print(f"  slots {slots:>2}: {len(bodies) / seconds:6.3f} answers/s  "
              f"{tokens / seconds:6.1f} tok/s", flush=True)
    return out


def repro(args: argparse.Namespace, config: LLMConfig) -> dict:
    """The same request and seed, alone and with the other slots busy: the same text?

    Busy in three ways: sent together with the others (first, then last in the batch), and
    sent while the others are already generating.
    """
    bodies = demo_bodies(args.repro_offset + 1 + 3 * (args.slots - 1), config)
    bodies = bodies[args.repro_offset:]
    probe = bodies[0]
    others = [bodies[1 + k * (args.slots - 1):1 + (k + 1) * (args.slots - 1)] for k in range(3)]
    with LocalServer(args.model, engine="llama-server", slots=args.slots) as server:
        url = server.base_url
        texts = {"alone": ask_all(url, config, [probe], 1)[2][0],
                 "alone_again": ask_all(url, config, [probe], 1)[2][0],
                 "busy_first": ask_all(url, config, [probe, *others[0]], args.slots)[2][0],
                 "busy_last": ask_all(url, config, [*others[1], probe], args.slots)[2][-1]}
        with cf.ThreadPoolExecutor(1) as pool:
            running = pool.submit(ask_all, url, config, others[2], args.slots)
            time.sleep(2.0)  # the others are decoding when the probe arrives
            texts["busy_midway"] = ask_all(url, config, [probe], 1)[2][0]
            running.result()
    same = {name: text == texts["alone"] for name, text in texts.items() if name != "alone"}
    print(f"  same text as alone: {same}", flush=True)
    for name, text in texts.items():
        if text != texts["alone"]:
            print(f"    {name}: {text[:120]!r}\n    alone: {texts['alone'][:120]!r}")
    return same


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--answers", type=int, default=64)
    ap.add_argument("--slots", type=int, default=DEFAULT_SLOTS)
    ap.add_argument("--block", type=int, default=16, help="answers per arm before switching")
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--serial-threads", type=int, default=None,
                    help="threads of the serial server (default: its own, as HARLab ran it)")
    ap.add_argument("--sweep", default="", help="e.g. 1,2,4,8: tokens/s per slot count")
    ap.add_argument("--sweep-answers", type=int, default=16)
    ap.add_argument("--repro", action="store_true", help="check per-seed reproducibility")
    ap.add_argument("--repro-offset", type=int, default=0, help="which demo request to probe")
    ap.add_argument("--skip-compare", action="store_true")
    ap.add_argument("--model", default=None,
                    help="another GGUF for llama-server in --sweep and --repro (default: the "
                         "packaged SmolLM2; the serial-vs-parallel comparison always uses it)")
    args = ap.parse_args()
    config = LLMConfig(max_tokens=args.max_tokens, temperature=args.temperature,
                       timeout_s=1800.0)
    model = Path(args.model).name if args.model else find_gguf().name
    print(f"model {model}, max_tokens {args.max_tokens}, temperature "
          f"{args.temperature}, {args.answers} answers per arm, {args.slots} slots")
    result: dict = {}
    if args.repro:
        print("reproducibility:")
        result["repro"] = repro(args, config)
    if args.sweep:
        print("slot sweep (llama-server):")
        result["sweep"] = sweep(args, config)
    if not args.skip_compare:
        print("serial vs parallel, interleaved:")
        rows = compare(args, config)
        result["compare"] = rows
        for name in ("serial", "parallel"):
            r = rows[name]
            print(f"{name:<9} {r['answers']} answers in {r['seconds']:7.1f} s: "
                  f"{r['answers_per_s']:.3f} answers/s, {r['tokens_per_s']:.1f} tok/s")
        verdict = "PASS" if rows["ratio_answers"] >= THRESHOLD else "BELOW"
        print(f"ratio parallel/serial: {rows['ratio_answers']:.2f}x answers/s, "
              f"{rows['ratio_tokens']:.2f}x tokens/s (threshold {THRESHOLD:g}x: {verdict})")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
