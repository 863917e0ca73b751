"""Talking to an OpenAI-compatible server: client, messages with PNG data URLs, retries.

Retries are HARLab's, not the ``openai`` client's (made with ``max_retries=0``): 429, 408,
5xx, timeouts, dropped connections and malformed 200 bodies are retried with exponential
backoff (``backoff_s`` doubling, capped at ``max_backoff_s``), and a ``Retry-After`` (or
``retry-after-ms``) header sets the wait when the server sends one. Why not the client's own
``max_retries``, which also honours ``Retry-After``: it does not say how many attempts a failed
request took (each stored request records its attempts), it does not retry a 200 whose body is
not a chat completion, its waits cannot be interrupted (a cancelled study must not sit out a
30-s ``Retry-After``), its backoff is fixed at 0.5-8 s, and it ignores a long ``Retry-After``
(over 60 s or two minutes, by version). tenacity would express the loop below as
``Retrying(stop=..., wait=..., sleep=stop.wait)``, but it is not a dependency of HARLab; the
loop is short enough without it.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import json
import logging
import os
import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai

from harlab.errors import InputError, LLMError
from harlab.llm.config import LLMConfig

log = logging.getLogger(__name__)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_RETRY_AFTER_S = 600.0
_NO_KEY = "not-needed"  # local servers ignore the key, but the client insists on one


class RequestFailed(LLMError):
    """A request failed for good (after its retries, or at once for a non-retryable error)."""

    def __init__(self, message: str, attempts: int, raw: str | None = None):
        super().__init__(message)
        self.attempts = attempts
        self.raw = raw


class RequestCancelled(LLMError):
    """The job was stopped while this request waited to retry; it was not answered."""


@dataclass(frozen=True)
class ChatResult:
    """One answered request.

    Attributes:
        text: the first choice's message content.
        raw: the response body as received (text).
        model: the model that answered (as the server reports it: the snapshot, e.g.
            ``gpt-4o-2024-08-06``, not only the alias asked for).
        finish_reason: why generation stopped (``stop``; ``length`` = truncated).
        system_fingerprint: the server's configuration fingerprint, if any.
        prompt_tokens, completion_tokens: usage, if reported.
        latency_s: wall time of the successful attempt.
        attempts: attempts made, the successful one included.
    """

    text: str
    raw: str
    model: str
    finish_reason: str | None
    system_fingerprint: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_s: float
    attempts: int


_UNSET = object()


# ---------------------------------------------------------------------------- client
def api_key(config: LLMConfig) -> str:
    """The API key from ``os.environ[config.key_env]``, read now and never stored."""
    name = config.key_env
    if not name:
        return _NO_KEY
    key = os.environ.get(name, "").strip()
    if not key:
        raise LLMError(f"the environment variable {name} holding the API key for provider "
                       f"{config.provider!r} is not set; set it before starting HARLab "
                       f"(e.g. `export {name}=sk-...`) or choose another variable in the "
                       "settings. Keys are never saved by HARLab.")
    return key


def make_client(config: LLMConfig, base_url: str) -> Any:
    """An ``openai.OpenAI`` client for ``base_url`` without its own retries."""

    return openai.OpenAI(base_url=base_url, api_key=api_key(config), max_retries=0,
                         timeout=config.timeout_s)


# ---------------------------------------------------------------------------- messages
def read_png(path: str | Path) -> bytes:
    """The bytes of a PNG file; anything else is refused (JPEG would erase the attack)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"frame {str(path)!r} cannot be read ({exc.strerror}); expected a PNG "
                         "written by the attack stage. Re-run the attack stage.") from exc
    if not data.startswith(PNG_MAGIC):
        raise InputError(f"frame {str(path)!r} is not a PNG; frames are sent losslessly as PNG "
                         "so the perturbation survives. Re-run the attack stage.")
    return data


def png_data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def build_messages(text: str, images: Sequence[bytes] = (), *, detail: str = "auto",
                   system: str | None = None) -> list[dict[str, Any]]:
    """Chat messages: an optional system message, then the user text and its PNG images."""
    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": system})
    if images:
        content: list[dict[str, Any]] = [{"type": "text", "text": text}]
        content += [{"type": "image_url", "image_url": {"url": png_data_url(img),
                                                        "detail": detail}} for img in images]
        messages.append({"role": "user", "content": content})
    else:
        messages.append({"role": "user", "content": text})
    return messages


def request_body(config: LLMConfig, messages: list[dict[str, Any]], *,
                 seed: int | None | object = _UNSET) -> dict[str, Any]:
    """The exact JSON body of a chat completion request (``seed`` overrides the config's)."""
    body: dict[str, Any] = {"model": config.model_name, "messages": messages,
                            "max_tokens": config.max_tokens}
    if config.temperature is not None:
        body["temperature"] = config.temperature
    seed = config.seed if seed is _UNSET else seed
    if seed is not None:
        body["seed"] = seed
    return body


