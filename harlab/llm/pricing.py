"""Cost estimates per model: list prices, an ESTIMATE only.

Prices are US dollars per million tokens as published by the providers on the date below;
they change; the Batch API's discount (half) is applied by :func:`batch_cost`, cached input is
ignored. Local servers cost nothing. Unknown models have no estimate (None), never a guess.
:func:`estimate_query_cost` works out tokens, cost and time of requests before they are sent.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Any

from harlab.vocab import BUILTIN_PROVIDER

PRICES_AS_OF = "2025-06-01"
ESTIMATE_NOTE = f"estimate from list prices as of {PRICES_AS_OF}; check your provider's bill"

# model name prefix -> (USD per 1M input tokens, USD per 1M output tokens). Longest prefix wins.
PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-2024-05-13": (5.00, 15.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4-turbo": (10.00, 30.00),
    "o4-mini": (1.10, 4.40),
    "o3": (2.00, 8.00),
}
LOCAL_PROVIDERS = {BUILTIN_PROVIDER, "ollama", "vllm", "llamacpp", "lmstudio"}


def price_for(provider: str, model: str) -> tuple[float, float] | None:
    """(input, output) USD per 1M tokens, 0 for local servers, None when unknown."""
    if provider in LOCAL_PROVIDERS:
        return (0.0, 0.0)
    matches = [p for p in PRICES_PER_MTOK if model.startswith(p)]
    if not matches:
        return None
    return PRICES_PER_MTOK[max(matches, key=len)]


def estimate_cost(provider: str, model: str, prompt_tokens: int | None,
                  completion_tokens: int | None) -> float | None:
    """Estimated USD for one request (or a total), None when the model's price is unknown."""
    price = price_for(provider, model)
    if price is None:
        return None
    return ((prompt_tokens or 0) * price[0] + (completion_tokens or 0) * price[1]) / 1e6


def format_cost(usd: float | None) -> str:
    if usd is None:
        return "cost unknown (no price for this model)"
    return f"~${usd:.4f} (estimate)"


# ---------------------------------------------------------------------------- before sending
#: OpenAI's Batch API bills input and output at half the list price.
BATCH_DISCOUNT = 0.5
CHARS_PER_TOKEN = 4  # English text averages ~4 characters a token for GPT tokenizers
MESSAGE_OVERHEAD_TOKENS = 4


def batch_cost(cost_usd: float | None) -> float | None:
    """The same requests' cost through the Batch API (half), None when unknown."""
    return None if cost_usd is None else cost_usd * BATCH_DISCOUNT


def image_tokens(width: int, height: int, detail: str = "auto") -> int:
    """Prompt tokens of one image for GPT-4o-class models (OpenAI's published tile rule).

    ``low``: 85. Otherwise the image is scaled to fit 2048 x 2048, then its short side to 768,
    and costs 85 + 170 per 512 px tile. A 224 px keyframe is one tile: 255 tokens.
    """
    if detail == "low":
        return 85
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    w, h = w * scale, h * scale
    tiles = math.ceil(w / 512) * math.ceil(h / 512)
    return 85 + 170 * tiles


def _png_size(data_url: str) -> tuple[int, int] | None:
    try:
        head = base64.b64decode(data_url.split(",", 1)[1][:44])
    except (IndexError, ValueError):
        return None
    if head[:8] != b"\x89PNG\r\n\x1a\n" or len(head) < 24:
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def estimate_prompt_tokens(body: dict[str, Any]) -> int:
    """Prompt tokens of a chat request body, estimated without a tokenizer (+-15% on text)."""
    tokens = 0
    for message in body.get("messages", []):
        tokens += MESSAGE_OVERHEAD_TOKENS
        content = message.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for part in parts or []:
            if part.get("type") == "text":
                tokens += math.ceil(len(part.get("text", "")) / CHARS_PER_TOKEN)
            elif part.get("type") == "image_url":
                image = part.get("image_url", {})
                size = _png_size(image.get("url", "")) or (512, 512)
                tokens += image_tokens(*size, image.get("detail", "auto"))
    return tokens


@dataclass(frozen=True)
class QueryEstimate:
    """What sending a set of requests would cost and take, worked out before sending.

    Attributes:
        requests: requests to send (stored answers and skips excluded).
        cached, skipped: requests answered from the store / never sent.
        prompt_tokens: estimated from the bodies (text ~4 chars a token, images by tiles).
        completion_tokens: expected from this model's stored answers, else ``max_tokens``
            each (an upper bound); ``completion_basis`` says which.
        cost_usd, batch_cost_usd: list price / Batch API price; None when the price is unknown.
        time_s: ``ceil(requests / concurrency) * latency`` for the direct path.
    """

    provider: str
    model: str
    requests: int
    cached: int
    skipped: int
    prompt_tokens: int
    completion_tokens: int
    completion_basis: str
    cost_usd: float | None
    batch_cost_usd: float | None
    time_s: float
    latency_s: float
    concurrency: int

    def __str__(self) -> str:
        local = self.provider in LOCAL_PROVIDERS  # no bill, and no Batch API to price
        lines = [
            f"{self.requests} requests to send to {self.provider}:{self.model} "
            f"({self.cached} answered from the store, {self.skipped} skipped)",
            f"  tokens: ~{self.prompt_tokens:,} prompt + ~{self.completion_tokens:,} completion "
            f"({self.completion_basis})",
            f"  direct:    {'no charge (a local model)' if local else format_cost(self.cost_usd)}"
            f", ~{_duration(self.time_s)} at {self.concurrency} in flight x "
            f"{self.latency_s:.1f} s a request"]
        if not local:
            lines += [f"  Batch API: {format_cost(self.batch_cost_usd)} (half price), within "
                      "24 h (usually much sooner)", f"  {ESTIMATE_NOTE}"]
        return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def estimate_query_cost(provider: str, model: str, bodies: list[dict[str, Any]], *,
                        cached: int = 0, skipped: int = 0, max_tokens: int = 512,
                        mean_completion_tokens: float | None = None,
                        latency_s: float | None = None, concurrency: int = 1) -> QueryEstimate:
    """Cost and time of sending ``bodies`` directly and through the Batch API."""
    prompt = sum(estimate_prompt_tokens(b) for b in bodies)
    if mean_completion_tokens is not None:
        completion = round(mean_completion_tokens * len(bodies))
        basis = f"mean {mean_completion_tokens:.0f} of this model's stored answers"
    else:
        completion = sum(int(b.get("max_tokens") or max_tokens) for b in bodies)
        basis = "max_tokens each: an upper bound, no stored answers yet"
    latency = latency_s if latency_s is not None else DEFAULT_LATENCY_S
    cost = estimate_cost(provider, model, prompt, completion)
    return QueryEstimate(provider=provider, model=model, requests=len(bodies), cached=cached,
                         skipped=skipped, prompt_tokens=prompt, completion_tokens=completion,
                         completion_basis=basis, cost_usd=cost, batch_cost_usd=batch_cost(cost),
                         time_s=math.ceil(len(bodies) / max(1, concurrency)) * latency,
                         latency_s=latency, concurrency=concurrency)


DEFAULT_LATENCY_S = 5.0  # a GPT-4o answer of a few hundred tokens, when nothing is stored
