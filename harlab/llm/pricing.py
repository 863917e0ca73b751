"""Cost estimates per model: list prices, an ESTIMATE only.

Prices are US dollars per million tokens as published by the providers on the date below;
they change, and discounts (batch, cached input) are ignored. Local servers cost nothing.
Unknown models have no estimate (None), never a guess.
"""

from __future__ import annotations

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
LOCAL_PROVIDERS = {"builtin", "ollama", "vllm", "llamacpp", "lmstudio"}


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
