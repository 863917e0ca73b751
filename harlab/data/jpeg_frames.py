"""JPEG-compressed frames: the storage of a ``format="jpeg"`` frame cache.

A split is two files: ``<split>.jpg``, every frame's JPEG bytes one after another, and
``<split>.off``, ``M + 1`` little-endian int64 offsets into it (frame ``i`` is
``data[off[i]:off[i + 1]]``). :class:`JpegFrames` reads them as an array: indexing decodes, so
code written for a raw ``(M, S, S, 3)`` uint8 memmap (``frames[rows]``, ``len(frames)``,
``frames.shape``) works unchanged. :meth:`JpegFrames.encoded` hands out the bytes instead, for
batched decoding on the GPU (:func:`decode_batch` with a CUDA device).

Frames are encoded with OpenCV (libjpeg-turbo, ~0.2 ms per 224 px frame) and decoded by
OpenCV on the CPU (straight into ``(N, S, S, 3)``) or by ``torchvision.io.decode_jpeg`` on
CUDA (batched nvJPEG).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torchvision.io import ImageReadMode, decode_jpeg

from harlab.errors import DatasetError

OFFSET_DTYPE = np.dtype("<i8")
# OpenCV >= 4.10 decodes to RGB directly; older versions give BGR, flipped on copy.
_IMREAD_RGB = getattr(cv2, "IMREAD_COLOR_RGB", cv2.IMREAD_COLOR)


def encode_frames(frames: np.ndarray, quality: int) -> list[bytes]:
    """JPEG bytes of each RGB frame (baseline, 4:2:0, as every decoder and nvJPEG read).

    Shape:
        frames: ``(N, S, S, 3)`` uint8 RGB.
    """
    out = []
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    for frame in frames:
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), params)
        if not ok:
            raise DatasetError(f"OpenCV could not encode a {frame.shape} frame as JPEG; "
                               "use a raw cache (format='raw')")
        out.append(buf.tobytes())
    return out


def decode_batch(encoded: Sequence[torch.Tensor], device: str | torch.device = "cpu"
                 ) -> torch.Tensor:
    """Decode JPEG byte tensors into one batch on ``device`` (batched nvJPEG on CUDA).

    Shape:
        encoded: N 1-D uint8 tensors (CPU).
        result: ``(N, S, S, 3)`` uint8 RGB on ``device`` (a permuted view of ``(N, 3, S, S)``).
    """
    device = torch.device(device)
    if not encoded:
        raise DatasetError("decode_batch needs at least one encoded frame, got none")
    images = decode_jpeg(list(encoded), mode=ImageReadMode.RGB, device=device)
    return torch.stack(images).permute(0, 2, 3, 1)


class JpegFrames:
    """A read-only ``(M, S, S, 3)`` uint8 "array" whose rows are decoded on access.

    Picklable (the memmap is reopened in the receiving process), so DataLoader workers can
    take it under any start method.
    """

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(self, data_path: str | Path, offsets_path: str | Path, size: int):
        self.data_path, self.offsets_path = Path(data_path), Path(offsets_path)
        self.size = int(size)
        self._offsets: np.ndarray | None = None
        self._data: np.ndarray | None = None
        self._open()

    def _open(self) -> None:
        try:
            offsets = np.fromfile(self.offsets_path, dtype=OFFSET_DTYPE)
            data_size = self.data_path.stat().st_size
        except OSError as exc:
            raise DatasetError(f"frame cache file {self.offsets_path} or {self.data_path} "
                               f"cannot be read ({exc.strerror}); rebuild the cache") from exc
        if (len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != data_size
                or np.any(np.diff(offsets) <= 0)):
            raise DatasetError(f"frame cache file {self.data_path} ({data_size} bytes) does "
                               f"not match its offsets {self.offsets_path}; it is damaged, "
                               "rebuild the cache")
        self._offsets = offsets
        self._data = (np.memmap(self.data_path, np.uint8, "r") if data_size
                      else np.zeros(0, np.uint8))

    def __getstate__(self) -> dict[str, Any]:
        return {"data_path": self.data_path, "offsets_path": self.offsets_path,
                "size": self.size}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._open()

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self), self.size, self.size, 3)

    @property
    def nbytes_stored(self) -> int:
        """Bytes on disk (the JPEG data and the offsets)."""
        return int(self._offsets[-1]) + self._offsets.nbytes

    def _rows(self, index: Any) -> np.ndarray:
        return np.arange(len(self), dtype=np.int64)[index]

    def encoded(self, rows: Any) -> list[torch.Tensor]:
        """The JPEG bytes of ``rows`` as 1-D uint8 tensors (for :func:`decode_batch`)."""
        rows = np.atleast_1d(self._rows(rows))
        off = self._offsets
        # copy: a tensor over a read-only memmap would warn, and workers send these to the
        # main process anyway
        return [torch.from_numpy(np.array(self._data[off[r]:off[r + 1]])) for r in rows]

    def chunk(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Raw bytes and frame lengths of rows ``start:stop`` (to copy them into a new cache)."""
        off = self._offsets
        return (np.asarray(self._data[off[start]:off[stop]]),
                np.diff(off[start:stop + 1]))

    def __getitem__(self, index: Any) -> np.ndarray:
        if isinstance(index, tuple):
            raise IndexError("JpegFrames takes one index (rows), not a tuple; decode the rows "
                             "first, then slice the array")
        rows = self._rows(index)
        if rows.ndim == 0:
            return self._decode(rows[None])[0]
        return self._decode(rows)

    def _decode(self, rows: np.ndarray) -> np.ndarray:
        """Decode straight into a contiguous ``(N, S, S, 3)`` array (OpenCV: no transposes)."""
        out = np.empty((len(rows), self.size, self.size, 3), np.uint8)
        off, data = self._offsets, self._data
        for i, r in enumerate(rows):
            img = cv2.imdecode(data[off[r]:off[r + 1]], _IMREAD_RGB)
            if img is None or img.shape != out.shape[1:]:
                raise DatasetError(f"frame {r} of {self.data_path} is not a {self.size} px "
                                   "JPEG; the cache is damaged, rebuild it")
            out[i] = img if _IMREAD_RGB != cv2.IMREAD_COLOR else img[..., ::-1]
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)


class JpegWriter:
    """Appends frames (encoded now, or copied as bytes from an older cache) to a new split."""

    def __init__(self, data_path: Path, quality: int):
        self.data_path, self.quality = data_path, quality
        self._file = open(data_path, "wb")  # noqa: SIM115 - closed in close()
        self._lengths: list[np.ndarray] = []

    def add(self, frames: np.ndarray) -> None:
        encoded = encode_frames(frames, self.quality)
        self._file.write(b"".join(encoded))
        self._lengths.append(np.array([len(e) for e in encoded], np.int64))

    def copy(self, source: JpegFrames, start: int, stop: int) -> None:
        data, lengths = source.chunk(start, stop)
        self._file.write(data.tobytes())
        self._lengths.append(lengths.astype(np.int64))

    def close(self) -> np.ndarray:
        """Close the data file; return the ``M + 1`` offsets."""
        self._file.close()
        lengths = np.concatenate(self._lengths) if self._lengths else np.zeros(0, np.int64)
        return np.concatenate([[0], np.cumsum(lengths)]).astype(OFFSET_DTYPE)