def body_by_reference(body: Mapping[str, Any], refs: Mapping[str, str]) -> dict[str, Any]:
    """``body`` with each image data URL replaced by ``refs[url]`` (a path and its sha256)."""
    def walk(obj: Any) -> Any:
        if isinstance(obj, dict):
            if obj.get("type") == "image_url":
                url = obj["image_url"]["url"]
                return {"type": "image_url",
                        "image_url": {**obj["image_url"], "url": refs.get(url, _digest_url(url))}}
            return {k: walk(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [walk(v) for v in obj]
        return obj
    return walk(dict(body))


def _digest_url(url: str) -> str:
    return "sha256:" + hashlib.sha256(url.encode("ascii")).hexdigest()


# ---------------------------------------------------------------------------- retries
def retry_after_s(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    if not headers:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if value else None
        if when is None:
            return None
        return max(0.0, when.timestamp() - time.time())


class _Retryable(Exception):
    def __init__(self, reason: str, wait_s: float | None = None, raw: str | None = None):
        super().__init__(reason)
        self.reason, self.wait_s, self.raw = reason, wait_s, raw


def _attempt(client: Any, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """One attempt: the parsed body and its raw text, or an exception saying what happened."""

    try:
        response = client.chat.completions.with_raw_response.create(**body)
    except openai.APITimeoutError as exc:
        raise _Retryable("timed out waiting for the server") from exc
    except openai.APIConnectionError as exc:
        raise _Retryable(f"connection failed ({exc})") from exc
    except openai.APIStatusError as exc:
        status = exc.status_code
        text = _short(exc.response.text if exc.response is not None else str(exc))
        if status == 429 or status >= 500 or status == 408:
            headers = exc.response.headers if exc.response is not None else None
            raise _Retryable(f"HTTP {status}: {text}", retry_after_s(headers), text) from exc
        raise RequestFailed(f"HTTP {status}: {text} (not retried: fix the request or the "
                            "settings)", attempts=1, raw=text) from exc
    raw = response.http_response.text
    try:
        data = json.loads(raw)
        message = data["choices"][0]["message"]
        content = message.get("content")
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise TypeError("content is not a string")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise _Retryable(f"malformed response body ({type(exc).__name__}: {exc}): "
                         f"{_short(raw)}", raw=raw) from exc
    return data, raw


def chat(client: Any, body: dict[str, Any], *, max_retries: int = 4, backoff_s: float = 1.0,
         max_backoff_s: float = 60.0, stop: threading.Event | None = None) -> ChatResult:
    """Send ``body`` with retries; returns the answer or raises :class:`RequestFailed`.

    ``stop`` aborts the waits between attempts (raising :class:`RequestCancelled`), never an
    attempt already sent.
    """
    stop = stop or threading.Event()
    for attempt in range(1, max_retries + 2):
        started = time.perf_counter()
        try:
            data, raw = _attempt(client, body)
        except RequestFailed as exc:
            exc.attempts = attempt
            raise
        except _Retryable as exc:
            if attempt > max_retries:
                raise RequestFailed(f"{exc.reason} (gave up after {attempt} attempts)",
                                    attempts=attempt, raw=exc.raw) from None
            wait = _wait_s(exc, attempt, backoff_s, max_backoff_s)
            log.info("attempt %d failed (%s); retrying in %.2f s", attempt, exc.reason, wait)
            if stop.wait(wait):
                raise RequestCancelled(f"stopped while waiting to retry after "
                                       f"{exc.reason}") from None
            continue
        return _result(data, raw, body, time.perf_counter() - started, attempt)
    raise AssertionError("unreachable: the last attempt returns or raises")


def _wait_s(exc: _Retryable, attempt: int, backoff_s: float, max_backoff_s: float) -> float:
    """The server's Retry-After when it sent one (only absurd values are cut), else the
    exponential backoff with up to 25 % jitter, capped."""
    if exc.wait_s is not None:
        return min(exc.wait_s, MAX_RETRY_AFTER_S)
    return min(backoff_s * 2 ** (attempt - 1) * (1.0 + 0.25 * random.random()), max_backoff_s)


def _result(data: dict[str, Any], raw: str, body: dict[str, Any], latency_s: float,
            attempts: int) -> ChatResult:
    choice = data["choices"][0]
    usage = data.get("usage") or {}
    return ChatResult(
        text=choice["message"].get("content") or "", raw=raw,
        model=str(data.get("model") or body.get("model")),
        finish_reason=choice.get("finish_reason"),
        system_fingerprint=data.get("system_fingerprint"),
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"), latency_s=latency_s,
        attempts=attempts)


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."
