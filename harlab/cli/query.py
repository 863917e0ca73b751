"""``harlab query``: ask the language model about the project's samples."""

from __future__ import annotations

import argparse

from harlab.llm.config import IMAGE_DETAILS, PROVIDER_PRESETS, LLMConfig
from harlab.vocab import BUILTIN_PROVIDER, DEFAULT_NOISE_FLOOR, MODALITIES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "query", help="ask the language model about each sample (unimodal and multimodal)",
        description="Ask the configured language model, for every selected sample, the "
                    "scenario's question with the clean and the adversarial label (unimodal) "
                    "and with the clean and the adversarial keyframes (multimodal). Answers are "
                    "stored in the project and reused when the same request is made again. "
                    "Exit status 1 when some requests failed (they are stored with their "
                    "reason; run again to retry them).")
    p.add_argument("--project", required=True, help="project folder")
    p.add_argument("--provider", choices=list(PROVIDER_PRESETS), default=BUILTIN_PROVIDER,
                   help="builtin = SmolLM2 on a local llama.cpp server, offline (default)")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint (default: the provider's)")
    p.add_argument("--model", help="model name (default: the provider's)")
    p.add_argument("--api-key-env", help="NAME of the environment variable holding the API key "
                                         "(default: the provider's, e.g. OPENAI_API_KEY)")
    p.add_argument("--modality", default=",".join(MODALITIES),
                   help=f"comma-separated: {', '.join(MODALITIES)} (default all)")
    default = LLMConfig()
    p.add_argument("--temperature", type=_temperature, default=default.temperature,
                   help=f"sampling temperature (default {default.temperature}); 'default' "
                        "leaves it to the provider (1.0 for GPT-4o, as in the paper)")
    p.add_argument("--seed", type=int, default=default.seed,
                   help=f"study seed; each request gets its own seed derived from it, the "
                        f"sample, the side and the draw (default {default.seed})")
    p.add_argument("--max-tokens", type=int, default=default.max_tokens,
                   help=f"answer length cap (default {default.max_tokens}); truncated answers "
                        "are flagged")
    p.add_argument("--concurrency", type=int, default=default.concurrency,
                   help=f"requests in flight (default {default.concurrency}; the built-in "
                        "server takes as many as it has slots)")
    p.add_argument("--timeout", type=float, default=default.timeout_s,
                   help=f"seconds per attempt (default {default.timeout_s:g})")
    p.add_argument("--max-retries", type=int, default=default.max_retries,
                   help=f"retries after 429, 5xx, timeouts and malformed answers (default "
                        f"{default.max_retries})")
    p.add_argument("--image-detail", choices=IMAGE_DETAILS, default="auto")
    p.add_argument("--supports-images", choices=("auto", "yes", "no"), default="auto",
                   help="whether the model takes images (auto: guess from its name)")
    p.add_argument("--sample", type=int, action="append", dest="samples", metavar="ID",
                   help="only this sample id (repeatable; default: all selected samples)")
    p.add_argument("--refresh", action="store_true",
                   help="ask again as a new draw (a new draw index, so a new seed): the old "
                        "answers, their scores and ratings are kept, marked superseded")
    p.add_argument("--noise-floor", type=int, default=DEFAULT_NOISE_FLOOR, metavar="K",
                   help="also ask each clean request K more times, the variation with no "
                        f"attack that drift is judged against (default {DEFAULT_NOISE_FLOOR}; "
                        "0 asks none)")
    p.add_argument("--estimate", action="store_true",
                   help="print the requests, tokens, cost (direct and Batch API) and time "
                        "this run would take, and send nothing")
    p.add_argument("--batch-api", action="store_true",
                   help="send through OpenAI's Batch API: half price, answers within 24 h; "
                        "a killed or cancelled run resumes the submitted batch when run again")
    p.add_argument("--batch-poll", type=float, default=30.0, metavar="S",
                   help="seconds between Batch API status checks (default 30)")
    p.set_defaults(func=_cmd_query)


def _temperature(value: str) -> float | None:
    if value.strip().lower() in {"default", "none"}:
        return None
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"temperature must be a number in [0, 2] or 'default', got {value!r}") from None


def _cmd_query(args: argparse.Namespace) -> int:
    from harlab import jobs
    from harlab.llm.pricing import format_cost
    from harlab.llm.records import skip_reasons
    from harlab.stages import QueryConfig, query
    from harlab.store import Project

    config = LLMConfig(
        provider=args.provider, base_url=args.base_url, model=args.model,
        api_key_env=args.api_key_env, temperature=args.temperature, seed=args.seed,
        max_tokens=args.max_tokens, concurrency=args.concurrency, timeout_s=args.timeout,
        max_retries=args.max_retries, image_detail=args.image_detail,
        supports_images={"auto": None, "yes": True, "no": False}[args.supports_images])
    with Project.open(args.project) as project:
        if args.estimate:
            from harlab.llm.estimate import estimate_query

            print(estimate_query(project, config, sample_ids=args.samples,
                                 modalities=args.modality, refresh=args.refresh,
                                 noise_floor=args.noise_floor))
            return 0
        job = query(project, QueryConfig(
            config, modalities=args.modality, noise_floor=args.noise_floor,
            refresh=args.refresh, sample_ids=args.samples, batch_api=args.batch_api,
            batch_poll_s=args.batch_poll))
        result = jobs.run_cli(job, desc=f"query {config.model_name}")
        print(f"query run {result.run_id} with {config.provider}:{config.model_name}: "
              f"{result.asked} asked, {result.cached} from the store, {result.failed} failed, "
              f"{result.skipped} skipped")
        print(f"tokens: {result.prompt_tokens} prompt + {result.completion_tokens} completion; "
              f"cost {format_cost(result.cost_usd)}")
        if result.skipped:
            for reason, n in skip_reasons(project).items():
                print(f"  skipped {n}: {reason}")
        if result.failed:
            print(f"{result.failed} requests failed; they are stored with their reason and "
                  "are asked again by the next `harlab query`")
    return 1 if result.failed else 0
