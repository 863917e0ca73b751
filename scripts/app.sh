#!/usr/bin/env bash
# Set everything up (idempotent) and open HARLab. Extra arguments go to main.py
# (e.g. a project folder). With no display it runs the demo pipeline headless instead.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$HERE/scripts/setup.sh"
cd "$HERE"

# Qt's xcb plugin aborts without these system libraries: install them when we can.
if [ -n "${DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
    missing="$("$PY" -m ui.system_libs)"
    if [ -n "$missing" ]; then
        if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
            say "installing system libraries for Qt: $missing"
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
        else
            say "Qt needs these system libraries: sudo apt-get install $missing"
        fi
    fi
fi
exec "$PY" main.py "$@"
