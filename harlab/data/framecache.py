"""Decode once, train many times: sampled frames of every video in one array per split.

Layout of a cache for one dataset, fold and :class:`CacheConfig`::

    <cache_dir>/<dataset-hash>-fold<F>-n<frames>-s<size>/
        train.u8          raw uint8 frames, shape (M, S, S, 3), row-major
        train.json        {"videos": [{"relpath", "size", "mtime_ns", "label", "group",
                           "rows": [start, stop]}], "failed": [[relpath, reason]], ...}
        test.u8, test.json

A video is re-decoded only when its size or mtime changed (or it is new); unchanged videos
are copied from the previous array. Training reads ``FrameSplit.frames`` (a read-only memmap),
never the videos.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from harlab import paths
from harlab.data import video
from harlab.errors import DatasetError, InputError
from harlab.jobs import Job, Progress

log = logging.getLogger(__name__)

SPLITS = ("train", "test")
FORMAT_VERSION = 1


@dataclass(frozen=True)
class CacheConfig:
    """How frames are sampled and stored.

    Attributes:
        frames_per_video: evenly spaced frames taken from each video (the paper uses 50).
        size: side in pixels of the square frames stored (each frame is resized, not cropped).
    """

    frames_per_video: int = 50
    size: int = 112

    def __post_init__(self):
        if isinstance(self.frames_per_video, bool) or not isinstance(self.frames_per_video, int) \
                or not 1 <= self.frames_per_video <= 1000:
            raise InputError(f"frames_per_video must be an integer in [1, 1000], got "
                             f"{self.frames_per_video!r} (the paper uses 50)")
        if isinstance(self.size, bool) or not isinstance(self.size, int) \
                or not 8 <= self.size <= 1024:
            raise InputError(f"size must be an integer side in pixels in [8, 1024], got "
                             f"{self.size!r} (e.g. 112 or 224)")


@dataclass
class FrameSplit:
    """The cached frames of one split.

    Shape:
        frames: ``(M, S, S, 3)`` uint8 RGB (read-only memmap); labels, video_ids, groups:
        ``(M,)`` int64. ``video_ids`` index :attr:`videos` (relpaths).
    """

    frames: np.ndarray
    labels: np.ndarray
    video_ids: np.ndarray
    groups: np.ndarray
    videos: list[str]
    classes: list[str]

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class FrameCache:
    """A built cache: where it lives, how it was made, and what could not be decoded."""

    folder: Path
    config: CacheConfig
    classes: list[str]
    failed: list[tuple[str, str]] = field(default_factory=list)
    decoded: int = 0
    reused: int = 0

    def split(self, name: str) -> FrameSplit:
        """Open ``"train"`` or ``"test"`` as memory-mapped arrays."""
        if name not in SPLITS:
            raise InputError(f"split must be 'train' or 'test', got {name!r}")
        return _open_split(self.folder, name, self.config, self.classes)

    @classmethod
    def open(cls, folder: str | Path) -> FrameCache:
        """Open a cache folder written by :func:`build_cache`."""
        folder = Path(folder)
        meta_path = folder / "cache.json"
        if not meta_path.is_file():
            raise DatasetError(f"{folder} is not a frame cache (no cache.json); build one with "
                               "`harlab data cache`")
        meta = json.loads(meta_path.read_text())
        return cls(folder, CacheConfig(**meta["config"]), meta["classes"],
                   [tuple(f) for f in meta.get("failed", [])])


def cache_folder(dataset, config: CacheConfig, cache_dir: Path | None = None) -> Path:
    """Where the cache of ``dataset`` (a :class:`~harlab.data.UCF101`) with ``config`` lives."""
    base = Path(cache_dir) if cache_dir is not None else paths.cache_dir() / "frames"
    digest = hashlib.sha1(str(dataset.root).encode()).hexdigest()[:12]
    return base / (f"{dataset.root.name}-{digest}-fold{dataset.fold}"
                   f"-n{config.frames_per_video}-s{config.size}")


def _video_key(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _open_split(folder: Path, name: str, config: CacheConfig, classes: list[str]) -> FrameSplit:
    meta_path, data_path = folder / f"{name}.json", folder / f"{name}.u8"
    if not meta_path.is_file() or not data_path.is_file():
        raise DatasetError(f"frame cache {folder} has no {name} split; rebuild it with "
                           "`harlab data cache`")
    meta = json.loads(meta_path.read_text())
    s = config.size
    rows = meta["rows"]
    if data_path.stat().st_size != rows * s * s * 3:
        raise DatasetError(f"frame cache file {data_path} has {data_path.stat().st_size} bytes, "
                           f"expected {rows * s * s * 3}; it is damaged, rebuild the cache")
    frames = (np.memmap(data_path, np.uint8, "r", shape=(rows, s, s, 3)) if rows
              else np.zeros((0, s, s, 3), np.uint8))
    videos = meta["videos"]
    counts = np.array([v["rows"][1] - v["rows"][0] for v in videos], np.int64)
    return FrameSplit(
        frames=frames,
        labels=np.repeat(np.array([v["label"] for v in videos], np.int64), counts),
        video_ids=np.repeat(np.arange(len(videos), dtype=np.int64), counts),
        groups=np.repeat(np.array([v["group"] for v in videos], np.int64), counts),
        videos=[v["relpath"] for v in videos],
        classes=list(classes),
    )


def build_cache(dataset, config: CacheConfig = CacheConfig(),
                cache_dir: Path | None = None) -> Job[FrameCache]:
    """Decode every video of ``dataset``'s train and test splits into the cache.

    Yields Progress once per video. Videos already cached with the same size and mtime are
    copied, not decoded. Unreadable videos are skipped and listed in ``FrameCache.failed``.
    """

    if not isinstance(config, CacheConfig):
        raise InputError(f"config must be a CacheConfig, got {type(config).__name__}")
    folder = cache_folder(dataset, config, cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    n, s = config.frames_per_video, config.size
    total = len(dataset.train) + len(dataset.test)
    done = 0
    result = FrameCache(folder, config, list(dataset.classes))
    for split in SPLITS:
        items = dataset.items(split)
        old_meta_path, old_data_path = folder / f"{split}.json", folder / f"{split}.u8"
        old, old_data = {}, None
        if old_meta_path.is_file() and old_data_path.is_file():
            try:
                old_meta = json.loads(old_meta_path.read_text())
                if old_meta.get("format") == FORMAT_VERSION and \
                        old_data_path.stat().st_size == old_meta["rows"] * s * s * 3:
                    old = {v["relpath"]: v for v in old_meta["videos"]}
                    if old_meta["rows"]:
                        old_data = np.memmap(old_data_path, np.uint8, "r",
                                             shape=(old_meta["rows"], s, s, 3))
            except (OSError, ValueError, KeyError):
                log.warning("ignoring damaged cache index %s", old_meta_path)
        tmp_path = folder / f"{split}.u8.partial"
        out = np.memmap(tmp_path, np.uint8, "w+", shape=(max(1, len(items) * n), s, s, 3))
        videos, rows = [], 0
        try:
            for item in items:
                done += 1
                try:
                    size_b, mtime = _video_key(item.path)
                except OSError as exc:
                    result.failed.append((item.relpath, f"cannot stat: {exc.strerror}"))
                    yield Progress(done, total, f"skipped {item.relpath}")
                    continue
                prev = old.get(item.relpath)
                if prev is not None and old_data is not None and prev["size"] == size_b \
                        and prev["mtime_ns"] == mtime:
                    a, b = prev["rows"]
                    out[rows:rows + (b - a)] = old_data[a:b]
                    result.reused += 1
                else:
                    try:
                        info = video.probe(item.path)
                        out[rows:rows + n] = video.read_frames(
                            item.path, video.sample_indices(info.frame_count, n), size=s)
                    except DatasetError as exc:
                        result.failed.append((item.relpath, str(exc)))
                        yield Progress(done, total, f"skipped {item.relpath}")
                        continue
                    result.decoded += 1
                videos.append(dict(relpath=item.relpath, size=size_b, mtime_ns=mtime,
                                   label=item.label, group=item.group, rows=[rows, rows + n]))
                rows += n
                yield Progress(done, total, item.relpath)
            out.flush()
            del out
            old_data = None
            os.truncate(tmp_path, rows * s * s * 3)
            os.replace(tmp_path, old_data_path)
            meta = dict(format=FORMAT_VERSION, rows=rows, videos=videos,
                        failed=[f for f in result.failed if f[0] in {i.relpath for i in items}])
            old_meta_path.write_text(json.dumps(meta))
        finally:
            if tmp_path.exists():
                tmp_path.unlink()
    (folder / "cache.json").write_text(json.dumps(dict(
        format=FORMAT_VERSION, config=asdict(config), classes=list(dataset.classes),
        root=str(dataset.root), fold=dataset.fold, failed=result.failed)))
    return result
