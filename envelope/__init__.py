"""Envelope encryption for everything sensitive Soberana stores (pure Python, no Django).

A random 32-byte *data key* per artifact encrypts the artifact's file; a *master key*
(key-encryption key, see `MasterKeyProvider`) wraps that data key, and only the wrapped form is
stored (e.g. in the database). Rotating the master key re-wraps data keys; files never change.

File format, version 1 (all integers big-endian)
------------------------------------------------
Header::

    magic           6 bytes   b"SOBENC"
    version         1 byte    0x01
    header_length   2 bytes   total header bytes, this table included
    segment_size    4 bytes   plaintext bytes per full segment (1 .. 2**30)
    key_id_length   1 byte    then key_id (UTF-8): master key id at write time (informational:
                              after a rotation the stored wrapped key is authoritative)
    artifact_length 2 bytes   then artifact_id (UTF-8, non-empty)
    nonce_prefix    7 bytes   random per file
    key_check      16 bytes   HMAC-SHA256(K_check, b"SOBENC key check v1")[:16]
    header_tag     32 bytes   HMAC-SHA256(K_mac, every header byte before this field)

Subkeys come from the data key with HKDF-SHA256 (no salt) and distinct `info` labels:
K_seg ("soberana/envelope/v1/segment-key"), K_check (".../key-check"), K_mac (".../header-mac").
The key-check value depends on the key alone, so a wrong key is reported as `WrongKeyError`
before anything is decrypted, while any edit of the header fields fails the header tag
(`TamperedError`). Editing the key-check bytes themselves necessarily reads as a wrong key.

Body: segments back to back, immediately after the header. Segment i (0-based) is::

    AES-256-GCM(K_seg, nonce_i, plaintext_i, aad=header bytes)  ->  ciphertext || 16-byte tag
    nonce_i = nonce_prefix (7) || i (4 bytes) || last flag (1 byte: 0x01 on the final segment)

Every segment but the last holds exactly `segment_size` plaintext bytes; the last holds
0..segment_size (an empty plaintext is one empty, last segment). Segment i therefore starts at
header_length + i * (segment_size + 16), which gives random access; the segment count follows
from the file size. Detection: a flipped byte, reordered/swapped segments, a spliced segment or
an edited header -> `TamperedError`; trailing segments dropped -> `TruncatedError` (the new final
segment authenticates only as a middle one); a cut inside a segment -> `TamperedError` (it
cannot be told apart from a modified final segment); wrong data key -> `WrongKeyError`;
unexpected artifact id -> `WrongArtifactError`. At most 2**32 segments per file.

Writes go to `<path>.part` (mode 0600, flock-ed), then fsync + `os.replace` + directory fsync,
so `path` holds either the old content or the complete new file. Worker threads encrypt segments
in parallel (AES-GCM releases the GIL), `pwrite` them at their offsets and start their disk
writeback at once (Linux `sync_file_range`), so I/O overlaps encryption. Plaintext is never
written to disk. Wrapped data keys: see `envelope.keys`.
"""

from envelope.errors import (
    EnvelopeError,
    TamperedError,
    TruncatedError,
    WrongArtifactError,
    WrongKeyError,
)
from envelope.format import Header
from envelope.keys import (
    LocalMasterKeyProvider,
    MasterKeyCreatedWarning,
    MasterKeyProvider,
    generate_data_key,
    rewrap_data_key,
)
from envelope.reader import EncryptedReader, read_encrypted_bytes, read_header
from envelope.stream import open_decrypted
from envelope.writer import DEFAULT_SEGMENT_SIZE, EncryptedWriter, write_encrypted_bytes

__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "EncryptedReader",
    "EncryptedWriter",
    "EnvelopeError",
    "Header",
    "LocalMasterKeyProvider",
    "MasterKeyCreatedWarning",
    "MasterKeyProvider",
    "TamperedError",
    "TruncatedError",
    "WrongArtifactError",
    "WrongKeyError",
    "generate_data_key",
    "open_decrypted",
    "read_encrypted_bytes",
    "read_header",
    "rewrap_data_key",
    "write_encrypted_bytes",
]
