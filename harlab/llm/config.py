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
from pathlib import Path
from typing import Any

from harlab.errors import InputError
from harlab.fields import from_strings, setting
from harlab.validation import check_range
from harlab.vocab import BUILTIN_PROVIDER

BUILTIN_MODEL = "SmolLM2-135M-Instruct"
IMAGE_DETAILS = ("auto", "low", "high")
#: How the built-in server joins a local VLM's images and text: ``mtmd`` = llama.cpp's
#: multimodal library with the chat template stored in the model GGUF (SmolVLM, Qwen2.5-VL,
#: Gemma 3...); the others are llama-cpp-python's fixed-format handlers for older models.
VLM_CHAT_FORMATS = ("mtmd", "llava-1-5", "llava-1-6", "qwen2.5-vl", "minicpm-v-2.6",
                    "moondream", "nanollava")


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
        Preset(BUILTIN_PROVIDER, None, BUILTIN_MODEL, "", False,
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
        concurrency: requests in flight at once (8: the built-in server's slots; a remote
            provider's rate limits are met by the retries and their ``Retry-After`` waits).
        image_detail: the ``detail`` of each image part: auto, low or high.
        supports_images: None = from the preset, else from the model name.
        vlm_model, vlm_mmproj: a local vision-language model for the ``builtin`` provider:
            its model GGUF and its ``mmproj`` projector GGUF (both or neither). The built-in
            server then runs this model instead of SmolLM2, and it takes images.
        vlm_chat_format: how the server formats the VLM's prompts (:data:`VLM_CHAT_FORMATS`).
    """

    provider: str = setting("builtin", key="llm/provider", label="Provider",
                            choices=tuple(PROVIDER_PRESETS))
    base_url: str | None = setting(None, key="llm/base_url", label="Base URL",
                                   help="unset: the provider's endpoint")
    model: str | None = setting(None, key="llm/model", label="Model",
                                help="unset: the provider's default model")
    api_key_env: str | None = setting(None, key="llm/api_key_env", label="API key variable",
                                      help="the NAME of the environment variable holding the "
                                           "key (never the key itself)")
    temperature: float | None = setting(0.7, key="llm/temperature", label="Temperature",
                                        low=0.0, high=2.0,
                                        hint="e.g. 0.7; or unset for the provider's default",
                                        help="unset: the provider's default")
    seed: int | None = setting(0, key="llm/seed", label="Seed", blank_is_none=True)
    max_tokens: int = setting(512, key="llm/max_tokens", label="Max tokens", low=1, high=32768)
    timeout_s: float = setting(120.0, key="llm/timeout_s", label="Timeout per attempt (s)",
                               low=0.01, high=3600.0, hint="e.g. 120")
    max_retries: int = setting(4, key="llm/max_retries", label="Retries", low=0, high=20)
    backoff_s: float = setting(1.0, key="llm/backoff_s", label="First retry delay (s)",
                               low=0.0, high=600.0, hint="e.g. 1")
    max_backoff_s: float = setting(60.0, key="llm/max_backoff_s",
                                   label="Longest retry delay (s)", low=0.0, high=3600.0,
                                   hint="e.g. 60")
    concurrency: int = setting(8, key="llm/concurrency", label="Concurrent requests", low=1,
                               high=64)
    image_detail: str = setting("auto", key="llm/image_detail", label="Image detail",
                                choices=IMAGE_DETAILS)
    supports_images: bool | None = setting(None, key="llm/supports_images",
                                           label="Model takes images", none_text="auto",
                                           help="Whether the model accepts images (multimodal "
                                                "queries); auto guesses from the provider and "
                                                "model name")
    vlm_model: str | None = setting(None, key="llm/vlm_model", label="Local VLM model (GGUF)",
                                    kind="file",
                                    help="builtin provider only: a vision-language model's "
                                         "GGUF file, e.g. SmolVLM-256M-Instruct-Q8_0.gguf; "
                                         "unset: SmolLM2 (text only)")
    vlm_mmproj: str | None = setting(None, key="llm/vlm_mmproj",
                                     label="Local VLM projector (mmproj GGUF)", kind="file",
                                     help="the model's image projector, e.g. "
                                          "mmproj-SmolVLM-256M-Instruct-Q8_0.gguf, from the "
                                          "same model page")
    vlm_chat_format: str = setting("mtmd", key="llm/vlm_chat_format",
                                   label="Local VLM chat format", choices=VLM_CHAT_FORMATS,
                                   help="mtmd: the chat template stored in the model GGUF")

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
        if self.seed is not None and (not isinstance(self.seed, int) or isinstance(self.seed, bool)
                                      or not -2**63 <= self.seed < 2**63):
            raise InputError(f"seed must be a whole number or None, got {self.seed!r}")
        for f in dataclasses.fields(self):  # the ranges are in the fields' metadata
            low, high, value = f.metadata["low"], f.metadata["high"], getattr(self, f.name)
            if low is None or value is None:
                continue
            if isinstance(f.default, int):
                _check_int(f.name, value, low, high)
            else:
                _check_number(f.name, value, low, high, f.metadata["hint"])
        if self.image_detail not in IMAGE_DETAILS:
            raise InputError(f"image_detail must be one of {', '.join(IMAGE_DETAILS)}, got "
                             f"{self.image_detail!r}")
        if self.supports_images is not None and not isinstance(self.supports_images, bool):
            raise InputError(f"supports_images must be true, false or unset, got "
                             f"{self.supports_images!r}")
        self._check_vlm()

    def _check_vlm(self) -> None:
        for name in ("vlm_model", "vlm_mmproj"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise InputError(f"{name} must be the path of a .gguf file or unset, got "
                                 f"{value!r}")
        if (self.vlm_model is None) != (self.vlm_mmproj is None):
            given, missing = (("vlm_model", "vlm_mmproj") if self.vlm_mmproj is None
                              else ("vlm_mmproj", "vlm_model"))
            raise InputError(f"{given} is set but {missing} is not: a local vision-language "
                             "model needs both its model GGUF (vlm_model) and its mmproj "
                             "projector GGUF (vlm_mmproj)")
        if self.vlm_chat_format not in VLM_CHAT_FORMATS:
            raise InputError(f"vlm_chat_format must be one of {', '.join(VLM_CHAT_FORMATS)}, "
                             f"got {self.vlm_chat_format!r}")

    # ------------------------------------------------------------------ resolved values
    @property
    def preset(self) -> Preset:
        return PROVIDER_PRESETS[self.provider]

    @property
    def model_name(self) -> str:
        if self.model is None and self.local_vlm:
            return Path(self.vlm_model or "").name.removesuffix(".gguf")
        return self.model or self.preset.default_model

    @property
    def local_vlm(self) -> bool:
        """Whether the built-in server runs a local vision-language model (not SmolLM2)."""
        return self.is_builtin and self.vlm_model is not None

    @property
    def key_env(self) -> str:
        return self.preset.api_key_env if self.api_key_env is None else self.api_key_env

    @property
    def is_builtin(self) -> bool:
        """Whether requests go to the built-in model on the local server HARLab starts (the
        ``builtin`` provider with no ``base_url`` of its own)."""
        return self.provider == BUILTIN_PROVIDER and not self.base_url

    @property
    def takes_images(self) -> bool:
        if self.supports_images is not None:
            return self.supports_images
        if self.is_builtin and self.model is None:
            return self.local_vlm
        if self.preset.supports_images is not None and self.model is None:
            return self.preset.supports_images
        return model_takes_images(self.model_name)

    def to_dict(self) -> dict[str, Any]:
        """Every field (no secret: only the key's variable name)."""
        return dataclasses.asdict(self)

    # ------------------------------------------------------------------ from settings
    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> LLMConfig:
        """Build from strings (QSettings, CLI, YAML); keys with or without an ``llm/`` prefix.

        Empty strings mean "unset" (the preset's value), except for ``seed``, where "" or
        "none" means no seed. Unknown keys are rejected with the list of valid ones.
        """
        return from_strings(cls, values, noun="LLM")


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
