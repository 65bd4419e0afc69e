"""Every kind of modification is refused with the specific exception."""

import os

import pytest

from envelope import (
    EncryptedReader,
    EnvelopeError,
    TamperedError,
    TruncatedError,
    WrongArtifactError,
    WrongKeyError,
    generate_data_key,
    open_decrypted,
    read_encrypted_bytes,
    read_header,
    write_encrypted_bytes,
)

SEGMENT = 32
STRIDE = SEGMENT + 16
ARTIFACT = "upload/9"


@pytest.fixture
def key():
    return generate_data_key()


@pytest.fixture
def sample(tmp_path, key):
    """A file of 4 full segments and a partial last one; returns (path, plaintext, header size)."""
    data = os.urandom(4 * SEGMENT + 10)
    path = tmp_path / "sample.enc"
    write_encrypted_bytes(path, data, key, key_id="m", artifact_id=ARTIFACT, segment_size=SEGMENT)
    return path, data, read_header(path).size


def flip_byte(path, offset):
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))


def test_tampered_byte_in_middle_segment_is_refused(sample, key):
    path, _, header_size = sample
    flip_byte(path, header_size + 2 * STRIDE + 5)
    with EncryptedReader(path, key) as reader:
        reader.read_segment(1)  # untouched neighbours still authenticate
        with pytest.raises(TamperedError) as excinfo:
            reader.read_segment(2)
        assert type(excinfo.value) is TamperedError
    with pytest.raises(TamperedError):
        read_encrypted_bytes(path, key)


def test_tampered_tag_of_last_segment_is_refused(sample, key):
    path, _, _ = sample
    flip_byte(path, os.path.getsize(path) - 1)
    with pytest.raises(TamperedError):
        read_encrypted_bytes(path, key)


def test_tampered_header_field_is_refused_at_open(sample, key):
    path, _, _ = sample
    raw = path.read_bytes()
    path.write_bytes(raw.replace(ARTIFACT.encode(), b"upload/8", 1))
    with pytest.raises(TamperedError):
        EncryptedReader(path, key)


def test_every_header_byte_flip_is_refused(sample, key):
    path, data, header_size = sample
    original = path.read_bytes()
    for offset in range(header_size):
        path.write_bytes(original)
        flip_byte(path, offset)
        with pytest.raises(EnvelopeError):
            read_encrypted_bytes(path, key)


def test_header_edit_with_a_valid_tag_for_another_header_still_fails_segments(tmp_path, key):
    # Grafting one file's (valid) header onto another file's body breaks every segment's AAD.
    a, b = tmp_path / "a.enc", tmp_path / "b.enc"
    write_encrypted_bytes(a, b"A" * 100, key, key_id="m", artifact_id=ARTIFACT, segment_size=40)
    write_encrypted_bytes(b, b"B" * 100, key, key_id="m", artifact_id=ARTIFACT, segment_size=40)
    size = read_header(a).size
    a.write_bytes(b.read_bytes()[:size] + a.read_bytes()[size:])
    with pytest.raises(TamperedError):
        read_encrypted_bytes(a, key)


def test_dropping_the_last_segment_is_reported_as_truncation(sample, key):
    path, data, header_size = sample
    with open(path, "r+b") as handle:
        handle.truncate(header_size + 4 * STRIDE)
    with pytest.raises(TruncatedError):
        read_encrypted_bytes(path, key)
    with EncryptedReader(path, key) as reader:
        assert reader.read_segment(0) == data[:SEGMENT]  # random access before the cut works
        with pytest.raises(TruncatedError):
            list(reader.iter_plaintext())


def test_dropping_several_trailing_segments_is_reported_as_truncation(sample, key):
    path, _, header_size = sample
    with open(path, "r+b") as handle:
        handle.truncate(header_size + STRIDE)
    with pytest.raises(TruncatedError):
        read_encrypted_bytes(path, key)


def test_truncated_file_never_reads_as_complete_through_the_stream(sample, key):
    path, data, header_size = sample
    with open(path, "r+b") as handle:
        handle.truncate(header_size + 2 * STRIDE)
    with open_decrypted(path, key) as stream:
        assert stream.read(SEGMENT) == data[:SEGMENT]
        with pytest.raises(TruncatedError):
            stream.read()


