"""Decode once, train many times: sampled frames of every video in one array per split.

Layout of a cache for one dataset, fold and :class:`CacheConfig`::

    <cache_dir>/<dataset-hash>-fold<F>-n<frames>-s<size>[-jpeg<quality>]/
        train.u8          format "raw": uint8 frames, shape (M, S, S, 3), row-major
        train.jpg         format "jpeg": each frame's JPEG bytes, one after another,
        train.off           and M + 1 int64 offsets into them (see harlab.data.jpeg_frames)
        train.json        {"videos": [{"relpath", "size", "mtime_ns", "label", "group",
                           "rows": [start, stop]}], "failed": [[relpath, reason]], ...}
        test.*, cache.json (config, classes, dataset root, fold: the provenance)

A video is re-decoded only when its size or mtime changed (or it is new); unchanged videos
are copied from the previous files (JPEG bytes are copied, not re-encoded). Training reads
``FrameSplit.frames`` (a read-only memmap, or for JPEG a :class:`~harlab.data.jpeg_frames.
JpegFrames` that decodes the rows it is indexed with), never the videos.

Disk: raw needs ``S * S * 3`` bytes a frame (150,528 at 224 px); JPEG at quality 90 about a
tenth of that on real video (:func:`estimate_cache` measures it on sampled frames).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harlab import paths
from harlab.data import video
from harlab.data.jpeg_frames import OFFSET_DTYPE, JpegFrames, JpegWriter, encode_frames
from harlab.errors import DatasetError, InputError
from harlab.jobs import Job, Progress
from harlab.validation import check_range

log = logging.getLogger(__name__)

SPLITS = ("train", "test")
FORMAT_VERSION = 1
FORMATS = ("raw", "jpeg")


@dataclass(frozen=True)
class CacheConfig:
    """How frames are sampled and stored.

    Attributes:
        frames_per_video: evenly spaced frames taken from each video (the paper uses 50).
        size: side in pixels of the square frames stored (each frame is resized, not cropped).
        format: ``"raw"`` (uint8 arrays, no decoding when training) or ``"jpeg"`` (about a
            tenth of the disk; decoded per batch, on the GPU when training there).
        jpeg_quality: JPEG quality (1-100) of a ``"jpeg"`` cache.
    """

    frames_per_video: int = 50
    size: int = 112
    format: str = "raw"
    jpeg_quality: int = 90

    def __post_init__(self):
        check_range("frames_per_video", self.frames_per_video, 1, 1000, integer=True,
                    hint="the paper uses 50")
        check_range("size (an integer side in pixels)", self.size, 8, 1024, integer=True,
                    hint="e.g. 112 or 224")
        if self.format not in FORMATS:
            raise InputError(f"unknown frame cache format {self.format!r}; valid formats: "
                             f"{', '.join(FORMATS)}")
        check_range("jpeg_quality", self.jpeg_quality, 1, 100, integer=True,
                    hint="90 keeps frames visually lossless")

    @property
    def suffix(self) -> str:
        """The cache folder's name suffix: empty for raw, ``-jpeg<quality>`` for JPEG."""
        return f"-jpeg{self.jpeg_quality}" if self.format == "jpeg" else ""


@dataclass
class FrameSplit:
    """The cached frames of one split.

    Shape:
        frames: ``(M, S, S, 3)`` uint8 RGB (a read-only memmap, or a JpegFrames that decodes
        on indexing); labels, video_ids, groups: ``(M,)`` int64. ``video_ids`` index
        :attr:`videos` (relpaths).
    """

    frames: np.ndarray | JpegFrames
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
                   f"-n{config.frames_per_video}-s{config.size}{config.suffix}")


