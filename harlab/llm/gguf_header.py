"""What a GGUF file says about itself: its magic bytes and key-value header.

A lab brings its own vision-language model as two files, the language model GGUF and its
``mmproj`` projector GGUF. Handing llama.cpp the wrong file gives a crash deep in its log, so
HARLab reads the header first and names the file and what was expected. The ``gguf`` package
(llama.cpp's own reader) is not a HARLab dependency and maps the whole file with numpy; the
header is a short, documented layout (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md),
so a small reader does: magic ``GGUF``, version (uint32), tensor and key-value counts (uint64),
then each key (length-prefixed UTF-8), its type (uint32) and its value, little-endian.
"""

from __future__ import annotations

import struct
from collections.abc import Collection
from pathlib import Path
from typing import Any, BinaryIO

from harlab.errors import LLMError

MAGIC = b"GGUF"
PROJECTOR_ARCH = "clip"  # general.architecture of every mmproj file llama.cpp writes

# GGUF value types: code -> struct format of one scalar (8 = string, 9 = array).
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_MAX_STRING_BYTES = 1 << 24  # a corrupt length would otherwise read the whole file


class GGUFError(LLMError):
    """A file is missing, not a GGUF file, or not the kind of GGUF file expected."""


def read_header(path: str | Path, *, want: Collection[str] = ()) -> dict[str, Any]:
    """The scalar and string key-values of a GGUF file's header (arrays are skipped).

    Args:
        path: the file.
        want: stop reading once all these keys are found (the tokenizer's arrays that follow
            the architecture keys in a model file are then not read at all); empty = read all.

    Raises:
        GGUFError: the file is missing or unreadable, does not start with ``GGUF``, or its
            header is truncated or malformed.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
            if magic != MAGIC:
                raise GGUFError(f"{str(path)!r} is not a GGUF file: it starts with {magic!r}, "
                                f"expected the magic bytes {MAGIC!r}")
            version = _unpack(fh, "<I")
            if version not in (2, 3):
                raise GGUFError(f"{str(path)!r} is GGUF version {version}; llama.cpp reads "
                                "versions 2 and 3 (re-download or re-convert the file)")
            _tensors, count = _unpack(fh, "<Q"), _unpack(fh, "<Q")
            values: dict[str, Any] = {"GGUF.version": version}
            remaining = set(want)
            for _ in range(count):
                key = _string(fh)
                kind = _unpack(fh, "<I")
                values[key] = _value(fh, kind)
                remaining.discard(key)
                if want and not remaining:
                    break
            return values
    except FileNotFoundError as exc:
        raise GGUFError(f"{str(path)!r} does not exist") from exc
    except (OSError, struct.error, UnicodeDecodeError) as exc:
        raise GGUFError(f"{str(path)!r} has a truncated or malformed GGUF header ({exc}); "
                        "download it again") from exc


def _unpack(fh: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    data = fh.read(size)
    if len(data) != size:
        raise struct.error(f"file ends inside the header (needed {size} bytes)")
    return struct.unpack(fmt, data)[0]


def _string(fh: BinaryIO) -> str:
    length = _unpack(fh, "<Q")
    if length > _MAX_STRING_BYTES:
        raise struct.error(f"a string of {length} bytes in the header")
    data = fh.read(length)
    if len(data) != length:
        raise struct.error("file ends inside a string")
    return data.decode("utf-8")


def _value(fh: BinaryIO, kind: int) -> Any:
    if kind in _SCALARS:
        return _unpack(fh, _SCALARS[kind])
    if kind == _STRING:
        return _string(fh)
    if kind == _ARRAY:
        item, n = _unpack(fh, "<I"), _unpack(fh, "<Q")
        if item in _SCALARS:
            fh.seek(struct.calcsize(_SCALARS[item]) * n, 1)
        elif item == _STRING:
            for _ in range(n):
                fh.seek(_unpack(fh, "<Q"), 1)
        else:
            for _ in range(n):  # nested arrays: rare, but legal
                _value(fh, item)
        return None
    raise struct.error(f"unknown GGUF value type {kind}")


def check_model(path: str | Path, what: str = "model") -> dict[str, Any]:
    """Check that ``path`` is a language-model GGUF (not a projector); returns its header."""
    header = read_header(path)
    arch = header.get("general.architecture")
    if arch == PROJECTOR_ARCH:
        raise GGUFError(f"the {what} file {str(path)!r} is a CLIP/mmproj projector, not a "
                        "language model: give the model GGUF as the model and this file as "
                        "the projector (mmproj)")
    if not arch:
        raise GGUFError(f"the {what} file {str(path)!r} has no general.architecture key; "
                        "expected a llama.cpp model GGUF")
    return header


def check_projector(path: str | Path, model_header: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check that ``path`` is an mmproj projector with a vision encoder, matching the model.

    ``model_header`` (from :func:`check_model`) lets the projector's output width
    (``clip.vision.projection_dim``, where the converter wrote it) be compared with the
    model's ``embedding_length``: a projector made for another model fails there.
    """
    header = read_header(path)
    arch = header.get("general.architecture")
    if arch != PROJECTOR_ARCH:
        raise GGUFError(f"the projector file {str(path)!r} is not a CLIP/mmproj projector: its "
                        f"general.architecture is {arch!r}, expected {PROJECTOR_ARCH!r} (the "
                        "file named mmproj-*.gguf on the model's page)")
    if header.get("clip.has_vision_encoder") is False:
        raise GGUFError(f"the projector file {str(path)!r} has no vision encoder "
                        "(clip.has_vision_encoder is false; an audio-only projector?); expected "
                        "the vision mmproj of the model")
    if model_header:
        model_arch = model_header.get("general.architecture")
        width = model_header.get(f"{model_arch}.embedding_length")
        proj = header.get("clip.vision.projection_dim")
        if width and proj and width != proj:
            raise GGUFError(f"the projector file {str(path)!r} does not match the model: it "
                            f"outputs {proj}-wide embeddings, the model ({model_arch}) takes "
                            f"{width}; download the mmproj file from the same model page as "
                            "the model")
    return header
