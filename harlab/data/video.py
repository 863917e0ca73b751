"""Video decoding with OpenCV: probing, even sampling and keyframes.

Every reader decodes a file once, front to back. OpenCV's ``grab()`` demuxes and decodes a frame
but skips the colour conversion that ``retrieve()`` does, so frames we do not keep are only
grabbed. Frames come back as RGB ``uint8`` arrays.

Video errors raise :class:`harlab.errors.DatasetError` naming the file.
"""

from __future__ import annotations

import heapq
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from harlab.errors import DatasetError, InputError

log = logging.getLogger(__name__)

#: frames a stream may end early before we call the file truncated: AVI headers of real
#: UCF-101 clips often over-count by one or two frames.
_END_SLACK = 2
#: grey levels (0-255) a change peak must at least rise above the clip's median change (and
#: a tenth of the curve's range) to count; flatter clips are filled with evenly spaced frames.
_MIN_PROMINENCE = 0.05
_SMOOTH = 5  # frames in the moving average of the change curve (odd)
_FILL_POOL = 1  # low-motion fill frames are chosen among this many x k evenly spaced ones
_MAX_STRIDE = 3  # content keyframes analyse every 3rd frame at most (see content_stride)
_SUBSAMPLE = 4  # ...on the green channel of every 4th pixel in each direction


@dataclass(frozen=True)
class VideoInfo:
    """What a video's header says."""

    frame_count: int
    fps: float
    width: int
    height: int
    duration_s: float


@dataclass(frozen=True)
class Keyframes:
    """K frames chosen from one video, with their provenance.

    Attributes:
        indices: frame numbers (0-based, ascending; repeated on clips shorter than K).
        timestamps_s: ``index / fps`` for each frame.
        frames: the decoded frames at native size.
        method: ``"uniform"`` or ``"content"``.
        note: how the choice was made when it is not the plain method (padding, fallback).

    Shape:
        frames: ``(K, H, W, 3)`` uint8 RGB.
    """

    indices: list[int]
    timestamps_s: list[float]
    frames: np.ndarray = field(repr=False)
    method: str
    note: str = ""


def check_file(path: str | Path) -> Path:
    """Return ``path`` as a Path if it is a readable, non-empty file; raise DatasetError if not."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"video {path} does not exist; check the path or re-extract the "
                           "dataset")
    if not path.is_file():
        raise DatasetError(f"video {path} is a folder, expected a video file such as an .avi")
    if not os.access(path, os.R_OK):
        raise DatasetError(f"video {path} is not readable (permission denied); fix its "
                           "permissions, e.g. chmod a+r")
    if path.stat().st_size == 0:
        raise DatasetError(f"video {path} is an empty (zero-byte) file; re-download or "
                           "re-extract it")
    short = container_shortfall(path)
    if short:
        raise DatasetError(f"video {path} is truncated: {short}; re-download it")
    return path


def container_shortfall(path: Path) -> str:
    """Why the file is shorter than its own container says, or "" when it is not (or the
    container is not one we can measure).

    This is measured on the bytes, not by decoding, so the verdict is the same whatever the
    OpenCV (FFmpeg) release: OpenCV 4 decodes the front of a cut AVI, OpenCV 5 refuses its first
    frame. AVI (RIFF): the header declares the file's length. MP4/MOV (ISO BMFF): the top-level
    boxes' sizes must fit inside the file.
    """
    size = path.stat().st_size
    try:
        with path.open("rb") as f:
            head = f.read(12)
            if len(head) == 12 and head[:4] == b"RIFF" and head[8:12] == b"AVI ":
                declared = int.from_bytes(head[4:8], "little") + 8
                if size < declared:
                    return (f"the file has {size:,} bytes but its AVI header declares "
                            f"{declared:,}")
                return ""
            if len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide"):
                return _bmff_shortfall(f, size)
    except OSError:
        return ""  # unreadable files are reported by the decoder with its own message
    return ""


def _bmff_shortfall(f, size: int) -> str:
    """Walk the top-level boxes of an MP4/MOV file: each must end inside the file."""
    pos = 0
    for _ in range(10_000):  # a real file has a handful of top-level boxes
        if pos >= size:
            return ""
        f.seek(pos)
        hdr = f.read(16)
        if len(hdr) < 8:
            return f"the file ends inside a box header at byte {pos:,}"
        box = int.from_bytes(hdr[:4], "big")
        if box == 1 and len(hdr) == 16:
            box = int.from_bytes(hdr[8:16], "big")
        elif box == 0:  # the last box runs to the end of the file
            return ""
        if box < 8:
            return f"the box at byte {pos:,} declares an impossible size {box}"
        if pos + box > size:
            name = hdr[4:8].decode("latin-1")
            return (f"the file has {size:,} bytes but its '{name}' box at byte {pos:,} "
                    f"declares {box:,} bytes (ending at {pos + box:,})")
        pos += box
    return ""


def _open(path: Path):
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise DatasetError(f"video {path} cannot be opened: it is not a video OpenCV can "
                           "decode (wrong format or damaged file); re-download it")
    return cap


def probe(path: str | Path) -> VideoInfo:
    """Read a video's header: frame count, frame rate and size."""
    path = check_file(path)
    cap = _open(path)
    try:
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(cap.get(cv2.CAP_PROP_FPS)) or 25.0
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        cap.release()
    if count <= 0 or width <= 0 or height <= 0:
        raise DatasetError(f"video {path} has no frames according to its header (count "
                           f"{count}, size {width}x{height}); it is damaged, re-download it")
    return VideoInfo(count, fps, width, height, count / fps)


