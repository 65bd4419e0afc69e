"""ZIP archives: member parsing, zip-slip, member count, size budget and bomb detection."""

import io
import struct
import zipfile

import pytest

from datasets_app.pipeline.archive import ByteBudget, GuardedMemberStream, unsafe_member_name
from datasets_app.pipeline.parsing import ParseError, ParseOptions, ParseReport, iter_records

MiB = 1024 * 1024


class OneWayStream(io.RawIOBase):
    """Non-seekable stream over bytes."""

    def __init__(self, data):
        self._inner = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, buffer):
        return self._inner.readinto(buffer)


def make_zip(members, compression=zipfile.ZIP_DEFLATED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def parse(data, name="upload.zip", stream_type=io.BytesIO, **options):
    report = ParseReport()
    records = list(iter_records(name, stream_type(data), ParseOptions(**options), report))
    return records, report


def test_zip_members_of_several_formats_are_parsed_with_member_sources():
    data = make_zip(
        {
            "dir/tickets.jsonl": '{"text": "from jsonl"}\n',
            "notes.txt": "from text",
            "table.csv": "text\nfrom csv\n",
        }
    )
    records, report = parse(data)
    assert [(r.text, r.source) for r in records] == [
        ("from jsonl", "upload.zip/dir/tickets.jsonl:1"),
        ("from text", "upload.zip/notes.txt:1"),
        ("from csv", "upload.zip/table.csv:2"),
    ]
    assert report.records == 3


def test_non_seekable_zip_is_buffered_in_memory_within_the_limit():
    data = make_zip({"a.txt": "hello"})
    records, _ = parse(data, stream_type=OneWayStream)
    assert records[0].text == "hello"
    with pytest.raises(ParseError, match="need random access"):
        parse(data, stream_type=OneWayStream, max_spool_bytes=10)


def test_unsupported_nested_empty_and_metadata_members_are_skipped_with_notices():
    data = make_zip(
        {
            "photo.png": b"\x89PNG",
            "inner.zip": make_zip({"x.txt": "x"}),
            "empty.txt": "",
            "__MACOSX/._notes.txt": "junk",
            "notes.txt": "kept",
        }
    )
    records, report = parse(data)
    assert [r.text for r in records] == ["kept"]
    notices = " ".join(report.notices)
    assert "photo.png: skipped (unsupported" in notices
    assert "inner.zip: skipped (archives inside archives" in notices
    assert "empty.txt: skipped (empty)" in notices
    assert "macOS metadata" in notices


def test_archive_without_usable_members_has_no_records():
    with pytest.raises(ParseError, match="no records found"):
        parse(make_zip({"photo.png": b"\x89PNG"}))


@pytest.mark.parametrize(
    "name", ["../evil.txt", "a/../../evil.txt", "/etc/passwd", "C:/x.txt", "..\\x.txt"]
)
def test_zip_slip_and_absolute_member_paths_are_refused(name):
    with pytest.raises(ParseError, match="unsafe member path"):
        parse(make_zip({"ok.txt": "fine", name: "evil"}))


def test_safe_member_names_are_not_flagged():
    assert not unsafe_member_name("dir/sub/file..txt")
    assert not unsafe_member_name("a/b.jsonl")


def test_too_many_members_are_refused_before_reading():
    data = make_zip({f"f{i}.txt": "x" for i in range(6)})
    with pytest.raises(ParseError, match="6 members; the limit is 5"):
        parse(data, max_archive_members=5)


def test_declared_total_size_over_the_limit_is_refused():
    data = make_zip({"a.txt": "x" * 600, "b.txt": "y" * 600}, compression=zipfile.ZIP_STORED)
    with pytest.raises(ParseError, match="declares 1200 uncompressed bytes"):
        parse(data, max_uncompressed_bytes=1000)


def test_zip_bomb_by_compression_ratio_is_refused():
    data = make_zip({"bomb.txt": b"\0" * (4 * MiB)})
    with pytest.raises(ParseError, match="compression ratio above 100:1") as caught:
        parse(data)
    assert caught.value.path == "upload.zip/bomb.txt"


def test_small_repetitive_member_is_exempt_from_the_ratio_check():
    records, _ = parse(make_zip({"spaces.txt": "a" + " " * 50_000 + "b"}))
    assert len(records) == 1


def _lie_about_size(data, declared):
    """Rewrites every central-directory 'uncompressed size' field to ``declared``."""
    patched = bytearray(data)
    start = 0
    while (start := patched.find(b"PK\x01\x02", start)) != -1:
        patched[start + 24 : start + 28] = struct.pack("<I", declared)
        start += 4
    return bytes(patched)


def test_member_whose_real_size_exceeds_its_declared_size_is_refused():
    data = _lie_about_size(make_zip({"a.txt": "hello world " * 1000}), declared=100)
    with pytest.raises(ParseError, match="upload.zip/a.txt"):
        parse(data)


class FakeInfo:
    def __init__(self, file_size, compress_size):
        self.file_size = file_size
        self.compress_size = compress_size


def _drain(stream):
    while stream.read(4096):
        pass


def test_streaming_guard_refuses_bytes_beyond_the_declared_size():
    guarded = GuardedMemberStream(
        io.BytesIO(b"x" * 5000), FakeInfo(1000, 1000), ParseOptions(), ByteBudget(10**9, "a"), "a/b"
    )
    with pytest.raises(ParseError, match="larger than its declared size"):
        _drain(guarded)


def test_streaming_guard_refuses_an_actual_ratio_bomb():
    options = ParseOptions(ratio_check_min_bytes=1000, max_compression_ratio=10)
    guarded = GuardedMemberStream(
        io.BytesIO(b"x" * 5000), FakeInfo(10**9, 100), options, ByteBudget(10**9, "a"), "a/b"
    )
    with pytest.raises(ParseError, match="compression ratio above 10:1"):
        _drain(guarded)


def test_streaming_guard_enforces_the_archive_wide_budget():
    budget = ByteBudget(3000, "a.zip")

    def member(name):
        info = FakeInfo(2000, 2000)
        return GuardedMemberStream(io.BytesIO(b"x" * 2000), info, ParseOptions(), budget, name)

    _drain(member("a.zip/first"))
    with pytest.raises(ParseError, match="expands to more than 3000 bytes"):
        _drain(member("a.zip/second"))


def test_corrupted_member_data_is_refused():
    data = bytearray(make_zip({"a.txt": "hello world " * 100}, compression=zipfile.ZIP_STORED))
    data[40:45] = b"XXXXX"  # inside the stored member bytes: CRC no longer matches
    with pytest.raises(ParseError, match="corrupt"):
        parse(bytes(data))


def test_encrypted_member_is_refused():
    data = bytearray(make_zip({"secret.txt": "pretend ciphertext"}))
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature) + flag_offset
        data[at] |= 0x1  # general purpose bit 0: "encrypted"
    with pytest.raises(ParseError, match="encrypted"):
        parse(bytes(data))


def test_garbage_after_zip_magic_is_refused():
    with pytest.raises(ParseError, match="not a readable ZIP archive"):
        parse(b"PK\x03\x04" + b"\x00garbage" * 20)
