"""``harlab llm``: the language model itself (``harlab llm check``)."""

from __future__ import annotations

import argparse
import sys

from harlab.llm.config import PROVIDER_PRESETS, VLM_CHAT_FORMATS, LLMConfig


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("llm", help="check the language model: what is configured, and "
                                   "whether it answers text and images")
    psub = p.add_subparsers(dest="llm_command", metavar="ACTION", required=True)
    check = psub.add_parser(
        "check", help="start the model's server, send one text and one image request",
        description="Say which language model is configured, start the built-in server if "
                    "that is the provider, send one text request and one request with a small "
                    "PNG, and report which works. Exit status 0 when text works and images "
                    "either work or are not expected (a text-only model), else 1.")
    check.add_argument("--provider", choices=list(PROVIDER_PRESETS), default="builtin",
                       help="builtin = SmolLM2 (or --vlm-model) on a local llama.cpp server")
    check.add_argument("--base-url", help="OpenAI-compatible endpoint (default: the provider's)")
    check.add_argument("--model", help="model name (default: the provider's)")
    check.add_argument("--api-key-env", help="NAME of the environment variable holding the key")
    check.add_argument("--vlm-model", metavar="FILE",
                       help="a local vision-language model's GGUF for the builtin provider")
    check.add_argument("--vlm-mmproj", metavar="FILE",
                       help="its mmproj projector GGUF (from the same model page)")
    check.add_argument("--vlm-chat-format", choices=VLM_CHAT_FORMATS, default="mtmd",
                       help="mtmd (default): the chat template stored in the model GGUF")
    check.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    check.set_defaults(func=_cmd_check)


def _cmd_check(args: argparse.Namespace) -> int:
    from harlab.llm.check import VLM_HINT, check_llm

    config = LLMConfig(provider=args.provider, base_url=args.base_url, model=args.model,
                       api_key_env=args.api_key_env, vlm_model=args.vlm_model,
                       vlm_mmproj=args.vlm_mmproj, vlm_chat_format=args.vlm_chat_format,
                       timeout_s=args.timeout)
    report = check_llm(config, on_step=lambda message: print(f"... {message}",
                                                               file=sys.stderr, flush=True))
    for name, value in report.setup:
        print(f"{name + ':':<14}{value}")
    print(f"{'text:':<14}{'works' if report.text.status == 'ok' else 'FAILS'}: "
          f"{report.text.detail}")
    image = {"ok": "works", "unsupported": "not supported", "failed": "FAILS"}[report.image.status]
    detail = report.image.detail.removeprefix("not supported: ")
    print(f"{'images:':<14}{image}: {detail}")
    if report.image.status == "unsupported" and config.is_builtin:
        print(f"{'':<14}{VLM_HINT}")
    return 0 if report.ok else 1
