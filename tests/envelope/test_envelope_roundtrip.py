"""Round trips, random access and streaming reads of envelope files."""

import io
import os
import random

import pytest

from envelope import (
    EncryptedReader,
    EncryptedWriter,
    EnvelopeError,
    generate_data_key,
    open_decrypted,
    read_encrypted_bytes,
    read_header,
    write_encrypted_bytes,
)

ARTIFACT = "dataset:42/raw"


@pytest.fixture
def key():
    return generate_data_key()


def write_chunks(path, key, chunks, *, segment_size, workers=None):
    with EncryptedWriter(
        path,
        key,
        key_id="master-a",
        artifact_id=ARTIFACT,
        segment_size=segment_size,
        workers=workers,
    ) as writer:
        for chunk in chunks:
            assert writer.write(chunk) == len(chunk)


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 160, 1000])
def test_round_trip_preserves_bytes_for_edge_sizes(tmp_path, key, size):
    data = os.urandom(size)
    path = tmp_path / "a.enc"
    write_encrypted_bytes(path, data, key, key_id="m", artifact_id=ARTIFACT, segment_size=16)
    assert read_encrypted_bytes(path, key, artifact_id=ARTIFACT) == data


def test_empty_plaintext_is_one_empty_last_segment(tmp_path, key):
    path = tmp_path / "empty.enc"
    write_encrypted_bytes(path, b"", key, key_id="m", artifact_id=ARTIFACT)
    with EncryptedReader(path, key) as reader:
        assert reader.segment_count == 1
        assert reader.plaintext_size == 0
        assert reader.read_segment(0) == b""
        assert list(reader.iter_plaintext()) == [b""]


def test_exactly_one_full_segment_has_no_extra_segment(tmp_path, key):
    data = os.urandom(64)
    path = tmp_path / "one.enc"
    write_encrypted_bytes(path, data, key, key_id="m", artifact_id=ARTIFACT, segment_size=64)
    with EncryptedReader(path, key) as reader:
        assert reader.segment_count == 1
        assert reader.read_all() == data


def test_many_small_segments_round_trip_and_count(tmp_path, key):
    data = os.urandom(7 * 100 + 3)
    path = tmp_path / "many.enc"
    write_encrypted_bytes(path, data, key, key_id="m", artifact_id=ARTIFACT, segment_size=7)
    with EncryptedReader(path, key) as reader:
        assert reader.segment_count == 101
        assert reader.read_all() == data


def test_random_sizes_and_write_chunkings_round_trip(tmp_path, key):
    rng = random.Random(1234)
    for trial in range(40):
        data = rng.randbytes(rng.randrange(0, 3000))
        segment_size = rng.choice([1, 5, 64, 333, 4096])
        cuts = sorted(rng.randrange(0, len(data) + 1) for _ in range(rng.randrange(0, 6)))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        path = tmp_path / f"r{trial}.enc"
        write_chunks(path, key, chunks, segment_size=segment_size, workers=rng.choice([0, 2]))
        assert read_encrypted_bytes(path, key) == data, (trial, segment_size)


def test_parallel_writer_and_reader_keep_segment_order(tmp_path, key):
    data = os.urandom(200 * 1024 + 11)
    path = tmp_path / "parallel.enc"
    write_chunks(path, key, [data[:5000], data[5000:]], segment_size=1024, workers=3)
    with EncryptedReader(path, key, workers=3) as reader:
        assert b"".join(reader.iter_plaintext()) == data


def test_default_large_segments_use_worker_threads_and_round_trip(tmp_path, key):
    data = os.urandom(3 * (1 << 20) + 5)
    path = tmp_path / "large.enc"
    write_encrypted_bytes(path, data, key, key_id="m", artifact_id=ARTIFACT)
    assert read_encrypted_bytes(path, key) == data


def test_mutable_buffer_reused_after_write_does_not_change_ciphertext(tmp_path, key):
    buffer = bytearray(b"a" * 100)
    path = tmp_path / "mut.enc"
    with EncryptedWriter(path, key, key_id="m", artifact_id=ARTIFACT, segment_size=10) as w:
        w.write(buffer)
        buffer[:] = b"b" * 100
        w.write(memoryview(buffer)[:5])
    assert read_encrypted_bytes(path, key) == b"a" * 100 + b"b" * 5


def test_read_segment_gives_random_access(tmp_path, key):
    data = bytes(range(256)) * 4
    path = tmp_path / "ra.enc"
    write_encrypted_bytes(path, data, key, key_id="m", artifact_id=ARTIFACT, segment_size=100)
    with EncryptedReader(path, key) as reader:
        assert reader.segment_count == 11
        for index in [7, 0, 10, 3]:
            assert reader.read_segment(index) == data[index * 100 : (index + 1) * 100]
        with pytest.raises(IndexError):
            reader.read_segment(11)
        with pytest.raises(IndexError):
            reader.read_segment(-1)


