"""Binary header, key derivation and nonce construction (the on-disk format lives here).

The format itself is documented in the package docstring (`envelope/__init__.py`); this module
is its single implementation, shared by the writer, the reader and `read_header`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from dataclasses import dataclass, field, replace

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from envelope.errors import EnvelopeError, TamperedError, TruncatedError, WrongKeyError

MAGIC = b"SOBENC"
FORMAT_VERSION = 1
DATA_KEY_SIZE = 32
NONCE_PREFIX_SIZE = 7
KEY_CHECK_SIZE = 16
HEADER_TAG_SIZE = 32
GCM_TAG_SIZE = 16
MAX_SEGMENT_SIZE = 1 << 30
MAX_SEGMENTS = 1 << 32  # the counter is 4 bytes
MAX_KEY_ID_BYTES = 255
MAX_ARTIFACT_ID_BYTES = 4096

# magic, version, total header length
_PREAMBLE = struct.Struct(">6sBH")
PREAMBLE_SIZE = _PREAMBLE.size
_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")

_INFO_SEGMENT = b"soberana/envelope/v1/segment-key"
_INFO_KEY_CHECK = b"soberana/envelope/v1/key-check"
_INFO_HEADER_MAC = b"soberana/envelope/v1/header-mac"
_KEY_CHECK_MESSAGE = b"SOBENC key check v1"


@dataclass(frozen=True)
class Header:
    """Parsed file header. `to_bytes()` reproduces the exact on-disk bytes (the segments' AAD)."""

    version: int
    key_id: str
    artifact_id: str
    segment_size: int
    nonce_prefix: bytes = field(repr=False)
    key_check: bytes = field(repr=False)
    tag: bytes = field(repr=False)

    def authenticated_fields(self) -> bytes:
        """Return every header byte except the trailing header tag (the MAC's input)."""
        key_id = self.key_id.encode()
        artifact_id = self.artifact_id.encode()
        total = header_size(len(key_id), len(artifact_id))
        return b"".join(
            (
                _PREAMBLE.pack(MAGIC, self.version, total),
                _U32.pack(self.segment_size),
                _U8.pack(len(key_id)),
                key_id,
                _U16.pack(len(artifact_id)),
                artifact_id,
                self.nonce_prefix,
                self.key_check,
            )
        )

    def to_bytes(self) -> bytes:
        """Return the complete encoded header, tag included."""
        return self.authenticated_fields() + self.tag

    @property
    def size(self) -> int:
        """Number of bytes the header occupies at the start of the file."""
        return header_size(len(self.key_id.encode()), len(self.artifact_id.encode()))


def header_size(key_id_len: int, artifact_id_len: int) -> int:
    """Return the encoded header length for identifiers of the given UTF-8 byte lengths."""
    fixed = PREAMBLE_SIZE + _U32.size + _U8.size + _U16.size
    return (
        fixed + key_id_len + artifact_id_len + NONCE_PREFIX_SIZE + KEY_CHECK_SIZE + HEADER_TAG_SIZE
    )


@dataclass(frozen=True)
class DerivedKeys:
    """Independent subkeys derived from one data key with HKDF-SHA256 (distinct `info` labels)."""

    segment_cipher: AESGCM = field(repr=False)
    key_check_key: bytes = field(repr=False)
    header_mac_key: bytes = field(repr=False)

    def key_check(self) -> bytes:
        """Return the key-check value: a PRF of the data key alone, so it never depends on
        (and never reports) header edits; those are caught by the header tag instead."""
        return hmac.digest(self.key_check_key, _KEY_CHECK_MESSAGE, "sha256")[:KEY_CHECK_SIZE]

    def header_tag(self, authenticated_fields: bytes) -> bytes:
        """Return HMAC-SHA256 of the header fields under the header-MAC subkey."""
        return hmac.digest(self.header_mac_key, authenticated_fields, "sha256")


def _hkdf(data_key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(data_key)


def derive_keys(data_key: bytes) -> DerivedKeys:
    """Derive the segment, key-check and header-MAC subkeys.

    Raises EnvelopeError when `data_key` is not 32 bytes (AES-256 only).
    """
    if not isinstance(data_key, bytes | bytearray) or len(data_key) != DATA_KEY_SIZE:
        raise EnvelopeError(f"data key must be {DATA_KEY_SIZE} bytes (use generate_data_key())")
    key = bytes(data_key)
    return DerivedKeys(
        segment_cipher=AESGCM(_hkdf(key, _INFO_SEGMENT)),
        key_check_key=_hkdf(key, _INFO_KEY_CHECK),
        header_mac_key=_hkdf(key, _INFO_HEADER_MAC),
    )


def _validate_identifiers(key_id: str, artifact_id: str, segment_size: int) -> None:
    if not isinstance(key_id, str) or len(key_id.encode()) > MAX_KEY_ID_BYTES:
        raise EnvelopeError(f"key_id must be a str of at most {MAX_KEY_ID_BYTES} UTF-8 bytes")
    if not isinstance(artifact_id, str) or not artifact_id:
        raise EnvelopeError("artifact_id must be a non-empty str")
    if len(artifact_id.encode()) > MAX_ARTIFACT_ID_BYTES:
        raise EnvelopeError(f"artifact_id must be at most {MAX_ARTIFACT_ID_BYTES} UTF-8 bytes")
    if not isinstance(segment_size, int) or not 1 <= segment_size <= MAX_SEGMENT_SIZE:
        raise EnvelopeError(f"segment_size must be an int in [1, {MAX_SEGMENT_SIZE}]")


def new_header(keys: DerivedKeys, *, key_id: str, artifact_id: str, segment_size: int) -> Header:
    """Build a header with a fresh random nonce prefix, key-check value and tag.

    Raises EnvelopeError on invalid identifiers or segment size.
    """
    _validate_identifiers(key_id, artifact_id, segment_size)
    unsigned = Header(
        version=FORMAT_VERSION,
        key_id=key_id,
        artifact_id=artifact_id,
        segment_size=segment_size,
        nonce_prefix=os.urandom(NONCE_PREFIX_SIZE),
        key_check=keys.key_check(),
        tag=b"",
    )
    tag = keys.header_tag(unsigned.authenticated_fields())
    return replace(unsigned, tag=tag)


def declared_header_size(preamble: bytes) -> int:
    """Validate the fixed preamble (magic, version, length) and return the header length.

    Raises TruncatedError if the preamble is incomplete, EnvelopeError for a file that is not
    an envelope or uses an unsupported version, TamperedError for an impossible length.
    """
    if len(preamble) < PREAMBLE_SIZE:
        raise TruncatedError("file ends inside the header preamble")
    magic, version, total = _PREAMBLE.unpack(preamble[:PREAMBLE_SIZE])
    if magic != MAGIC:
        raise EnvelopeError("not a Soberana envelope file (bad magic)")
    if version != FORMAT_VERSION:
        raise EnvelopeError(f"unsupported envelope format version {version}")
    if total < header_size(0, 0):
        raise TamperedError("header length field is impossible")
    return int(total)


def _take(raw: bytes, offset: int, size: int) -> tuple[bytes, int]:
    end = offset + size
    if end > len(raw):
        raise TamperedError("header fields overrun the declared header length")
    return raw[offset:end], end


def parse_header(raw: bytes) -> Header:
    """Parse the exact header bytes (no key needed; nothing is authenticated here).

    Raises EnvelopeError / TamperedError / TruncatedError as `declared_header_size` does, and
    TamperedError when the fields do not exactly fill the declared length or are not UTF-8.
    """
    total = declared_header_size(raw)
    if len(raw) < total:
        raise TruncatedError("file ends inside the header")
    offset = PREAMBLE_SIZE
    field_bytes, offset = _take(raw, offset, _U32.size)
    (segment_size,) = _U32.unpack(field_bytes)
    field_bytes, offset = _take(raw, offset, _U8.size)
    key_id, offset = _take(raw, offset, field_bytes[0])
    field_bytes, offset = _take(raw, offset, _U16.size)
    artifact_id, offset = _take(raw, offset, _U16.unpack(field_bytes)[0])
    nonce_prefix, offset = _take(raw, offset, NONCE_PREFIX_SIZE)
    key_check, offset = _take(raw, offset, KEY_CHECK_SIZE)
    tag, offset = _take(raw, offset, HEADER_TAG_SIZE)
    if offset != total or not 1 <= segment_size <= MAX_SEGMENT_SIZE:
        raise TamperedError("header fields are inconsistent with the declared length")
    try:
        key_id_text, artifact_text = key_id.decode(), artifact_id.decode()
    except UnicodeDecodeError as exc:
        raise TamperedError("header identifiers are not valid UTF-8") from exc
    return Header(
        FORMAT_VERSION, key_id_text, artifact_text, segment_size, nonce_prefix, key_check, tag
    )


def verify_header(header: Header, keys: DerivedKeys) -> None:
    """Check the key first, then the header's integrity.

    Raises WrongKeyError if the key-check value does not match `keys` (before any decryption),
    TamperedError if the header tag does not authenticate the header fields.
    """
    if not hmac.compare_digest(header.key_check, keys.key_check()):
        raise WrongKeyError("the data key does not match this file (key-check value differs)")
    if not hmac.compare_digest(header.tag, keys.header_tag(header.authenticated_fields())):
        raise TamperedError("the file header was modified (header tag mismatch)")


def segment_nonce(nonce_prefix: bytes, index: int, last: bool) -> bytes:
    """Return the STREAM nonce: prefix(7) || counter(4, big-endian) || last flag(1)."""
    return nonce_prefix + _U32.pack(index) + (b"\x01" if last else b"\x00")


def key_fingerprint(material: bytes, label: bytes) -> str:
    """Return 16 hex chars identifying `material` without revealing it.

    SHA-256 of an HKDF output under `label`: one-way, and unrelated to any encryption subkey.
    """
    derived = _hkdf(material, label)
    return hashlib.sha256(derived).hexdigest()[:16]
