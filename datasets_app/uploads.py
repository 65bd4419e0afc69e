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
from django.core.files.uploadhandler import FileUploadHandler, SkipFile, StopUpload
from django.http import HttpRequest

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


def may_upload(request: HttpRequest) -> bool:
    """Whether the caller (session user or bearer token) may upload to some project.

    Checked before a single byte is stored: the body of a POST can be parsed before the view
    runs (CSRF validation reads the form), and an anonymous or read-only caller must not be
    able to fill the disk with encrypted junk.
    """
    from accounts.models import usable_token
    from accounts.roles import Action
    from accounts.services import project_ids_allowing

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        parts = request.META.get("HTTP_AUTHORIZATION", "").split()
        if len(parts) != 2 or parts[0].lower() != "bearer":
            return False
        token = usable_token(parts[1])
        if token is None or not token.has_scope("write"):
            return False
        user = token.user
    return bool(project_ids_allowing(user, Action.UPLOAD_DATA))


class EncryptingUploadHandler(FileUploadHandler):
    """Streams each file into the encrypted blob store; refuses bodies over the size limit and
    callers who may not upload anywhere (the file is skipped, nothing is written)."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        from vault.services import blob_writer, create_data_key

        self._context = None
        if not may_upload(self.request):
            self.request.upload_refused = True
            raise SkipFile()
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
        from vault.services import discard_data_key

        discard_data_key(self.key)


def discard_request_uploads(request: HttpRequest) -> None:
    """Delete the encrypted uploads of a refused request (nothing references them)."""
    from vault.services import discard_data_key

    for upload in request.FILES.values():
        if isinstance(upload, EncryptedUpload):
            discard_data_key(upload.data_key)
