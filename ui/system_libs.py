"""Checks that a real window can open: a display and the system libraries Qt's xcb plugin needs.

Deliberately free of Qt imports: it runs *before* Qt, so a missing library gives a clear
message instead of Qt's abort ("Could not load the Qt platform plugin xcb").
"""

from __future__ import annotations

import ctypes
import os
import sys

# soname -> Debian package providing it
XCB_LIBS: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}


def missing_packages() -> list[str]:
    """Debian packages whose libraries cannot be loaded (empty off Linux)."""
    if not sys.platform.startswith("linux"):
        return []
    missing = []
    for soname, package in XCB_LIBS.items():
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing.append(package)
    return missing


def display_problem() -> str | None:
    """Why a real window cannot open here, or None when it can."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform.startswith(("offscreen", "minimal", "vnc")):
        return None
    if sys.platform.startswith("linux"):
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            return "no display: neither DISPLAY nor WAYLAND_DISPLAY is set"
        if platform.startswith("wayland") or (os.environ.get("WAYLAND_DISPLAY")
                                              and not os.environ.get("DISPLAY")):
            return None
        missing = missing_packages()
        if missing:
            return ("Qt's xcb platform plugin needs system libraries that are missing; "
                    f"install them with: apt-get install {' '.join(missing)}")
    return None


if __name__ == "__main__":  # used by scripts/app.sh
    print(" ".join(missing_packages()))