def test_cut_in_the_middle_of_a_segment_is_refused(sample, key):
    path, _, header_size = sample
    with open(path, "r+b") as handle:
        handle.truncate(header_size + 2 * STRIDE + 20)
    with pytest.raises(TamperedError):
        read_encrypted_bytes(path, key)


def test_cut_leaving_less_than_a_tag_is_refused(sample, key):
    path, _, header_size = sample
    with open(path, "r+b") as handle:
        handle.truncate(header_size + 2 * STRIDE + 3)
    with pytest.raises(TamperedError):
        EncryptedReader(path, key)


def test_file_without_any_segment_is_truncated(sample, key):
    path, _, header_size = sample
    with open(path, "r+b") as handle:
        handle.truncate(header_size)
    with pytest.raises(TruncatedError):
        EncryptedReader(path, key)


def test_file_cut_inside_the_header_is_truncated(sample, key):
    path, _, _ = sample
    with open(path, "r+b") as handle:
        handle.truncate(20)
    with pytest.raises(TruncatedError):
        read_header(path)
    with pytest.raises(TruncatedError):
        EncryptedReader(path, key)


def test_swapped_segments_are_refused(sample, key):
    path, _, header_size = sample
    raw = bytearray(path.read_bytes())
    first = slice(header_size + STRIDE, header_size + 2 * STRIDE)
    second = slice(header_size + 2 * STRIDE, header_size + 3 * STRIDE)
    raw[first], raw[second] = raw[second], raw[first]
    path.write_bytes(bytes(raw))
    with EncryptedReader(path, key) as reader:
        reader.read_segment(0)
        for index in (1, 2):
            with pytest.raises(TamperedError):
                reader.read_segment(index)


def test_appended_segment_is_refused(sample, key):
    path, _, header_size = sample
    raw = path.read_bytes()
    path.write_bytes(raw + raw[header_size : header_size + STRIDE])
    with pytest.raises(TamperedError):
        read_encrypted_bytes(path, key)


def test_segment_spliced_from_another_file_with_same_key_is_refused(tmp_path, key):
    a, b = tmp_path / "a.enc", tmp_path / "b.enc"
    for path in (a, b):
        write_encrypted_bytes(
            path, os.urandom(100), key, key_id="m", artifact_id=ARTIFACT, segment_size=SEGMENT
        )
    size = read_header(a).size
    raw_a, raw_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(raw_a[:size] + raw_b[size : size + STRIDE] + raw_a[size + STRIDE :])
    with pytest.raises(TamperedError):
        read_encrypted_bytes(a, key)


def test_wrong_key_is_reported_before_decryption(sample):
    path, _, _ = sample
    with pytest.raises(WrongKeyError):
        EncryptedReader(path, generate_data_key())
    with pytest.raises(WrongKeyError):
        open_decrypted(path, generate_data_key())


def test_wrong_artifact_id_is_refused(sample, key):
    path, _, _ = sample
    with pytest.raises(WrongArtifactError, match="upload/9"):
        read_encrypted_bytes(path, key, artifact_id="upload/10")
    with pytest.raises(WrongArtifactError):
        open_decrypted(path, key, artifact_id="upload/10")


def test_wrong_key_wins_over_wrong_artifact(sample):
    path, _, _ = sample
    with pytest.raises(WrongKeyError):
        EncryptedReader(path, generate_data_key(), artifact_id="other")


def test_non_envelope_file_is_refused(tmp_path, key):
    path = tmp_path / "plain.txt"
    path.write_bytes(b"just some plaintext, certainly not an envelope")
    with pytest.raises(EnvelopeError, match="not a Soberana envelope"):
        read_header(path)


def test_unknown_format_version_is_refused(sample, key):
    path, _, _ = sample
    raw = bytearray(path.read_bytes())
    raw[6] = 99
    path.write_bytes(bytes(raw))
    with pytest.raises(EnvelopeError, match="version 99"):
        EncryptedReader(path, key)


def test_stream_reports_a_tampered_segment_when_it_is_reached(sample, key):
    path, data, header_size = sample
    flip_byte(path, header_size + 3 * STRIDE)
    with open_decrypted(path, key) as stream:
        assert stream.read(3 * SEGMENT) == data[: 3 * SEGMENT]
        with pytest.raises(TamperedError):
            stream.read()
