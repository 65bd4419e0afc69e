"""Master keys wrap per-artifact data keys; key files are private; rotation re-wraps only."""

import base64
import os
import stat

import pytest

from envelope import (
    EnvelopeError,
    LocalMasterKeyProvider,
    MasterKeyCreatedWarning,
    MasterKeyProvider,
    TamperedError,
    WrongKeyError,
    generate_data_key,
    read_encrypted_bytes,
    read_header,
    rewrap_data_key,
    write_encrypted_bytes,
)


@pytest.fixture
def master():
    return LocalMasterKeyProvider(os.urandom(32))


def test_generate_data_key_returns_fresh_32_bytes():
    keys = {generate_data_key() for _ in range(10)}
    assert len(keys) == 10 and all(len(k) == 32 for k in keys)


def test_wrap_unwrap_round_trip(master):
    data_key = generate_data_key()
    wrapped = master.wrap(data_key, context="ckpt/1")
    assert data_key not in wrapped
    assert master.unwrap(wrapped, context="ckpt/1") == data_key


def test_wrapping_twice_gives_different_ciphertexts(master):
    data_key = generate_data_key()
    assert master.wrap(data_key, context="a") != master.wrap(data_key, context="a")


def test_unwrap_with_another_master_key_is_wrong_key(master):
    wrapped = master.wrap(generate_data_key(), context="ckpt/1")
    with pytest.raises(WrongKeyError):
        LocalMasterKeyProvider(os.urandom(32)).unwrap(wrapped, context="ckpt/1")


def test_unwrap_for_another_context_is_refused(master):
    wrapped = master.wrap(generate_data_key(), context="ckpt/1")
    with pytest.raises(TamperedError):
        master.unwrap(wrapped, context="ckpt/2")


def test_modified_wrapped_key_is_refused(master):
    wrapped = bytearray(master.wrap(generate_data_key(), context="ckpt/1"))
    wrapped[-3] ^= 0x80
    with pytest.raises(TamperedError):
        master.unwrap(bytes(wrapped), context="ckpt/1")


def test_garbage_is_not_a_wrapped_key(master):
    with pytest.raises(EnvelopeError, match="wrapped data key"):
        master.unwrap(b"\x01" * 10, context="x")


def test_wrap_refuses_bad_data_key_and_empty_context(master):
    with pytest.raises(EnvelopeError):
        master.wrap(b"short", context="x")
    with pytest.raises(EnvelopeError):
        master.wrap(generate_data_key(), context="")


def test_key_id_is_stable_short_and_not_the_key():
    raw = os.urandom(32)
    provider = LocalMasterKeyProvider(raw)
    assert provider.key_id == LocalMasterKeyProvider(raw).key_id
    assert len(provider.key_id) == 16
    assert provider.key_id not in raw.hex()
    assert raw.hex() not in repr(provider)
    assert provider.key_id != LocalMasterKeyProvider(os.urandom(32)).key_id


def test_local_provider_satisfies_the_protocol(master):
    assert isinstance(master, MasterKeyProvider)


def test_master_key_of_wrong_length_is_refused():
    with pytest.raises(EnvelopeError):
        LocalMasterKeyProvider(b"x" * 31)


def test_from_string_accepts_hex_and_both_base64_alphabets():
    raw = bytes(range(250, 256)) + os.urandom(26)  # 0xfb.. forces '+' '/' in std base64
    expected = LocalMasterKeyProvider(raw).key_id
    encodings = [
        raw.hex(),
        raw.hex().upper(),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "  " + base64.b64encode(raw).decode() + "\n",
    ]
    for text in encodings:
        assert LocalMasterKeyProvider.from_string(text).key_id == expected, text


@pytest.mark.parametrize(
    "text",
    ["", "not a key!", "ab" * 31, base64.b64encode(os.urandom(16)).decode(), "zz" * 32],
)
def test_from_string_refuses_other_formats_with_a_clear_error(text):
    with pytest.raises(EnvelopeError, match="64 hex characters or base64"):
        LocalMasterKeyProvider.from_string(text)


def test_from_file_create_generates_a_private_key_and_warns(tmp_path):
    path = tmp_path / "master.key"
    with pytest.warns(MasterKeyCreatedWarning, match="BACK IT UP"):
        created = LocalMasterKeyProvider.from_file(path, create=True)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert LocalMasterKeyProvider.from_file(path).key_id == created.key_id
    assert sorted(p.name for p in tmp_path.iterdir()) == ["master.key"]


def test_from_file_create_keeps_an_existing_key(tmp_path):
    path = tmp_path / "master.key"
    with pytest.warns(MasterKeyCreatedWarning):
        first = LocalMasterKeyProvider.from_file(path, create=True)
    again = LocalMasterKeyProvider.from_file(path, create=True)
    assert again.key_id == first.key_id


def test_from_file_refuses_group_or_world_readable_key(tmp_path):
    path = tmp_path / "master.key"
    path.write_text(os.urandom(32).hex())
    os.chmod(path, 0o644)
    with pytest.raises(EnvelopeError, match="chmod 600"):
        LocalMasterKeyProvider.from_file(path)


def test_from_file_refuses_bad_length_and_missing_file(tmp_path):
    path = tmp_path / "master.key"
    path.write_text(os.urandom(16).hex())
    os.chmod(path, 0o600)
    with pytest.raises(EnvelopeError):
        LocalMasterKeyProvider.from_file(path)
    with pytest.raises(EnvelopeError, match="does not exist"):
        LocalMasterKeyProvider.from_file(tmp_path / "missing.key")


def test_rotation_rewraps_the_data_key_and_the_file_still_decrypts_unchanged(tmp_path):
    master_a = LocalMasterKeyProvider(os.urandom(32))
    master_b = LocalMasterKeyProvider(os.urandom(32))
    data_key = generate_data_key()
    wrapped_a = master_a.wrap(data_key, context="model/3")
    path = tmp_path / "weights.enc"
    write_encrypted_bytes(
        path, b"weights" * 1000, data_key, key_id=master_a.key_id, artifact_id="model/3"
    )
    file_before = path.read_bytes()

    wrapped_b = rewrap_data_key(wrapped_a, context="model/3", old=master_a, new=master_b)

    assert path.read_bytes() == file_before
    assert read_header(path).key_id == master_a.key_id
    with pytest.raises(WrongKeyError):
        master_a.unwrap(wrapped_b, context="model/3")
    recovered = master_b.unwrap(wrapped_b, context="model/3")
    assert read_encrypted_bytes(path, recovered, artifact_id="model/3") == b"weights" * 1000