def _video_key(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _split_files(folder: Path, name: str, config: CacheConfig) -> list[Path]:
    """The data file(s) of a split: ``[<name>.u8]`` (raw) or ``[<name>.jpg, <name>.off]``."""
    if config.format == "jpeg":
        return [folder / f"{name}.jpg", folder / f"{name}.off"]
    return [folder / f"{name}.u8"]


def _open_frames(folder: Path, name: str, config: CacheConfig, rows: int
                 ) -> np.ndarray | JpegFrames:
    """The stored frames of a split; raises DatasetError when the files do not match ``rows``."""
    s = config.size
    files = _split_files(folder, name, config)
    if config.format == "jpeg":
        frames = JpegFrames(files[0], files[1], s)
        if len(frames) != rows:
            raise DatasetError(f"frame cache file {files[1]} indexes {len(frames)} frames, "
                               f"expected {rows}; it is damaged, rebuild the cache")
        return frames
    data_path = files[0]
    if data_path.stat().st_size != rows * s * s * 3:
        raise DatasetError(f"frame cache file {data_path} has {data_path.stat().st_size} bytes, "
                           f"expected {rows * s * s * 3}; it is damaged, rebuild the cache")
    return (np.memmap(data_path, np.uint8, "r", shape=(rows, s, s, 3)) if rows
            else np.zeros((0, s, s, 3), np.uint8))


def _open_split(folder: Path, name: str, config: CacheConfig, classes: list[str]) -> FrameSplit:
    meta_path = folder / f"{name}.json"
    if not meta_path.is_file() or not all(f.is_file() for f in _split_files(folder, name, config)):
        raise DatasetError(f"frame cache {folder} has no {name} split; rebuild it with "
                           "`harlab data cache`")
    meta = json.loads(meta_path.read_text())
    frames = _open_frames(folder, name, config, meta["rows"])
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


class _RawWriter:
    """Appends raw frames to a preallocated memmap, truncated to the rows written at the end."""

    def __init__(self, path: Path, capacity: int, size: int):
        self.path, self.size, self.rows = path, size, 0
        self._out = np.memmap(path, np.uint8, "w+", shape=(max(1, capacity), size, size, 3))

    def add(self, frames: np.ndarray) -> None:
        self._out[self.rows:self.rows + len(frames)] = frames
        self.rows += len(frames)

    def copy(self, source: np.ndarray, start: int, stop: int) -> None:
        self.add(source[start:stop])

    def close(self) -> None:
        self._out.flush()
        del self._out
        os.truncate(self.path, self.rows * self.size * self.size * 3)


def _open_previous(folder: Path, split: str, config: CacheConfig
                   ) -> tuple[dict[str, Any], np.ndarray | JpegFrames | None]:
    """The previous build's videos (by relpath) and frames, or nothing when absent or damaged."""
    meta_path = folder / f"{split}.json"
    if not meta_path.is_file() or not all(f.is_file() for f in
                                          _split_files(folder, split, config)):
        return {}, None
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != FORMAT_VERSION or meta.get("storage", "raw") != config.format:
            return {}, None
        frames = _open_frames(folder, split, config, meta["rows"])
        return {v["relpath"]: v for v in meta["videos"]}, frames if meta["rows"] else None
    except (OSError, ValueError, KeyError, DatasetError):
        log.warning("ignoring damaged cache index %s", meta_path)
        return {}, None


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
    # Listed clips the index could not hand over (a folder or a dangling link named like a
    # video, a file not on disk) are bad files too: report them as validate and index do.
    result.failed.extend((e.path, e.reason) for e in getattr(dataset, "problems", ())
                         if e.kind in ("missing", "unreadable"))
    for split in SPLITS:
        items = dataset.items(split)
        old, old_frames = _open_previous(folder, split, config)
        final = _split_files(folder, split, config)
        partial = [p.with_name(p.name + ".partial") for p in final]
        writer = (JpegWriter(partial[0], config.jpeg_quality) if config.format == "jpeg"
                  else _RawWriter(partial[0], len(items) * n, s))
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
                if (prev is not None and old_frames is not None and prev["size"] == size_b
                        and prev["mtime_ns"] == mtime):
                    writer.copy(old_frames, *prev["rows"])
                    result.reused += 1
                else:
                    try:
                        info = video.probe(item.path)
                        frames = video.read_frames(
                            item.path, video.sample_indices(info.frame_count, n), size=s)
                    except DatasetError as exc:
                        result.failed.append((item.relpath, str(exc)))
                        yield Progress(done, total, f"skipped {item.relpath}")
                        continue
                    writer.add(frames)
                    result.decoded += 1
                videos.append(dict(relpath=item.relpath, size=size_b, mtime_ns=mtime,
                                   label=item.label, group=item.group, rows=[rows, rows + n]))
                rows += n
                yield Progress(done, total, item.relpath)
            offsets = writer.close()
            writer = None
            old_frames = None  # release the old memmap before replacing its file
            if config.format == "jpeg":
                offsets.tofile(partial[1])
            for tmp, dest in zip(partial, final, strict=True):
                os.replace(tmp, dest)
            meta = dict(format=FORMAT_VERSION, storage=config.format, rows=rows, videos=videos,
                        failed=[f for f in result.failed if f[0] in {i.relpath for i in items}])
            _write_json(folder / f"{split}.json", meta)
        finally:
            if writer is not None:
                writer.close()
            for tmp in partial:
                if tmp.exists():
                    tmp.unlink()
    _write_json(folder / "cache.json", dict(
        format=FORMAT_VERSION, config=asdict(config), classes=list(dataset.classes),
        root=str(dataset.root), fold=dataset.fold, failed=result.failed))
    return result


def _write_json(path: Path, value: Any) -> None:
    """Write via a temporary file and a rename: a full disk never leaves a truncated file
    that a later run would read as the cache's description."""
    tmp = path.with_name(path.name + ".partial")
    try:
        tmp.write_text(json.dumps(value))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------------------- disk estimate
@dataclass(frozen=True)
class CacheEstimate:
    """Disk a cache of a given shape needs, raw and JPEG (from frames actually encoded).

    Attributes:
        videos: videos in the train and test splits.
        frames: ``videos * frames_per_video``.
        raw_bytes: a raw cache's frame data (``frames * S * S * 3``).
        jpeg_bytes: a JPEG cache's frame data and offsets, at the sampled mean frame size.
        jpeg_frame_bytes: mean JPEG bytes per frame over the sample.
        sampled_frames, sampled_videos: what the mean was measured on.
    """

    config: CacheConfig
    videos: int
    frames: int
    raw_bytes: int
    jpeg_bytes: int
    jpeg_frame_bytes: float
    sampled_frames: int
    sampled_videos: int

    def __str__(self) -> str:
        c = self.config
        chosen = self.jpeg_bytes if c.format == "jpeg" else self.raw_bytes
        return (f"{self.videos} videos x {c.frames_per_video} frames = {self.frames} frames "
                f"at {c.size} px\n"
                f"  raw:      {_gb(self.raw_bytes)} ({c.size * c.size * 3:,} bytes a frame)\n"
                f"  jpeg q{c.jpeg_quality}: {_gb(self.jpeg_bytes)} "
                f"({self.jpeg_frame_bytes / 1000:.1f} KB a frame, mean of "
                f"{self.sampled_frames} frames from {self.sampled_videos} videos)\n"
                f"  this cache ({c.format}) needs about {_gb(chosen)}")


def _gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB ({n / 2**30:.2f} GiB)"


def estimate_cache(dataset, config: CacheConfig = CacheConfig(), *, sample_videos: int = 8,
                   sample_frames: int = 8, videos: int | None = None) -> CacheEstimate:
    """Estimate the disk a cache of ``dataset`` with ``config`` needs, before building it.

    Encodes ``sample_frames`` frames of each of ``sample_videos`` videos spread over the
    dataset at ``config.size`` and ``config.jpeg_quality``, and scales the mean JPEG frame size
    to every video. ``videos`` overrides the number of videos (to size a larger dataset from a
    sample of this one). Unreadable videos are left out of the sample.
    """
    if not isinstance(config, CacheConfig):
        raise InputError(f"config must be a CacheConfig, got {type(config).__name__}")
    if sample_videos < 1 or sample_frames < 1:
        raise InputError(f"sample_videos and sample_frames must be >= 1, got {sample_videos} "
                         f"and {sample_frames}")
    items = list(dataset.train) + list(dataset.test)
    if not items:
        raise DatasetError(f"dataset {str(dataset.root)!r} lists no videos in fold "
                           f"{dataset.fold}; nothing to estimate")
    picks = [items[i] for i in np.unique(np.linspace(0, len(items) - 1, sample_videos)
                                         .round().astype(int))]
    sizes: list[int] = []
    used = 0
    for item in picks:
        try:
            info = video.probe(item.path)
            frames = video.read_frames(item.path, video.sample_indices(
                info.frame_count, min(sample_frames, config.frames_per_video)), size=config.size)
        except DatasetError as exc:
            log.info("estimate: skipping %s (%s)", item.relpath, exc)
            continue
        sizes += [len(b) for b in encode_frames(frames, config.jpeg_quality)]
        used += 1
    if not sizes:
        raise DatasetError(f"none of the {len(picks)} sampled videos of {str(dataset.root)!r} "
                           "could be decoded; check the dataset with `harlab data validate`")
    n_videos = len(items) if videos is None else int(videos)
    frames_total = n_videos * config.frames_per_video
    mean = float(np.mean(sizes))
    return CacheEstimate(config=config, videos=n_videos, frames=frames_total,
                         raw_bytes=frames_total * config.size * config.size * 3,
                         jpeg_bytes=round(frames_total * (mean + OFFSET_DTYPE.itemsize)),
                         jpeg_frame_bytes=mean, sampled_frames=len(sizes), sampled_videos=used)
