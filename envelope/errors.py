"""Exception hierarchy of the envelope library.

Every failure the library detects on purpose is an `EnvelopeError`; the subclasses name the
specific verdict so callers can react precisely (e.g. report "wrong key" to an operator but
quarantine a file that raised `TamperedError`).
"""

from __future__ import annotations


class EnvelopeError(Exception):
    """Base class: malformed input, unsupported format, bad key material, misuse."""


class TamperedError(EnvelopeError):
    """Authentication failed: a byte was modified, segments were reordered or swapped,
    the header was edited, or a wrapped key does not belong to the given context."""


class TruncatedError(TamperedError):
    """The file ends before its last-segment-flagged segment (trailing data was dropped)."""


class WrongKeyError(EnvelopeError):
    """The key does not match the file (or the master key does not match the wrapped key).

    Detected from the header's key-check value before any segment is decrypted.
    """


class WrongArtifactError(EnvelopeError):
    """The header's authenticated artifact id differs from the one the caller expected."""
