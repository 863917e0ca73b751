"""Unpacking a zip that may be hostile: unsafe entries, zip bombs, lying headers.

:func:`extract` refuses, before writing a byte, any entry that is absolute, climbs out with
``..``, names a drive, is a symlink or repeats another entry's name; then checks the sizes the
zip declares against :class:`ZipLimits` (total unpacked size, compression ratio per member and
overall, number of members); then extracts while counting the bytes that really come out,
because the declared sizes are written by whoever made the zip.
"""

from __future__ import annotations

import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from harlab.errors import InputError

MiB = 2**20
CHUNK_BYTES = MiB


@dataclass(frozen=True)
class ZipLimits:
    """What a zip may unpack to.

    Attributes:
        max_unpacked_bytes: the whole archive, unpacked.
        max_ratio: unpacked size over compressed size, per member and over the whole zip;
            bundles hold PNGs (about 1:1), SQLite and text (rarely over 20:1), while a zip
            bomb reaches 1000:1.
        ratio_floor_bytes: a member (or a whole zip) smaller than this unpacked is never
            refused for its ratio (a tiny file of zeros harms nobody).
        max_members: the number of entries.
    """

    max_unpacked_bytes: int = 4 * 1024 * MiB
    max_ratio: float = 100.0
    ratio_floor_bytes: int = MiB
    max_members: int = 200_000

    def __post_init__(self) -> None:
        for name in ("max_unpacked_bytes", "ratio_floor_bytes", "max_members"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a whole number >= 1, got {value!r}")
        if not isinstance(self.max_ratio, (int, float)) or not self.max_ratio >= 1:
            raise InputError(f"max_ratio must be a number >= 1, got {self.max_ratio!r}")


def _mb(n: int) -> str:
    return f"{n / MiB:.1f} MB"


def unsafe_reason(name: str) -> str | None:
    """Why ``name`` is not a safe relative path inside one folder, or None when it is."""
    if not name or "\0" in name:
        return "an empty name or one holding a NUL character"
    if "\\" in name:
        return "a name with a backslash (a Windows path)"
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    if posix.is_absolute() or windows.drive or windows.root:
        return "an absolute path"
    if ".." in posix.parts:
        return "a path climbing out with '..'"
    return None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def check_entries(zf: zipfile.ZipFile, source: str, limits: ZipLimits) -> list[zipfile.ZipInfo]:
    """The zip's file entries, after checking every name and declared size; raises InputError."""
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise InputError(f"{source!r} holds {len(infos)} entries, over the limit of "
                         f"{limits.max_members}; it is not a bundle written by HARLab.")
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        reason = "a symbolic link" if _is_symlink(info) else unsafe_reason(name)
        if reason is None and name.rstrip("/") in seen:
            reason = "a second entry of the same name"
        if reason is not None:
            raise InputError(f"{source!r} holds an unsafe entry {name!r} ({reason}); a bundle "
                             "holds only plain files at relative paths inside it. Nothing was "
                             "extracted; do not unpack this file by hand either.")
        seen.add(name.rstrip("/"))
        total += info.file_size
        if (info.file_size >= limits.ratio_floor_bytes
                and info.file_size > limits.max_ratio * max(info.compress_size, 1)):
            ratio = info.file_size / max(info.compress_size, 1)
            raise InputError(f"{source!r}: entry {name!r} unpacks {_mb(info.compress_size)} "
                             f"into {_mb(info.file_size)} (ratio {ratio:.0f}:1), over the "
                             f"limit of {limits.max_ratio:.0f}:1; this is a zip bomb, not a "
                             "HARLab bundle. Nothing was extracted.")
    packed = sum(i.compress_size for i in infos)
    if total >= limits.ratio_floor_bytes and total > limits.max_ratio * max(packed, 1):
        raise InputError(f"{source!r} unpacks {_mb(packed)} into {_mb(total)} (ratio "
                         f"{total / max(packed, 1):.0f}:1 over all its entries), over the limit "
                         f"of {limits.max_ratio:.0f}:1; this is a zip bomb, not a HARLab "
                         "bundle. Nothing was extracted.")
    if total > limits.max_unpacked_bytes:
        raise InputError(f"{source!r} unpacks to {_mb(total)}, over the limit of "
                         f"{_mb(limits.max_unpacked_bytes)}. Nothing was extracted; if the "
                         "bundle is genuine, raise the limit (harlab verify --max-unpacked-mb).")
    return [i for i in infos if not i.is_dir()]


def extract(zip_path: Path, dest: Path, limits: ZipLimits | None = None) -> list[str]:
    """Unpack ``zip_path`` into the empty folder ``dest``; returns the file names written.

    Raises:
        InputError: an unsafe entry, a declared or actual size over ``limits``, or a corrupt
            member; the message names the entry and the limit.
    """
    limits = limits or ZipLimits()
    source = str(zip_path)
    try:
        with zipfile.ZipFile(zip_path) as zf:
            infos = check_entries(zf, source, limits)
            written = 0
            for info in infos:
                written += _copy_counted(zf, info, dest, source, limits,
                                         limits.max_unpacked_bytes - written)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise InputError(f"{source!r} is a damaged zip ({exc}); export the bundle again with "
                         "harlab export-bundle.") from exc
    return [i.filename for i in infos]


def _copy_counted(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, source: str,
                  limits: ZipLimits, budget: int) -> int:
    """Write one member, refusing once it passes its declared size or the total budget."""
    target = dest / info.filename
    if not target.resolve().is_relative_to(dest.resolve()):  # e.g. a folder that is a link
        raise InputError(f"{source!r} holds an unsafe entry {info.filename!r} (it lands "
                         "outside the bundle folder); nothing more was extracted.")
    target.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with zf.open(info) as src, open(target, "wb") as out:
        while chunk := src.read(CHUNK_BYTES):
            count += len(chunk)
            if count > info.file_size:
                raise InputError(f"{source!r}: entry {info.filename!r} unpacks to more than "
                                 f"the {info.file_size} bytes its header declares; the zip "
                                 "lies about its sizes and was refused.")
            if count > budget:
                raise InputError(f"{source!r} unpacks to more than the limit of "
                                 f"{_mb(limits.max_unpacked_bytes)}; refused while extracting "
                                 f"{info.filename!r}.")
            out.write(chunk)
    return count


__all__ = ["ZipLimits", "check_entries", "extract", "unsafe_reason"]