def test_header_fields_readable_without_key(tmp_path, key):
    path = tmp_path / "h.enc"
    write_encrypted_bytes(path, b"x", key, key_id="master-a", artifact_id="ckpt/7", segment_size=99)
    header = read_header(path)
    assert (header.version, header.key_id, header.artifact_id, header.segment_size) == (
        1,
        "master-a",
        "ckpt/7",
        99,
    )
    assert len(header.nonce_prefix) == 7
    assert header.to_bytes() == path.read_bytes()[: header.size]


def test_each_file_gets_a_fresh_nonce_prefix(tmp_path, key):
    for name in ("a", "b"):
        write_encrypted_bytes(tmp_path / name, b"same", key, key_id="m", artifact_id=ARTIFACT)
    assert read_header(tmp_path / "a").nonce_prefix != read_header(tmp_path / "b").nonce_prefix
    assert (tmp_path / "a").read_bytes() != (tmp_path / "b").read_bytes()


def test_plaintext_never_appears_in_the_file(tmp_path, key):
    secret = b"SSN 123-45-6789 belongs to Jane Roe" * 20
    path = tmp_path / "s.enc"
    write_encrypted_bytes(path, secret, key, key_id="m", artifact_id=ARTIFACT, segment_size=50)
    assert b"123-45-6789" not in path.read_bytes()


def test_open_decrypted_iterates_lines_across_segment_boundaries(tmp_path, key):
    lines = [f"record {i}: {'x' * (i % 13)}\n".encode() for i in range(300)]
    path = tmp_path / "lines.enc"
    write_chunks(path, key, lines, segment_size=17)
    with open_decrypted(path, key, artifact_id=ARTIFACT) as stream:
        assert list(stream) == lines
    with open_decrypted(path, key) as stream:
        text = io.TextIOWrapper(stream, encoding="utf-8")
        assert text.readline() == lines[0].decode()
        assert [line.encode() for line in text] == lines[1:]


def test_open_decrypted_read_n_seek_and_tell(tmp_path, key):
    data = os.urandom(1000)
    path = tmp_path / "seek.enc"
    write_encrypted_bytes(path, data, key, key_id="m", artifact_id=ARTIFACT, segment_size=64)
    with open_decrypted(path, key) as stream:
        assert stream.read(10) == data[:10]
        assert stream.seek(500) == 500
        assert stream.read(100) == data[500:600]
        assert stream.tell() == 600
        stream.seek(-5, os.SEEK_END)
        assert stream.read() == data[-5:]
        stream.seek(3)
        assert stream.read() == data[3:]
        assert stream.read(1) == b""


def test_open_decrypted_of_empty_file_reads_nothing(tmp_path, key):
    path = tmp_path / "e.enc"
    write_encrypted_bytes(path, b"", key, key_id="m", artifact_id=ARTIFACT)
    with open_decrypted(path, key) as stream:
        assert stream.read() == b""
        assert list(stream) == []


def test_open_decrypted_streams_without_reading_everything(tmp_path, key):
    data = os.urandom(1 << 20)
    path = tmp_path / "big.enc"
    write_encrypted_bytes(path, data, key, key_id="m", artifact_id=ARTIFACT, segment_size=4096)
    with open_decrypted(path, key) as stream:
        collected = []
        while chunk := stream.read(10_000):
            collected.append(chunk)
    assert b"".join(collected) == data


def test_closed_reader_and_writer_refuse_io(tmp_path, key):
    path = tmp_path / "c.enc"
    writer = EncryptedWriter(path, key, key_id="m", artifact_id=ARTIFACT)
    writer.close()
    writer.close()
    with pytest.raises(ValueError):
        writer.write(b"late")
    reader = EncryptedReader(path, key)
    reader.close()
    with pytest.raises(ValueError):
        reader.read_segment(0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"artifact_id": ""}, "artifact_id"),
        ({"segment_size": 0}, "segment_size"),
        ({"key_id": "k" * 300}, "key_id"),
    ],
)
def test_invalid_writer_arguments_are_refused_before_any_file_exists(
    tmp_path, key, kwargs, message
):
    args = {"key_id": "m", "artifact_id": ARTIFACT, **kwargs}
    with pytest.raises(EnvelopeError, match=message):
        EncryptedWriter(tmp_path / "bad.enc", key, **args)
    assert list(tmp_path.iterdir()) == []


def test_data_key_of_wrong_length_is_refused(tmp_path):
    with pytest.raises(EnvelopeError, match="32 bytes"):
        write_encrypted_bytes(tmp_path / "k.enc", b"x", b"short", key_id="m", artifact_id="a")


def test_header_is_immutable(tmp_path, key):
    path = tmp_path / "h.enc"
    write_encrypted_bytes(path, b"x", key, key_id="m", artifact_id=ARTIFACT)
    header = read_header(path)
    with pytest.raises(AttributeError):
        header.artifact_id = "other"


def test_library_imports_no_django():
    import subprocess
    import sys

    code = "import sys, envelope; print('django' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    assert result.stdout.strip() == "False"
