"""A minimal pickle-free container: one JSON manifest plus named binary blobs, in one byte string.

Layout: MAGIC (8 bytes) | header length (8 bytes, big-endian) | header JSON | blobs back to back.
The header JSON is {"manifest": {...}, "blobs": {name: [offset, length]}} with offsets relative to
the end of the header. Blobs are typically `safetensors` byte strings. The container itself is not
encrypted or authenticated: callers encrypt the whole byte string (see checkpoint.py), and parse
only after decryption has authenticated it.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

MAGIC = b"SBCKPT1\n"
_LENGTH = struct.Struct(">Q")


class ContainerError(ValueError):
    """The bytes are not a container of this version (or are internally inconsistent)."""


def pack(manifest: dict[str, Any], blobs: dict[str, bytes]) -> bytes:
    """Serialise a JSON-safe manifest and named blobs into one byte string."""
    table, offset = {}, 0
    for name, blob in blobs.items():
        table[name] = [offset, len(blob)]
        offset += len(blob)
    header = json.dumps({"manifest": manifest, "blobs": table}, allow_nan=True).encode()
    return b"".join([MAGIC, _LENGTH.pack(len(header)), header, *blobs.values()])


def unpack(data: bytes) -> tuple[dict[str, Any], dict[str, memoryview]]:
    """Parse `pack` output; blobs come back as zero-copy memoryviews. Raises ContainerError."""
    view = memoryview(data)
    if bytes(view[: len(MAGIC)]) != MAGIC or len(view) < len(MAGIC) + _LENGTH.size:
        raise ContainerError("not a Soberana checkpoint container")
    (header_len,) = _LENGTH.unpack(view[len(MAGIC) : len(MAGIC) + _LENGTH.size])
    body_start = len(MAGIC) + _LENGTH.size + header_len
    try:
        header = json.loads(bytes(view[len(MAGIC) + _LENGTH.size : body_start]))
        table = header["blobs"]
        manifest = header["manifest"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ContainerError(f"unreadable container header: {exc}") from exc
    blobs = {}
    for name, (offset, length) in table.items():
        start = body_start + int(offset)
        if int(offset) < 0 or int(length) < 0 or start + int(length) > len(view):
            raise ContainerError(f"blob {name!r} lies outside the container")
        blobs[name] = view[start : start + int(length)]
    return manifest, blobs


def tensors_to_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    """safetensors bytes of CPU-contiguous copies of `tensors` (no pickle)."""
    return save_safetensors({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()})


def tensors_from_bytes(blob: bytes | memoryview) -> dict[str, torch.Tensor]:
    """Tensors from safetensors bytes (CPU)."""
    return load_safetensors(bytes(blob))
