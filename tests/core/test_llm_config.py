"""LLMConfig validation, presets and settings parsing."""

from __future__ import annotations

import dataclasses

import pytest

from harlab.errors import InputError
from harlab.llm.config import PROVIDER_PRESETS, LLMConfig, model_takes_images
from harlab.llm.pricing import estimate_cost, format_cost, price_for


def test_defaults_are_the_offline_builtin_model():
    cfg = LLMConfig()
    assert cfg.provider == "builtin" and cfg.base_url is None
    assert cfg.model_name == "SmolLM2-135M-Instruct" and not cfg.takes_images
    assert cfg.temperature == 0.7 and cfg.max_tokens == 512 and cfg.key_env == ""


def test_presets_cover_the_issue():
    assert set(PROVIDER_PRESETS) == {"builtin", "openai", "ollama", "vllm", "llamacpp",
                                     "lmstudio"}
    openai = LLMConfig(provider="openai")
    assert openai.model_name == "gpt-4o" and openai.key_env == "OPENAI_API_KEY"
    assert openai.takes_images


def test_image_support_guess_and_override():
    assert model_takes_images("gpt-4o-mini") and model_takes_images("llava:13b")
    assert model_takes_images("Qwen/Qwen2.5-VL-3B-Instruct")
    assert not model_takes_images("llama3.1:8b") and not model_takes_images("SmolLM2")
    assert not LLMConfig(provider="ollama", model="llama3.1").takes_images
    assert LLMConfig(provider="ollama", model="llama3.1", supports_images=True).takes_images
    assert not LLMConfig(provider="openai", supports_images=False).takes_images


def test_from_mapping_reads_qsettings_strings():
    cfg = LLMConfig.from_mapping({
        "llm/provider": "ollama", "llm/base_url": "http://10.0.0.2:11434/v1",
        "llm/model": "llava", "llm/api_key_env": "", "llm/temperature": "0.5",
        "llm/seed": "42", "llm/max_tokens": "128.0", "llm/concurrency": 3,
        "llm/image_detail": "high", "supports_images": "auto"})
    assert (cfg.provider, cfg.base_url, cfg.model, cfg.temperature, cfg.seed) == (
        "ollama", "http://10.0.0.2:11434/v1", "llava", 0.5, 42)
    assert (cfg.max_tokens, cfg.concurrency, cfg.image_detail) == (128, 3, "high")
    assert cfg.key_env == ""  # "" means unset -> the preset's (none for ollama)
    assert dataclasses.replace(cfg, seed=None).seed is None
    assert LLMConfig.from_mapping({"llm/seed": ""}).seed is None  # the dialog's "none"
    assert LLMConfig.from_mapping({}).seed == 0
    assert LLMConfig.from_mapping({"llm/temperature": "default"}).temperature is None


@pytest.mark.parametrize("values, match", [
    ({"provider": "anthropic"}, "unknown LLM provider 'anthropic'; valid providers: builtin"),
    ({"base_url": "localhost:8000"}, "base_url must be an http"),
    ({"temperature": "3"}, r"temperature must be a number in \[0, 2\]"),
    ({"temperature": "hot"}, "temperature must be a number, got 'hot'"),
    ({"seed": "1.5"}, "seed must be a whole number"),
    ({"max_tokens": "0"}, r"max_tokens must be a whole number in \[1, 32768\], got 0"),
    ({"concurrency": "100"}, "concurrency must be a whole number"),
    ({"image_detail": "ultra"}, "image_detail must be one of auto, low, high"),
    ({"api_key_env": "sk-abc123"}, "NAME of an environment variable"),
    ({"supports_images": "maybe"}, "supports_images must be true, false or auto"),
    ({"colour": "red"}, "unknown LLM setting 'colour'; valid settings: provider"),
    ({"timeout_s": "0"}, "timeout_s must be a number"),
])
def test_bad_settings_are_rejected(values, match):
    with pytest.raises(InputError, match=match):
        LLMConfig.from_mapping(values)


def test_direct_construction_is_validated_too():
    with pytest.raises(InputError, match="model must be a non-empty name"):
        LLMConfig(model=" ")
    with pytest.raises(InputError, match="max_retries must be a whole number"):
        LLMConfig(max_retries=True)
    with pytest.raises(InputError, match="seed must be a whole number or None"):
        LLMConfig(seed=1.0)


def test_config_never_holds_the_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    cfg = LLMConfig(provider="openai")
    assert "sk-very-secret" not in repr(cfg.to_dict())


def test_cost_estimates():
    assert price_for("openai", "gpt-4o-2024-08-06") == (2.5, 10.0)
    assert price_for("openai", "gpt-4o-mini") == (0.15, 0.6)
    assert price_for("builtin", "SmolLM2-135M-Instruct") == (0.0, 0.0)
    assert price_for("openai", "my-finetune") is None
    assert estimate_cost("openai", "gpt-4o", 1_000_000, 100_000) == pytest.approx(3.5)
    assert estimate_cost("openai", "unknown", 10, 10) is None
    assert "estimate" in format_cost(0.01) and "unknown" in format_cost(None)
