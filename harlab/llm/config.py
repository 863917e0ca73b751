"""Which language model to ask, and how: :class:`LLMConfig` and the provider presets.

Every provider is reached through the ``openai`` client; a provider is only a ``base_url``, a
default model, the *name* of the environment variable that holds its API key (never the key
itself) and whether its default model takes images.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harlab.errors import InputError
from harlab.validation import check_range

BUILTIN_MODEL = "SmolLM2-135M-Instruct"
IMAGE_DETAILS = ("auto", "low", "high")


@dataclass(frozen=True)
class Preset:
    """A provider's defaults.

    Attributes:
        name: the key in :data:`PROVIDER_PRESETS`.
        base_url: the OpenAI-compatible endpoint, or None for the built-in server (started on
            demand on a free loopback port).
        default_model: the model asked when the user names none.
        api_key_env: environment variable holding the key; "" for servers that need none.
        supports_images: whether the default model takes images; None = guess from the name.
        label: a short human-readable description for settings dialogs.
    """

    name: str
    base_url: str | None
    default_model: str
    api_key_env: str
    supports_images: bool | None
    label: str


PROVIDER_PRESETS: dict[str, Preset] = {
    p.name: p for p in (
        Preset("builtin", None, BUILTIN_MODEL, "", False,
               "Built-in SmolLM2-135M (llama.cpp, offline, text only)"),
        Preset("openai", "https://api.openai.com/v1", "gpt-4o", "OPENAI_API_KEY", None,
               "OpenAI (GPT-4o, as in the paper)"),
        Preset("ollama", "http://localhost:11434/v1", "llama3.2-vision", "", None,
               "Ollama on this machine"),
        Preset("vllm", "http://localhost:8000/v1", "Qwen/Qwen2.5-VL-3B-Instruct", "", None,
               "vLLM server"),
        Preset("llamacpp", "http://localhost:8080/v1", "local", "", None,
               "llama.cpp server (llama-server)"),
        Preset("lmstudio", "http://localhost:1234/v1", "local-model", "", None,
               "LM Studio local server"),
    )
}

# Model names that take images, for presets that leave it to the model (None above).
_VISION_MODEL = re.compile(
    r"gpt-4o|gpt-4\.1|gpt-4-turbo|gpt-4-vision|gpt-5|\bo[134]\b|o[134]-|vision|llava|bakllava|"
    r"[-_.]vl\b|[-_]vl[-_]|qwen2(\.5)?-?vl|pixtral|gemma-?3|minicpm-v|moondream|idefics|"
    r"internvl|phi-?3(\.5)?-vision|molmo|smolvlm",
    re.IGNORECASE,
)


def model_takes_images(model: str) -> bool:
    """Best guess from a model name; override with ``LLMConfig.supports_images``."""
    return bool(_VISION_MODEL.search(model))


@dataclass(frozen=True)
class LLMConfig:
    """How to query a language model; stored with every query run.

    Attributes:
        provider: a key of :data:`PROVIDER_PRESETS`.
        base_url: endpoint; None = the preset's (for ``builtin``: the local server).
        model: model name; None = the preset's default.
        api_key_env: environment variable read at request time; None = the preset's.
        temperature: sampling temperature; None sends none, so the provider's default applies
            (1.0 for GPT-4o: what the paper, which does not report one, used through the API).
            HARLab's default is 0.7, a stated non-zero value: every (sample, side, draw) is its
            own request, and at 0 the answers of samples with the same prompt would be copies
            rather than independent measurements. Measure the sampling spread with the
            noise-floor draws.
        seed: the study seed. Each request is sent its own seed derived from (this seed,
            sample, side, draw) (:func:`draw_seed`), so a local server's answers are
            reproducible and no two draws share one; None sends no seed.
        max_tokens: answer length cap, large enough for a whole answer (a truncated answer is
            flagged by its ``finish_reason``).
        timeout_s: per attempt.
        max_retries: extra attempts after a 429, 5xx, timeout or malformed body.
        backoff_s: first retry delay; doubles per attempt (a ``Retry-After`` header wins).
        max_backoff_s: cap on any single wait.
        concurrency: requests in flight at once.
        image_detail: the ``detail`` of each image part: auto, low or high.
        supports_images: None = from the preset, else from the model name.
    """

    provider: str = "builtin"
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    temperature: float | None = 0.7
    seed: int | None = 0
    max_tokens: int = 512
    timeout_s: float = 120.0
    max_retries: int = 4
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    concurrency: int = 4
    image_detail: str = "auto"
    supports_images: bool | None = None

    def __post_init__(self) -> None:
        if self.provider not in PROVIDER_PRESETS:
            raise InputError(f"unknown LLM provider {self.provider!r}; valid providers: "
                             f"{', '.join(PROVIDER_PRESETS)}")
        if self.base_url is not None and not re.match(r"^https?://[^\s/]+", self.base_url):
            raise InputError(f"base_url must be an http(s) URL such as "
                             f"http://localhost:11434/v1, got {self.base_url!r}")
        if self.model is not None and not self.model.strip():
            raise InputError("model must be a non-empty name such as 'gpt-4o', got ''; "
                             "leave it unset to use the provider's default")
        if self.api_key_env and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.api_key_env):
            raise InputError(f"api_key_env must be the NAME of an environment variable such "
                             f"as OPENAI_API_KEY, got {self.api_key_env!r} (never put the key "
                             "itself in the settings)")
        if self.temperature is not None:
            _check_number("temperature", self.temperature, 0.0, 2.0, "e.g. 0.7; or unset "
                          "for the provider's default")
        if self.seed is not None and (not isinstance(self.seed, int) or isinstance(self.seed, bool)
                                      or not -2**63 <= self.seed < 2**63):
            raise InputError(f"seed must be a whole number or None, got {self.seed!r}")
        _check_int("max_tokens", self.max_tokens, 1, 32768)
        _check_number("timeout_s", self.timeout_s, 0.01, 3600.0, "e.g. 120")
        _check_int("max_retries", self.max_retries, 0, 20)
        _check_number("backoff_s", self.backoff_s, 0.0, 600.0, "e.g. 1")
        _check_number("max_backoff_s", self.max_backoff_s, 0.0, 3600.0, "e.g. 60")
        _check_int("concurrency", self.concurrency, 1, 64)
        if self.image_detail not in IMAGE_DETAILS:
            raise InputError(f"image_detail must be one of {', '.join(IMAGE_DETAILS)}, got "
                             f"{self.image_detail!r}")
        if self.supports_images is not None and not isinstance(self.supports_images, bool):
            raise InputError(f"supports_images must be true, false or unset, got "
                             f"{self.supports_images!r}")

    # ------------------------------------------------------------------ resolved values
    @property
    def preset(self) -> Preset:
        return PROVIDER_PRESETS[self.provider]

    @property
    def model_name(self) -> str:
        return self.model or self.preset.default_model

    @property
    def key_env(self) -> str:
        return self.preset.api_key_env if self.api_key_env is None else self.api_key_env

    @property
    def takes_images(self) -> bool:
        if self.supports_images is not None:
            return self.supports_images
        if self.provider == "builtin" and self.model is None:
            return False
        if self.preset.supports_images is not None and self.model is None:
            return self.preset.supports_images
        return model_takes_images(self.model_name)

    def to_dict(self) -> dict[str, Any]:
        """Every field (no secret: only the key's variable name)."""
        return dataclasses.asdict(self)

    # ------------------------------------------------------------------ from settings
    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> LLMConfig:
        """Build from strings (QSettings, CLI, JSON); keys with or without an ``llm/`` prefix.

        Empty strings mean "unset" (the preset's value), except for ``seed``, where "" or
        "none" means no seed. Unknown keys are rejected with the list of valid ones.
        """
        fields = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for raw_key, value in values.items():
            key = raw_key[4:] if raw_key.startswith("llm/") else raw_key
            if key not in fields:
                raise InputError(f"unknown LLM setting {raw_key!r}; valid settings: "
                                 f"{', '.join(fields)}")
            if key == "seed" and (value is None or str(value).strip().lower() in {"", "none"}):
                kwargs[key] = None  # the settings dialog stores "" for "no seed"
                continue
            if key == "temperature" and str(value).strip().lower() in {"none", "default"}:
                kwargs[key] = None  # the provider's default temperature
                continue
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            kwargs[key] = _coerce(key, value)
        return cls(**kwargs)


_INT_FIELDS = {"seed", "max_tokens", "max_retries", "concurrency"}
_FLOAT_FIELDS = {"temperature", "timeout_s", "backoff_s", "max_backoff_s"}


def _coerce(key: str, value: Any) -> Any:
    if key in _INT_FIELDS:
        if isinstance(value, bool):
            raise InputError(f"{key} must be a whole number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InputError(f"{key} must be a whole number, got {value!r}") from None
        if not number.is_integer():
            raise InputError(f"{key} must be a whole number, got {value!r}")
        return int(number)
    if key in _FLOAT_FIELDS:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise InputError(f"{key} must be a number, got {value!r}") from None
    if key == "supports_images":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"true", "1", "yes"}:
            return True
        if text in {"false", "0", "no"}:
            return False
        if text in {"auto", "none"}:
            return None
        raise InputError(f"supports_images must be true, false or auto, got {value!r}")
    return str(value).strip()


def _check_number(name: str, value: Any, low: float, high: float, hint: str) -> None:
    check_range(name, value, low, high, hint=hint)


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(f"{name} must be a whole number in [{low}, {high}], got {value!r}")


def draw_seed(study_seed: int, sample_id: int, variant: str, draw: int = 0) -> int:
    """The seed of one request: stable across runs, different for every (sample, side, draw).

    Derived with SHA-256 (not Python's salted ``hash``) into ``[0, 2**31)``, which every
    OpenAI-compatible server accepts.
    """
    text = f"{study_seed}:{sample_id}:{variant}:{draw}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:4], "big") & 0x7FFFFFFF
