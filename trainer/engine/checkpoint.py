"""Encrypted, pickle-free training checkpoints.

Each checkpoint is ONE file `step-000123.ckpt`: a container (JSON manifest + safetensors blobs, see
container.py) encrypted as a whole with the envelope library, under the per-file artifact id
"<artifact_id>/step-000123" so files cannot be swapped for one another. An encrypted index
(`index.ckpt`) records step and losses of each checkpoint, so `list()` does not decrypt weights.
The store keeps the newest `keep_last` checkpoints plus the best one by validation loss.

Loading authenticates before parsing: `read_encrypted_bytes` verifies every byte first, and any
envelope failure surfaces as a `CheckpointError` subclass with a readable message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from envelope import (
    EnvelopeError,
    TamperedError,
    WrongKeyError,
    read_encrypted_bytes,
    write_encrypted_bytes,
)

from . import container

_STEP_FILE = re.compile(r"^step-(\d{6,})\.ckpt$")
INDEX_FILE = "index.ckpt"


class CheckpointError(Exception):
    """A checkpoint cannot be used (base class of the specific verdicts below)."""


class CheckpointTamperedError(CheckpointError):
    """The file failed authentication: modified, truncated, or swapped for another file."""


class CheckpointWrongKeyError(CheckpointError):
    """The data key given to the store does not open this file."""


@dataclass(frozen=True)
class CheckpointInfo:
    """What `list()` knows about a checkpoint without decrypting its weights."""

    step: int
    train_loss: float | None
    val_loss: float | None
    path: Path
    is_best: bool


@dataclass
class Checkpoint:
    """A decrypted checkpoint: JSON manifest, tensor groups and raw blobs."""

    step: int
    manifest: dict[str, Any]
    tensors: dict[str, dict[str, torch.Tensor]]
    blobs: dict[str, bytes]


@contextmanager
def envelope_errors(path: Path) -> Iterator[None]:
    """Translate envelope and container failures into CheckpointError subclasses."""
    try:
        yield
    except WrongKeyError as exc:
        raise CheckpointWrongKeyError(f"{path.name}: the data key does not open this file") from exc
    except TamperedError as exc:
        raise CheckpointTamperedError(
            f"{path.name}: failed authentication (modified or truncated)"
        ) from exc
    except EnvelopeError as exc:  # wrong artifact id (a swapped file), malformed header, ...
        raise CheckpointTamperedError(f"{path.name}: refused by the envelope layer: {exc}") from exc
    except container.ContainerError as exc:
        raise CheckpointError(f"{path.name}: {exc}") from exc


class CheckpointStore:
    """Directory of encrypted checkpoints of one training job (see module docstring)."""

    def __init__(
        self,
        directory: str | Path,
        data_key: bytes,
        *,
        key_id: str,
        artifact_id: str,
        keep_last: int = 2,
    ) -> None:
        if keep_last < 1:
            raise ValueError("keep_last must be at least 1")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._key, self.key_id, self.artifact_id, self.keep_last = (
            data_key,
            key_id,
            artifact_id,
            keep_last,
        )

    # -- encrypted file primitives -------------------------------------------------------------
    def write_file(self, path: Path, data: bytes, artifact: str) -> None:
        """Encrypt `data` into `path` atomically under artifact id "<artifact_id>/<artifact>"."""
        write_encrypted_bytes(
            path, data, self._key, key_id=self.key_id, artifact_id=f"{self.artifact_id}/{artifact}"
        )

    def read_file(self, path: Path, artifact: str) -> bytes:
        """Authenticate and decrypt `path`; raises CheckpointError subclasses, FileNotFoundError."""
        with envelope_errors(path):
            return read_encrypted_bytes(
                path, self._key, artifact_id=f"{self.artifact_id}/{artifact}"
            )

    # -- index -----------------------------------------------------------------------------------
    def _read_index(self) -> list[dict[str, Any]]:
        path = self.directory / INDEX_FILE
        if not path.exists():
            return []
        entries: list[dict[str, Any]] = json.loads(self.read_file(path, "index"))["checkpoints"]
        return entries

    def _write_index(self, entries: list[dict[str, Any]]) -> None:
        data = json.dumps({"checkpoints": entries}).encode()
        self.write_file(self.directory / INDEX_FILE, data, "index")

    # -- public API ------------------------------------------------------------------------------
    def save(
        self,
        step: int,
        manifest: dict[str, Any],
        tensors: dict[str, dict[str, torch.Tensor]],
        *,
        train_loss: float | None,
        val_loss: float | None,
        blobs: dict[str, bytes] | None = None,
    ) -> CheckpointInfo:
        """Write checkpoint `step` (atomically, encrypted), update the index, prune old ones."""
        payload = {
            f"tensors/{group}": container.tensors_to_bytes(group_tensors)
            for group, group_tensors in tensors.items()
        }
        payload.update({f"blob/{name}": blob for name, blob in (blobs or {}).items()})
        data = container.pack({"step": step, **manifest}, payload)
        del payload
        path = self.directory / f"step-{step:06d}.ckpt"
        self.write_file(path, data, path.stem)
        del data
        entries = [e for e in self._read_index() if e["step"] != step]
        entries.append({"step": step, "train_loss": train_loss, "val_loss": val_loss})
        entries = self._prune(sorted(entries, key=lambda e: e["step"]))
        self._write_index(entries)
        return next(info for info in self.list() if info.step == step)

    def _prune(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        keep = {e["step"] for e in entries[-self.keep_last :]}
        best = _best_entry(entries)
        if best is not None:
            keep.add(best["step"])
        for entry in entries:
            if entry["step"] not in keep:
                (self.directory / f"step-{entry['step']:06d}.ckpt").unlink(missing_ok=True)
        return [e for e in entries if e["step"] in keep]

    def list(self) -> list[CheckpointInfo]:
        """Checkpoints present on disk, oldest first. Files missing from the index (a crash between
        writing the file and the index) are listed with unknown losses."""
        indexed = {e["step"]: e for e in self._read_index()}
        on_disk = {
            int(m.group(1)): p for p in self.directory.iterdir() if (m := _STEP_FILE.match(p.name))
        }
        best = _best_entry([indexed[s] for s in on_disk if s in indexed])
        infos = []
        for step in sorted(on_disk):
            entry = indexed.get(step, {})
            infos.append(
                CheckpointInfo(
                    step,
                    entry.get("train_loss"),
                    entry.get("val_loss"),
                    on_disk[step],
                    is_best=best is not None and best["step"] == step,
                )
            )
        return infos

    def latest(self) -> CheckpointInfo | None:
        """The newest checkpoint, or None when the store is empty."""
        infos = self.list()
        return infos[-1] if infos else None

    def best(self) -> CheckpointInfo | None:
        """The checkpoint with the lowest validation loss, or None when none has one."""
        return next((info for info in self.list() if info.is_best), None)

    def load(self, info: CheckpointInfo) -> Checkpoint:
        """Decrypt (authenticating first) and parse a checkpoint; raises CheckpointError kinds."""
        data = self.read_file(info.path, info.path.stem)
        with envelope_errors(info.path):
            manifest, raw = container.unpack(data)
        if manifest.get("step") != info.step:
            raise CheckpointTamperedError(f"{info.path.name}: holds step {manifest.get('step')}")
        tensors = {
            name.removeprefix("tensors/"): container.tensors_from_bytes(blob)
            for name, blob in raw.items()
            if name.startswith("tensors/")
        }
        blobs = {
            name.removeprefix("blob/"): bytes(blob)
            for name, blob in raw.items()
            if name.startswith("blob/")
        }
        return Checkpoint(info.step, manifest, tensors, blobs)


def _best_entry(entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    scored = [e for e in entries if e.get("val_loss") is not None]
    return min(scored, key=lambda e: (e["val_loss"], -e["step"])) if scored else None
