"""Key hierarchy: random per-artifact data keys wrapped by a master key (key-encryption key).

Wrapped key layout (version 1, 69 bytes):
    version(1)=0x01 || master key id (8 raw bytes) || nonce(12) || AES-256-GCM(data key)+tag(48)
AAD = b"soberana/kw/v1" || master key id || context (the artifact id, UTF-8), so a wrapped key
only unwraps for the artifact it was made for. The wrapping key is HKDF-derived from the master
key; the master key id is a separate HKDF-derived fingerprint, never the key itself.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import re
import stat
import warnings
from typing import Protocol, Self, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from envelope._fs import fsync_directory
from envelope.errors import EnvelopeError, TamperedError, WrongKeyError
from envelope.format import DATA_KEY_SIZE, key_fingerprint

logger = logging.getLogger(__name__)

MASTER_KEY_SIZE = 32
_WRAP_VERSION = 1
_KEY_ID_BYTES = 8
_WRAP_NONCE_SIZE = 12
WRAPPED_KEY_SIZE = 1 + _KEY_ID_BYTES + _WRAP_NONCE_SIZE + DATA_KEY_SIZE + 16
_WRAP_AAD_LABEL = b"soberana/kw/v1"
_KEY_FILE_MAX_BYTES = 4096
_HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")


class MasterKeyCreatedWarning(UserWarning):
    """A new master key file was generated; the operator must back it up."""


def generate_data_key() -> bytes:
    """Return 32 cryptographically random bytes: a fresh AES-256 data key."""
    return os.urandom(DATA_KEY_SIZE)


@runtime_checkable
class MasterKeyProvider(Protocol):
    """Wraps/unwraps per-artifact data keys. `context` (the artifact id) is bound as AAD."""

    key_id: str

    def wrap(self, data_key: bytes, *, context: str) -> bytes:
        """Return `data_key` encrypted under the master key, bound to `context`."""
        ...

    def unwrap(self, wrapped: bytes, *, context: str) -> bytes:
        """Return the data key; raises WrongKeyError (other master) or TamperedError."""
        ...


class LocalMasterKeyProvider:
    """MasterKeyProvider backed by a 32-byte key held in this process's memory."""

    def __init__(self, key: bytes) -> None:
        """Raises EnvelopeError unless `key` is exactly 32 bytes."""
        if not isinstance(key, bytes | bytearray) or len(key) != MASTER_KEY_SIZE:
            raise EnvelopeError(f"master key must be {MASTER_KEY_SIZE} bytes")
        material = bytes(key)
        self.key_id: str = key_fingerprint(material, b"soberana/master-key-id/v1")
        self._key_id_raw = bytes.fromhex(self.key_id)
        wrap_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"soberana/master-wrap/v1"
        ).derive(material)
        self._cipher = AESGCM(wrap_key)

    def __repr__(self) -> str:
        return f"LocalMasterKeyProvider(key_id={self.key_id!r})"

    def _aad(self, context: str) -> bytes:
        if not isinstance(context, str) or not context:
            raise EnvelopeError("context (the artifact id) must be a non-empty str")
        return _WRAP_AAD_LABEL + self._key_id_raw + context.encode()

    def wrap(self, data_key: bytes, *, context: str) -> bytes:
        """Encrypt a 32-byte data key for `context`; returns WRAPPED_KEY_SIZE bytes.

        Raises EnvelopeError for a data key of the wrong size or an empty context.
        """
        if not isinstance(data_key, bytes | bytearray) or len(data_key) != DATA_KEY_SIZE:
            raise EnvelopeError(f"data key must be {DATA_KEY_SIZE} bytes")
        nonce = os.urandom(_WRAP_NONCE_SIZE)
        sealed = self._cipher.encrypt(nonce, bytes(data_key), self._aad(context))
        return bytes([_WRAP_VERSION]) + self._key_id_raw + nonce + sealed

    def unwrap(self, wrapped: bytes, *, context: str) -> bytes:
        """Return the data key wrapped by `wrap(..., context=context)`.

        Raises WrongKeyError if it was wrapped under another master key, TamperedError if it
        was modified or made for another context, EnvelopeError if it is not a wrapped key.
        """
        if len(wrapped) != WRAPPED_KEY_SIZE or wrapped[0] != _WRAP_VERSION:
            raise EnvelopeError("not a version-1 wrapped data key")
        if wrapped[1 : 1 + _KEY_ID_BYTES] != self._key_id_raw:
            raise WrongKeyError(
                f"wrapped under master key {wrapped[1 : 1 + _KEY_ID_BYTES].hex()}, "
                f"this provider is {self.key_id}"
            )
        nonce_end = 1 + _KEY_ID_BYTES + _WRAP_NONCE_SIZE
        try:
            return self._cipher.decrypt(
                wrapped[1 + _KEY_ID_BYTES : nonce_end], wrapped[nonce_end:], self._aad(context)
            )
        except InvalidTag:
            raise TamperedError("wrapped key was modified or belongs to another context") from None

    @classmethod
    def from_string(cls, value: str) -> Self:
        """Build from 64 hex chars or base64 (standard or URL-safe, padding optional).

        Raises EnvelopeError naming the accepted formats (never echoing the value).
        """
        return cls(_decode_key_text(value))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, create: bool = False) -> Self:
        """Load the master key from `path` (base64 or hex text).

        With `create=True` and no file, generate a key, store it with mode 0600 (atomically:
        written to a private temp file, then hard-linked into place) and warn the operator
        (MasterKeyCreatedWarning + log warning) to back it up. Raises EnvelopeError if the file
        is missing (create=False), grants any group/other permission, or holds a bad key.
        """
        path = os.fspath(path)
        if create and not os.path.exists(path):
            _create_key_file(path)
        content = _read_private_file(path)
        try:
            return cls.from_string(content.decode("ascii"))
        except UnicodeDecodeError:
            raise EnvelopeError(f"master key file {path!r} is not base64/hex text") from None