def verify(path: str | Path) -> VideoInfo:
    """Check cheaply that a video decodes: its first frame, and (by seeking) one near its end.

    Raises DatasetError naming the file (missing, zero-byte, unreadable, not a video,
    truncated); returns its :class:`VideoInfo` otherwise.
    """
    info = probe(path)
    cap = _open(Path(path))
    try:
        ok, _ = cap.read()
        if not ok:
            raise DatasetError(f"video {path} has a header but its first frame cannot be "
                               "decoded; the file is damaged, re-download it")
        last = max(0, info.frame_count - 1 - _END_SLACK)
        cap.set(cv2.CAP_PROP_POS_FRAMES, last)
        ok, _ = cap.read()
        if not ok:
            reached = int(cap.get(cv2.CAP_PROP_POS_FRAMES))
            raise DatasetError(f"video {path} ends after about {reached} decodable frames but "
                               f"its header says {info.frame_count}; the file is truncated, "
                               "re-download it")
    finally:
        cap.release()
    return info


def sample_indices(frame_count: int, n: int) -> list[int]:
    """``n`` evenly spaced frame indices: the centre of each of ``n`` equal segments.

    When ``n > frame_count`` indices repeat, still in order, so callers always get ``n``.
    """
    if int(frame_count) != frame_count or frame_count < 1:
        raise InputError(f"frame_count must be a positive integer, got {frame_count!r}")
    if int(n) != n or n < 1:
        raise InputError(f"the number of frames to sample must be a positive integer, "
                         f"got {n!r}")
    step = frame_count / n
    return [min(frame_count - 1, int((i + 0.5) * step)) for i in range(int(n))]


def _resize(frame: np.ndarray, size: int | tuple[int, int] | None) -> np.ndarray:
    if size is None:
        return frame
    w, h = (size, size) if isinstance(size, int) else size
    if (frame.shape[1], frame.shape[0]) == (w, h):
        return frame
    return cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)


def _check_size(size) -> None:
    if size is None:
        return
    dims = (size,) if isinstance(size, int) else tuple(size)
    if len(dims) not in (1, 2) or not all(isinstance(d, int) and d > 0 for d in dims):
        raise InputError(f"size must be a positive int (square side) or a (width, height) "
                         f"pair of positive ints, got {size!r}")


def read_frames(path: str | Path, indices: Sequence[int],
                size: int | tuple[int, int] | None = None) -> np.ndarray:
    """Decode the frames at ``indices`` in one sequential pass.

    Args:
        path: the video file.
        indices: 0-based frame numbers in any order, repeats allowed.
        size: resize each frame to ``size x size`` (int) or ``(width, height)``; native if None.

    Returns:
        The frames in the order of ``indices``. A header that over-counts by up to two frames is
        tolerated (the last decoded frame stands in); a shorter stream raises DatasetError.

    Shape:
        ``(K, H, W, 3)`` uint8 RGB.
    """
    path = check_file(path)
    indices = [int(i) for i in indices]
    if not indices:
        raise InputError("indices is empty; pass at least one frame number")
    if min(indices) < 0:
        raise InputError(f"frame indices must be >= 0, got {min(indices)}")
    _check_size(size)
    wanted = sorted(set(indices))
    last_wanted = wanted[-1]
    got: dict[int, np.ndarray] = {}
    cap = _open(path)
    try:
        pos, last = 0, None
        want_iter = iter(wanted)
        target = next(want_iter)
        while pos <= last_wanted:
            if not cap.grab():
                break
            if pos == target:
                ok, frame = cap.retrieve()
                if not ok:
                    break
                last = got[pos] = _resize(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), size)
                target = next(want_iter, -1)
            pos += 1
    finally:
        cap.release()
    if pos <= last_wanted:
        header = _header_count(path)
        if last_wanted >= header:
            raise DatasetError(f"video {path} has {header} frames; frame {last_wanted} is past "
                               f"its end (use indices 0..{header - 1})")
        if last is None or pos < header - _END_SLACK:
            raise DatasetError(f"video {path} ends after {pos} decodable frames but its header "
                               f"says {header}; the file is truncated or damaged, re-download it")
        log.debug("%s: header over-counts (%d decodable); padding with frame %d",
                  path, pos, pos - 1)
        for i in wanted:
            if i not in got:
                got[i] = last
    return np.stack([got[i] for i in indices])


