"""Where HARLab keeps things outside a project: resources, caches, the demo dataset."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import platformdirs

REPO_ROOT = Path(__file__).resolve().parent.parent
RESOURCES = REPO_ROOT / "resources"


def cache_dir() -> Path:
    """User cache folder (``HARLAB_CACHE_DIR`` overrides), created on demand."""
    env = os.environ.get("HARLAB_CACHE_DIR")
    if env:
        path = Path(env).expanduser()
    else:

        path = Path(platformdirs.user_cache_dir("harlab", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """User data folder (``HARLAB_DATA_DIR`` overrides): demo dataset, demo project."""
    env = os.environ.get("HARLAB_DATA_DIR")
    if env:
        path = Path(env).expanduser()
    else:

        path = Path(platformdirs.user_data_dir("harlab", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def demo_dataset_dir() -> Path:
    """Where the generated demo dataset lives (its parent holds ``UCF-101/``)."""
    return data_dir() / "demo-ucf101"


def demo_project_dir() -> Path:
    return data_dir() / "demo-project"


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