def _read_private_file(path: str) -> bytes:
    """Return the (small) content of `path`, refusing files with any group/other permission.

    The mode is checked on the open descriptor, so a swap between check and read is harmless.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise EnvelopeError(f"master key file {path!r} does not exist") from None
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o077:
            raise EnvelopeError(
                f"master key file {path!r} is accessible by group/other (mode {mode:o}); "
                f"run: chmod 600 {path}"
            )
        content = os.read(fd, _KEY_FILE_MAX_BYTES + 1)
    finally:
        os.close(fd)
    if len(content) > _KEY_FILE_MAX_BYTES:
        raise EnvelopeError(f"master key file {path!r} is too large to be a key")
    return content


def _decode_key_text(value: str) -> bytes:
    """Decode 64 hex chars or base64 (std/urlsafe, padding optional) into exactly 32 bytes."""
    if not isinstance(value, str):
        raise EnvelopeError("master key must be given as a str")
    text = "".join(value.split())
    if _HEX_KEY.fullmatch(text):
        return bytes.fromhex(text)
    normalized = text.replace("-", "+").replace("_", "/").rstrip("=")
    try:
        decoded = base64.b64decode(normalized + "=" * (-len(normalized) % 4), validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) != MASTER_KEY_SIZE:
        raise EnvelopeError(
            "master key must be 64 hex characters or base64 (standard or URL-safe) "
            f"encoding exactly {MASTER_KEY_SIZE} bytes"
        )
    return decoded


def _create_key_file(path: str) -> None:
    """Write a fresh key to a 0600 temp file, then hard-link it to `path` (atomic, no clobber).

    Losing a creation race to another process is fine: its key is then loaded instead.
    """
    temp_path = f"{path}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    fd = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, base64.b64encode(os.urandom(MASTER_KEY_SIZE)) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temp_path, path)
    except FileExistsError:
        return
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_path)
    fsync_directory(path)
    message = (
        f"generated a new Soberana master key at {path!r}: BACK IT UP NOW. Every encrypted "
        "artifact becomes unrecoverable if this file is lost."
    )
    logger.warning(message)
    warnings.warn(message, MasterKeyCreatedWarning, stacklevel=3)


def rewrap_data_key(
    wrapped: bytes, *, context: str, old: MasterKeyProvider, new: MasterKeyProvider
) -> bytes:
    """Master-key rotation: unwrap under `old`, wrap under `new`. The data file is untouched.

    Raises what `old.unwrap` / `new.wrap` raise.
    """
    return new.wrap(old.unwrap(wrapped, context=context), context=context)