def _header_count(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    try:
        return int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()


# -- keyframes ------------------------------------------------------------------------------

def _pad_note(frame_count: int, k: int) -> str:
    return (f"clip has only {frame_count} frames for k={k}; some frames repeat"
            if frame_count < k else "")


def _uniform(path: Path, k: int) -> Keyframes:
    info = probe(path)
    indices = sample_indices(info.frame_count, k)
    frames = read_frames(path, indices)
    return Keyframes(indices, [i / info.fps for i in indices], frames, "uniform",
                     _pad_note(info.frame_count, k))


def pick_peaks(curve: np.ndarray, k: int, smooth: int = _SMOOTH) -> tuple[list[int], str]:
    """Choose ``k`` frame indices at local maxima of the smoothed change curve.

    Peaks are taken highest first with a minimum spacing of ``len(curve) / (2k)`` frames; when a
    clip has too few peaks (low motion) the rest are filled with evenly spaced frames farthest
    from those chosen. Always returns exactly ``k`` sorted indices and a note on any filling.
    """
    n = len(curve)
    if n == 0:
        raise InputError("the change curve is empty; the video has no frames")
    if n <= k:
        return sample_indices(n, k), _pad_note(n, k)
    width = max(1, min(smooth, n))
    smoothed = np.convolve(curve, np.ones(width) / width, mode="same")
    inner = smoothed[1:-1]
    is_peak = (inner > smoothed[:-2]) & (inner >= smoothed[2:])
    peaks = (np.nonzero(is_peak)[0] + 1).tolist()
    peaks.sort(key=lambda i: -smoothed[i])
    min_gap = max(1, n // (2 * k))
    chosen: list[int] = []
    # A peak must stand out from the clip's typical change, or it is only noise.
    median = float(np.median(smoothed))
    floor = median + max(_MIN_PROMINENCE, 0.1 * (float(smoothed.max()) - median))
    for p in peaks:
        if smoothed[p] < floor:
            break
        if all(abs(p - c) >= min_gap for c in chosen):
            chosen.append(p)
            if len(chosen) == k:
                break
    note = ""
    if len(chosen) < k:
        note = (f"only {len(chosen)} motion peaks found; {k - len(chosen)} evenly spaced "
                "frames added")
        candidates = sample_indices(n, _FILL_POOL * k)
        while len(chosen) < k:
            best = max((c for c in candidates if c not in chosen),
                       key=lambda c: min((abs(c - x) for x in chosen), default=n),
                       default=None)
            if best is None:
                best = next(i for i in range(n) if i not in chosen)
            chosen.append(best)
    return sorted(chosen), note




def content_stride(frame_count: int, k: int) -> int:
    """Every how many frames content keyframes analyse: the largest of 3, 2, 1 that still
    leaves at least ``2k`` analysed frames (grabbing a frame without converting it costs
    about a third of reading it)."""
    return next(s for s in range(_MAX_STRIDE, 0, -1) if s == 1 or frame_count >= 2 * s * k)


def _content(path: Path, k: int) -> Keyframes:
    """Content keyframes in one decoding pass.

    The change curve is taken on every :func:`content_stride`-th frame (the others are only
    grabbed, which skips their colour conversion); smoothed local maxima are found as the
    stream goes, and only candidate frames (the highest 2k peaks so far and the k evenly
    spaced fill positions) are held on to. Keyframe indices are multiples of the stride.
    """

    cap = _open(path)
    try:
        header = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(cap.get(cv2.CAP_PROP_FPS)) or 25.0
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if header <= 0 or width <= 0 or height <= 0:
            raise DatasetError(f"video {path} has no frames according to its header (count "
                               f"{header}, size {width}x{height}); it is damaged, re-download it")
        stride = content_stride(header, k)
        half = _SMOOTH // 2
        recent: dict[int, np.ndarray] = {}  # the last half+2 analysed frames (BGR)
        fill = set(sample_indices(-(-header // stride), _FILL_POOL * k))
        keep_peaks = 2 * k
        kept: dict[int, np.ndarray] = {}     # analysed-frame number -> BGR frame
        heap: list[tuple[float, int]] = []   # (smoothed value, number) of kept peaks
        curve: list[float] = []
        smooth: list[float] = []             # smooth[m] once curve[m + half] is known
        prev_small = None
        pool: list[np.ndarray] = []          # frames no longer referenced, reused by read()

        def consider(m: int) -> None:
            # m is a peak of the smoothed curve if it beats its left and ties-or-beats its right
            s_m = smooth[m]
            if not (s_m > smooth[m - 1] and s_m >= smooth[m + 1]):
                return
            if len(heap) < keep_peaks:
                heapq.heappush(heap, (s_m, m))
            elif s_m > heap[0][0]:
                _, dropped = heapq.heappushpop(heap, (s_m, m))
                if dropped not in fill:
                    freed = kept.pop(dropped, None)
                    if freed is not None and dropped not in recent:
                        pool.append(freed)
            else:
                return
            kept[m] = recent[m]

        j = m = 0
        while True:
            if j % stride:
                if not cap.grab():
                    break
                j += 1
                continue
            # Decode into a recycled buffer: holding on to freshly allocated frames makes every
            # new read fault in new pages (measured ~70% slower reads than a bare decode).
            ok, frame = cap.read(pool.pop() if pool else None)
            if not ok:
                break
            if frame.shape != (height, width, 3):  # a stream whose header lies about the size
                raise DatasetError(f"video {path} has frames of {frame.shape[1]}x"
                                   f"{frame.shape[0]} but its header says {width}x{height}; "
                                   "re-encode it")
            recent[m] = frame
            old = recent.pop(m - half - 2, None)
            if old is not None and (m - half - 2) not in kept:
                pool.append(old)
            small = np.ascontiguousarray(frame[::_SUBSAMPLE, ::_SUBSAMPLE, 1])
            curve.append(0.0 if prev_small is None else
                         float(cv2.norm(small, prev_small, cv2.NORM_L1)) / small.size)
            prev_small = small
            if m in fill:
                kept[m] = frame
            if m >= half:
                smooth.append(sum(curve[max(0, m - 2 * half):m + 1]) / _SMOOTH)
                if m - half - 1 >= 1:
                    consider(m - half - 1)
            j += 1
            m += 1
        # the last few: the curve is zero past its end, as in pick_peaks' convolution
        for i in range(max(0, m - half), m):
            smooth.append(sum(curve[max(0, i - half):i + half + 1]) / _SMOOTH)
        for i in range(max(1, m - half - 1), m - 1):
            consider(i)
    finally:
        cap.release()
    return _finish_content(path, k, j, header, fps, stride, curve, kept, (height, width))


def _finish_content(path: Path, k: int, decoded: int, header: int, fps: float, stride: int,
                    curve: list[float], kept: dict[int, np.ndarray],
                    size: tuple[int, int]) -> Keyframes:
    """Check the decode, pick the k peaks of the change curve and assemble their frames."""
    if decoded == 0:
        raise DatasetError(f"video {path} has no decodable frames; it is damaged, "
                           "re-download it")
    if decoded < header - _END_SLACK:
        raise DatasetError(f"video {path} ends after {decoded} decodable frames but its header "
                           f"says {header}; the file is truncated, re-download it")
    chosen, note = pick_peaks(np.asarray(curve), k, smooth=_SMOOTH)
    missing = sorted({c for c in chosen if c not in kept})
    if missing:  # rare: a chosen frame was not kept; decode those again
        log.debug("%s: second pass for frames %s", path, missing)
        again = read_frames(path, [c * stride for c in missing])
        kept.update({c: cv2.cvtColor(f, cv2.COLOR_RGB2BGR) for c, f in zip(missing, again,
                                                                            strict=True)})
    frames = np.empty((len(chosen), *size, 3), np.uint8)
    for row, c in enumerate(chosen):
        cv2.cvtColor(kept[c], cv2.COLOR_BGR2RGB, dst=frames[row])
    indices = [c * stride for c in chosen]
    return Keyframes(indices, [i / fps for i in indices], frames, "content", note)


KEYFRAME_METHODS = {"uniform": _uniform, "content": _content}


def extract_keyframes(path: str | Path, k: int, method: str = "uniform") -> Keyframes:
    """Choose exactly ``k`` keyframes of a video.

    Args:
        path: the video file.
        k: number of keyframes (>= 1).
        method: ``"uniform"`` (evenly spaced) or ``"content"`` (local maxima of the smoothed
            frame-difference curve, filled with evenly spaced frames on low-motion clips).
    """
    if method not in KEYFRAME_METHODS:
        raise InputError(f"unknown keyframe method {method!r}; valid methods: "
                         f"{', '.join(KEYFRAME_METHODS)}")
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise InputError(f"k (number of keyframes) must be a positive integer, got {k!r}")
    path = check_file(path)
    return KEYFRAME_METHODS[method](path, int(k))
