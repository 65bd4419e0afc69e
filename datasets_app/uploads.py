"""An upload handler that encrypts file bodies as they stream in.

Django's default handlers keep small files in memory and write large ones to a plaintext
temporary file; this one sends every chunk straight into an ``EncryptedWriter`` under a fresh
data key, so an uploaded file never touches the disk in plaintext.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from vault.models import DataKey

RAW_BLOB = "raw"


class EncryptedUpload(UploadedFile):
    """What views receive for a file field: metadata and the key of the encrypted raw blob."""

    def __init__(self, name: str, content_type: str, size: int, sha256: str, key: DataKey) -> None:
        super().__init__(file=None, name=name, content_type=content_type, size=size)
        self.sha256 = sha256
        self.data_key = key

    def open(self, mode: str | None = None) -> EncryptedUpload:  # pragma: no cover - unused
        raise NotImplementedError("Read encrypted uploads through vault.services.open_blob().")


class UploadTooLarge(Exception):
    """The upload exceeded ``MAX_UPLOAD_BYTES``."""


class EncryptingUploadHandler(FileUploadHandler):
    """Streams each file into the encrypted blob store; refuses bodies over the size limit."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        from vault.services import blob_writer, create_data_key

        self.key, _ = create_data_key("upload")
        self._context = blob_writer(self.key, RAW_BLOB)
        self._writer = self._context.__enter__()
        self._digest = hashlib.sha256()
        self._size = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self._size += len(raw_data)
        if self._size > settings.MAX_UPLOAD_BYTES:
            self._abort()
            self.request.upload_too_large = True
            raise StopUpload(connection_reset=True)
        self._digest.update(raw_data)
        self._writer.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> EncryptedUpload:
        self._context.__exit__(None, None, None)
        self._context = None
        return EncryptedUpload(
            name=self.file_name,
            content_type=self.content_type,
            size=self._size,
            sha256=self._digest.hexdigest(),
            key=self.key,
        )

    def upload_interrupted(self) -> None:
        self._abort()

    def _abort(self) -> None:
        """Discard the partial blob and its key."""
        if getattr(self, "_context", None) is None:
            return
        try:
            self._context.__exit__(UploadTooLarge, UploadTooLarge(), None)
        except UploadTooLarge:
            pass
        self._context = None
        self.key.delete()
