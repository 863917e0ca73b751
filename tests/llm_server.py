"""A fake OpenAI-compatible server on 127.0.0.1 for tests and benchmarks.

It answers ``POST /v1/chat/completions`` and ``GET /v1/models``, accepts text and image parts,
records every request, sleeps ``latency_s`` per answer, and plays a fault script: each request
takes the next entry of ``faults`` (``"429"`` with ``Retry-After``, ``"500"``, ``"hang"``,
``"malformed"``, ``"400"``) until the script is empty, then answers normally.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def default_reply(body: dict[str, Any]) -> str:
    """A deterministic answer that shows what was asked: the prompt text and image count."""
    text, images = "", 0
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            text = content
        elif isinstance(content, list):
            for part in content:
                if part.get("type") == "text":
                    text = part["text"]
                elif part.get("type") == "image_url":
                    images += 1
    return f"answer to: {text} [images: {images}]"


class FakeLLMServer:
    """Use as a context manager; ``base_url`` is ``http://127.0.0.1:PORT/v1``.

    Attributes:
        latency_s: sleep before each normal answer.
        faults: a deque of fault names consumed one per chat request.
        retry_after: the ``Retry-After`` value sent with scripted 429s ("" for none).
        hang_s: how long a ``"hang"`` fault sleeps before answering (longer than the client's
            timeout).
        requests: every chat request body received (parsed JSON), in arrival order.
        reply: ``body -> text`` for normal answers.
    """

    def __init__(self, *, latency_s: float = 0.0, faults: Iterable[str] = (),
                 retry_after: str = "0", hang_s: float = 3.0,
                 reply: Callable[[dict[str, Any]], str] = default_reply):
        self.latency_s = latency_s
        self.faults: deque[str] = deque(faults)
        self.retry_after = retry_after
        self.hang_s = hang_s
        self.reply = reply
        self.requests: list[dict[str, Any]] = []
        self.fault_log: list[str] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------- lifecycle
    def start(self) -> FakeLLMServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, {"object": "list", "data": [
                        {"id": "fake-model", "object": "model", "owned_by": "tests"}]})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                body = json.loads(raw)
                with server._lock:
                    server.requests.append(body)
                    fault = server.faults.popleft() if server.faults else ""
                    server.fault_log.append(fault)
                if fault == "429":
                    headers = {"Retry-After": server.retry_after} if server.retry_after else {}
                    self._send(429, {"error": {"message": "rate limited", "type": "requests"}},
                               headers)
                elif fault == "500":
                    self._send(500, {"error": {"message": "internal error"}})
                elif fault == "400":
                    self._send(400, {"error": {"message": "bad request: unsupported"}})
                elif fault == "hang":
                    server._stopping.wait(server.hang_s)
                    self._send(200, server._completion(body))
                elif fault == "malformed":
                    self._send_raw(200, b'{"id": "x", "choices": [ {"message": ')
                else:
                    if server.latency_s:
                        server._stopping.wait(server.latency_s)
                    self._send(200, server._completion(body))

            def _send(self, status: int, obj: dict[str, Any],
                      headers: dict[str, str] | None = None) -> None:
                self._send_raw(status, json.dumps(obj).encode(), headers)

            def _send_raw(self, status: int, data: bytes,
                          headers: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name="fake-llm-server")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "start the server first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    # -------------------------------------------------------------- answers
    def _completion(self, body: dict[str, Any]) -> dict[str, Any]:
        text = self.reply(body)
        prompt_tokens = len(json.dumps(body.get("messages", [])).split())
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split()),
                      "total_tokens": prompt_tokens + len(text.split())},
        }

    def image_urls(self) -> list[str]:
        """Every image URL received, in order."""
        urls = []
        for body in self.requests:
            for message in body.get("messages", []):
                content = message.get("content")
                if isinstance(content, list):
                    urls += [p["image_url"]["url"] for p in content
                             if p.get("type") == "image_url"]
        return urls


def add_samples(project: Any, labels: Iterable[tuple[str, str, str]], *, frames: int = 2,
                size: int = 8) -> list[int]:
    """Insert samples ``(true_label, clean_pred, adv_pred)`` with tiny clean/adv PNG frames."""
    import cv2
    import numpy as np

    now = time.time()
    ids = []
    for n, (true, clean, adv) in enumerate(labels):
        clean_paths, adv_paths = [], []
        for k in range(frames):
            rng = np.random.default_rng(1000 * n + k)
            img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            noisy = np.clip(img.astype(int) + rng.integers(-2, 3, img.shape), 0, 255)
            for kind, pixels, paths in (("clean", img, clean_paths),
                                        ("adv", noisy.astype(np.uint8), adv_paths)):
                path = project.frames_dir / f"s{n}_{kind}_{k}.png"
                cv2.imwrite(str(path), pixels)
                paths.append(project.relpath(path))
        ids.append(project.insert(
            "samples", video=f"v_{true}_{n}.avi", true_label=true, true_index=0,
            keyframes_json=json.dumps(list(range(frames))),
            timestamps_json=json.dumps([0.0] * frames), attack="fgsm", eps=8 / 255,
            clean_pred=clean, clean_conf=0.9, adv_pred=adv, adv_conf=0.8,
            clean_top5_json="[]", adv_top5_json="[]",
            clean_frames_json=json.dumps(clean_paths), adv_frames_json=json.dumps(adv_paths),
            created_at=now))
    return ids
