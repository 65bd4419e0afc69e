"""Writes are atomic: a failed write leaves neither a file nor a `.part`, never plaintext."""

import os
import stat

import pytest

import envelope.writer as writer_module
from envelope import (
    EncryptedWriter,
    EnvelopeError,
    generate_data_key,
    read_encrypted_bytes,
    write_encrypted_bytes,
)


class Boom(Exception):
    pass


@pytest.fixture
def key():
    return generate_data_key()


def test_exception_inside_with_leaves_no_file_and_no_part(tmp_path, key):
    path = tmp_path / "out.enc"
    with (
        pytest.raises(Boom),
        EncryptedWriter(path, key, key_id="m", artifact_id="a", segment_size=8) as writer,
    ):
        writer.write(b"x" * 100)
        assert (tmp_path / "out.enc.part").exists()
        raise Boom
    assert list(tmp_path.iterdir()) == []


def test_failed_rewrite_keeps_the_previous_complete_file(tmp_path, key):
    path = tmp_path / "out.enc"
    write_encrypted_bytes(path, b"version 1", key, key_id="m", artifact_id="a")
    with pytest.raises(Boom), EncryptedWriter(path, key, key_id="m", artifact_id="a") as writer:
        writer.write(b"version 2, half written")
        raise Boom
    assert read_encrypted_bytes(path, key) == b"version 1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.enc"]


def test_target_appears_only_on_close(tmp_path, key):
    path = tmp_path / "out.enc"
    writer = EncryptedWriter(path, key, key_id="m", artifact_id="a")
    writer.write(b"data")
    assert not path.exists()
    writer.close()
    assert path.exists() and not (tmp_path / "out.enc.part").exists()


def test_background_write_failure_aborts_and_cleans_up(tmp_path, key, monkeypatch):
    real_pwrite_all = writer_module.pwrite_all
    calls = []

    def failing_pwrite_all(fd, data, offset):
        calls.append(offset)
        if len(calls) == 4:
            raise OSError(28, "No space left on device")
        real_pwrite_all(fd, data, offset)

    monkeypatch.setattr(writer_module, "pwrite_all", failing_pwrite_all)
    path = tmp_path / "out.enc"
    with (
        pytest.raises(OSError, match="No space"),
        EncryptedWriter(
            path, key, key_id="m", artifact_id="a", segment_size=16, workers=2
        ) as writer,
    ):
        for _ in range(50):
            writer.write(os.urandom(16))
    assert list(tmp_path.iterdir()) == []


def test_part_file_and_result_are_private(tmp_path, key):
    path = tmp_path / "out.enc"
    with EncryptedWriter(path, key, key_id="m", artifact_id="a") as writer:
        part_mode = stat.S_IMODE(os.stat(tmp_path / "out.enc.part").st_mode)
    assert part_mode == 0o600
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert writer.closed


def test_concurrent_writer_to_same_path_is_refused(tmp_path, key):
    path = tmp_path / "out.enc"
    with EncryptedWriter(path, key, key_id="m", artifact_id="a") as first:
        with pytest.raises(EnvelopeError, match="another writer"):
            EncryptedWriter(path, key, key_id="m", artifact_id="a")
        first.write(b"first wins")
    assert read_encrypted_bytes(path, key) == b"first wins"


def test_stale_part_from_a_crashed_writer_is_taken_over(tmp_path, key):
    path = tmp_path / "out.enc"
    (tmp_path / "out.enc.part").write_bytes(b"garbage left by a killed process" * 100)
    write_encrypted_bytes(path, b"fresh", key, key_id="m", artifact_id="a")
    assert read_encrypted_bytes(path, key) == b"fresh"
    assert not (tmp_path / "out.enc.part").exists()


def test_abort_is_idempotent_and_close_after_abort_is_a_no_op(tmp_path, key):
    path = tmp_path / "out.enc"
    writer = EncryptedWriter(path, key, key_id="m", artifact_id="a")
    writer.write(b"abc")
    writer.abort()
    writer.abort()
    writer.close()
    assert list(tmp_path.iterdir()) == []


def test_writer_is_aborted_after_a_failed_write(tmp_path, key, monkeypatch):
    path = tmp_path / "out.enc"
    writer = EncryptedWriter(path, key, key_id="m", artifact_id="a", segment_size=16, workers=0)

    def no_space(fd, data, offset):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer_module, "pwrite_all", no_space)
    with pytest.raises(OSError):
        writer.write(b"z" * 100)
    assert writer.closed
    writer.close()
    assert list(tmp_path.iterdir()) == []


def test_non_contiguous_buffer_is_refused(tmp_path, key):
    path = tmp_path / "out.enc"
    with pytest.raises(TypeError), EncryptedWriter(path, key, key_id="m", artifact_id="a") as w:
        w.write(memoryview(b"abcdef")[::2])
    assert list(tmp_path.iterdir()) == []
