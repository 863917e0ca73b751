"""Does the configured language model answer, with text and with an image?

:func:`check_llm` is what ``harlab llm check`` runs: it says what is configured, starts the
built-in server when that is the provider, and sends one text request and one request with a
small PNG, through the same client code the study uses. Each outcome is reported, never raised,
so that a lab sees at once which arm of the study can run.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from harlab.errors import LLMError
from harlab.llm import client as llm_client
from harlab.llm import local_server
from harlab.llm.config import LLMConfig

TEXT_PROMPT = "Say hello in one short sentence."
IMAGE_PROMPT = "What colour is this image? Answer with one word."
#: How a lab adds a vision-language model to the built-in provider (one line).
VLM_HINT = ("to add images offline, download a vision-language model's GGUF and its mmproj "
            "GGUF (e.g. SmolVLM-256M-Instruct) and pass --vlm-model FILE --vlm-mmproj FILE "
            "(or set them in Settings); see the README, 'A local vision-language model'")


@dataclass
class Probe:
    """One request's outcome: ``ok``, ``unsupported`` (no images configured) or ``failed``."""

    status: str
    detail: str


@dataclass
class CheckReport:
    """What is configured and what answered."""

    setup: list[tuple[str, str]] = field(default_factory=list)
    text: Probe = field(default_factory=lambda: Probe("failed", "not sent"))
    image: Probe = field(default_factory=lambda: Probe("failed", "not sent"))

    @property
    def ok(self) -> bool:
        """Text answers, and images answer unless the model is known to take none."""
        return self.text.status == "ok" and self.image.status in ("ok", "unsupported")


def red_png(size: int = 32) -> bytes:
    """A ``size`` x ``size`` plain red RGB PNG, written without an imaging library."""
    row = b"\x00" + b"\xd0\x10\x10" * size
    body = zlib.compress(row * size)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (llm_client.PNG_MAGIC + chunk(b"IHDR", header) + chunk(b"IDAT", body)
            + chunk(b"IEND", b""))


def describe(config: LLMConfig) -> list[tuple[str, str]]:
    """``(name, value)`` lines saying what ``config`` will ask."""
    lines = [("provider", f"{config.provider} ({config.preset.label})"),
             ("model", config.model_name)]
    if config.local_vlm:
        lines += [("model file", str(config.vlm_model)),
                  ("projector", f"{config.vlm_mmproj} (chat format {config.vlm_chat_format})")]
    elif config.is_builtin:
        try:
            lines.append(("model file", str(local_server.find_gguf())))
        except LLMError as exc:
            lines.append(("model file", f"missing: {exc}"))
        lines.append(("projector", "none (text only)"))
    lines.append(("takes images", "yes" if config.takes_images else "no"))
    return lines


def check_llm(config: LLMConfig, *, max_tokens: int = 24,
              on_step: Callable[[str], None] | None = None) -> CheckReport:
    """Start the server if needed and send one text and one image request.

    Args:
        config: the language model to check (its ``max_tokens`` is lowered to
            ``max_tokens``, its retries to none: a check should be quick).
        on_step: called with a short message before each slow step.
    """
    step = on_step or (lambda message: None)
    config = LLMConfig(**{**config.to_dict(), "max_tokens": max_tokens, "max_retries": 0})
    report = CheckReport(setup=describe(config))
    try:
        if config.base_url:
            base_url = config.base_url
        elif config.is_builtin:
            step("starting the built-in server")
            base_url = local_server.ensure_builtin_server(config)
            server = local_server.builtin_server(config)
            engine = ("llama-server, " f"{server.slots} requests at once" if server.engine ==
                      "llama-server" else "llama-cpp-python's server, one request at a time")
            report.setup.append(("server", f"{engine} at {base_url}"))
        else:
            base_url = config.preset.base_url or ""
        client = llm_client.make_client(config, base_url)
    except LLMError as exc:
        report.text = Probe("failed", str(exc))
        report.image = Probe("failed", "not sent: the server did not start")
        return report
    step("sending a text request")
    report.text = _ask(client, config, llm_client.build_messages(TEXT_PROMPT))
    step("sending an image request")
    image = _ask(client, config, llm_client.build_messages(
        IMAGE_PROMPT, [red_png()], detail=config.image_detail))
    if not config.takes_images:
        note = (f"the server refused it: {image.detail[:100]}" if image.status == "failed"
                else "the answer cannot have seen it")
        image = Probe("unsupported", f"not supported: {config.model_name} takes no images "
                                     f"({note})")
    report.image = image
    return report


def _ask(client: object, config: LLMConfig, messages: list[dict]) -> Probe:
    body = llm_client.request_body(config, messages)
    try:
        result = llm_client.chat(client, body, max_retries=0)
    except LLMError as exc:
        return Probe("failed", str(exc))
    text = " ".join(result.text.split())
    return Probe("ok", f"{text[:80]!r} ({result.latency_s:.1f} s)")
