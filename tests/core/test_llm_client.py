"""The client layer: PNG data URLs, Retry-After parsing, retries and their failures."""

from __future__ import annotations

import base64
import threading
import time

import cv2
import numpy as np
import pytest

from harlab.errors import InputError, LLMError
from harlab.llm import client as c
from harlab.llm.config import LLMConfig
from tests.llm_server import FakeLLMServer


def _client(server, **kw):
    cfg = LLMConfig(provider="openai", base_url=server.base_url, api_key_env="", **kw)
    return cfg, c.make_client(cfg, server.base_url)


def test_png_frames_become_lossless_data_urls(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "f.png"), img)
    data = c.read_png(tmp_path / "f.png")
    msgs = c.build_messages("look", [data], detail="high", system="be brief")
    assert msgs[0] == {"role": "system", "content": "be brief"}
    part = msgs[1]["content"][1]
    assert part["image_url"]["detail"] == "high"
    decoded = base64.b64decode(part["image_url"]["url"].removeprefix("data:image/png;base64,"))
    assert np.array_equal(cv2.imdecode(np.frombuffer(decoded, np.uint8), cv2.IMREAD_COLOR), img)
    assert c.build_messages("text only") == [{"role": "user", "content": "text only"}]


def test_jpeg_and_missing_frames_are_refused(tmp_path):
    cv2.imwrite(str(tmp_path / "f.jpg"), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(InputError, match="is not a PNG; frames are sent losslessly"):
        c.read_png(tmp_path / "f.jpg")
    with pytest.raises(InputError, match="cannot be read"):
        c.read_png(tmp_path / "none.png")


def test_retry_after_forms():
    assert c.retry_after_s({"retry-after": "3"}) == 3.0
    assert c.retry_after_s({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    soon = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 < c.retry_after_s({"retry-after": soon}) <= 31
    assert c.retry_after_s({}) is None and c.retry_after_s(None) is None


def test_request_body_has_every_parameter():
    cfg = LLMConfig(provider="openai", temperature=0.3, seed=5, max_tokens=64)
    body = c.request_body(cfg, c.build_messages("hi"))
    assert body == {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],
                    "temperature": 0.3, "seed": 5, "max_tokens": 64}
    assert "seed" not in c.request_body(LLMConfig(seed=None), [])
    assert c.request_body(LLMConfig(seed=None), [], seed=11)["seed"] == 11
    assert "temperature" not in c.request_body(LLMConfig(temperature=None), [])  # provider's


def test_chat_reports_usage_and_fingerprint():
    with FakeLLMServer() as server:
        cfg, client = _client(server)
        result = c.chat(client, c.request_body(cfg, c.build_messages("ping")))
    assert result.text == "answer to: ping [images: 0]"
    assert result.system_fingerprint == "fp_fake" and result.attempts == 1
    assert result.prompt_tokens > 0 and result.completion_tokens == 5 and result.latency_s > 0


@pytest.mark.parametrize("fault, reason", [
    ("malformed", "malformed response body"),
    ("500", "HTTP 500"),
    ("429", "HTTP 429"),
    ("hang", "timed out"),
])
def test_persistent_faults_fail_with_their_reason(fault, reason):
    with FakeLLMServer(faults=[fault] * 2, hang_s=1.0) as server:
        cfg, client = _client(server, timeout_s=0.3)
        with pytest.raises(c.RequestFailed, match=f"{reason}.*gave up after 2 attempts") as info:
            c.chat(client, c.request_body(cfg, c.build_messages("x")), max_retries=1,
                   backoff_s=0.0)
    assert info.value.attempts == 2


def test_connection_refused_is_a_clear_failure():
    cfg = LLMConfig(provider="openai", base_url="http://127.0.0.1:9/v1", api_key_env="")
    client = c.make_client(cfg, cfg.base_url)
    with pytest.raises(c.RequestFailed, match="connection failed"):
        c.chat(client, c.request_body(cfg, []), max_retries=0)


def test_stop_interrupts_the_backoff_wait():
    stop = threading.Event()
    with FakeLLMServer(faults=["429"], retry_after="30") as server:
        cfg, client = _client(server)
        threading.Timer(0.2, stop.set).start()
        started = time.perf_counter()
        with pytest.raises(c.RequestCancelled, match="stopped while waiting to retry"):
            c.chat(client, c.request_body(cfg, c.build_messages("x")), stop=stop)
    assert time.perf_counter() - started < 5


def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("MY_LLM_KEY", raising=False)
    cfg = LLMConfig(provider="openai", api_key_env="MY_LLM_KEY")
    with pytest.raises(LLMError, match=r"MY_LLM_KEY .* is not set; set it .*export MY_LLM_KEY="):
        c.api_key(cfg)
    monkeypatch.setenv("MY_LLM_KEY", "sk-1")
    assert c.api_key(cfg) == "sk-1"
