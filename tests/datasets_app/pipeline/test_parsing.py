"""Parsing: format detection, JSONL/CSV/TSV/Parquet/text/Markdown, encodings, bad input."""

import csv
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datasets_app.pipeline.parsing import (
    InvalidRecord,
    Message,
    ParseError,
    ParseOptions,
    ParseReport,
    Record,
    detect_format,
    iter_records,
)


class TrickleStream(io.RawIOBase):
    """Non-seekable stream that returns at most ``step`` bytes per read, like a socket."""

    def __init__(self, data: bytes, step: int = 7) -> None:
        self._data = memoryview(data)
        self._step = step

    def readable(self):
        return True

    def readinto(self, buffer):
        count = min(len(buffer), self._step, len(self._data))
        buffer[:count] = self._data[:count]
        self._data = self._data[count:]
        return count


def parse(name, data, stream_type=io.BytesIO, **options):
    report = ParseReport()
    records = list(iter_records(name, stream_type(data), ParseOptions(**options), report))
    return records, report


def jsonl(*objects):
    return "".join(json.dumps(o) + "\n" for o in objects).encode()


# --- Record model ---------------------------------------------------------------------


def test_record_round_trips_through_dict_for_every_kind():
    records = [
        Record(kind="text", text="hi", source="a:1", lang="en"),
        Record(kind="prompt_completion", prompt="q", completion="a", source="a:2"),
        Record(kind="chat", messages=(Message("user", "u"), Message("assistant", "a"))),
    ]
    for record in records:
        assert Record.from_dict(json.loads(json.dumps(record.to_dict()))) == record


def test_record_with_fields_of_another_kind_is_refused():
    with pytest.raises(InvalidRecord):
        Record(kind="text", text="x", prompt="y")
    with pytest.raises(InvalidRecord):
        Record(kind="prompt_completion", prompt="only prompt")
    with pytest.raises(InvalidRecord):
        Record(kind="chat", messages=())


def test_record_from_dict_refuses_unknown_fields_and_bad_roles():
    with pytest.raises(InvalidRecord):
        Record.from_dict({"kind": "text", "text": "x", "extra": 1})
    with pytest.raises(InvalidRecord):
        Record.from_dict({"kind": "chat", "messages": [{"role": "robot", "content": "x"}]})


def test_joined_text_includes_every_field_but_not_roles():
    chat = Record(kind="chat", messages=(Message("user", "hola"), Message("assistant", "qué tal")))
    assert chat.joined_text() == "hola\n\nqué tal"
    pair = Record(kind="prompt_completion", prompt="p", completion="c")
    assert pair.joined_text() == "p\n\nc"


def test_map_text_transforms_every_field_and_keeps_metadata():
    chat = Record(kind="chat", messages=(Message("user", "a"),), source="s", lang="en")
    upper = chat.map_text(str.upper)
    assert upper.messages == (Message("user", "A"),)
    assert (upper.source, upper.lang) == ("s", "en")


# --- format detection --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("a.jsonl", b'{"text": 1}', "jsonl"),
        ("a.NDJSON", b'{"text": 1}', "jsonl"),
        ("a.csv", b"text\nx", "csv"),
        ("a.tsv", b"text\tb", "tsv"),
        ("a.parquet", b"PAR1....", "parquet"),
        ("notes.txt", b"hello", "text"),
        ("README.md", b"# hi", "markdown"),
        ("mail.eml", b"From: a@b", "eml"),
        ("box.mbox", b"From a@b Mon", "mbox"),
        ("a.zip", b"PK\x03\x04rest", "zip"),
        ("noextension", b'{"text": "x"}', "jsonl"),
        ("noextension", b"From a@b Mon Jan", "mbox"),
        ("noextension", b"just words", "text"),
    ],
)
def test_detect_format_uses_extension_and_content(name, head, expected):
    assert detect_format(name, head) == expected


def test_detect_format_refuses_unsupported_extension_listing_supported_ones():
    with pytest.raises(ParseError, match=r'unsupported file type "\.pdf".*\.jsonl'):
        detect_format("report.pdf", b"%PDF-1.7")


def test_detect_format_refuses_binary_data_in_a_text_format():
    with pytest.raises(ParseError, match="binary.*NUL"):
        detect_format("notes.txt", b"abc\x00\x01\x02")
    with pytest.raises(ParseError, match="PNG"):
        detect_format("data.jsonl", b"\x89PNG\r\n\x1a\n")


def test_detect_format_refuses_control_heavy_data_without_nul_bytes():
    with pytest.raises(ParseError, match="control bytes"):
        detect_format("notes.txt", bytes(range(1, 32)) * 20)


def test_detect_format_refuses_utf16_with_advice():
    with pytest.raises(ParseError, match="UTF-16.*UTF-8"):
        detect_format("notes.txt", "hello".encode("utf-16"))


def test_detect_format_refuses_archive_without_zip_magic():
    with pytest.raises(ParseError, match="not a valid zip"):
        detect_format("a.zip", b"hello")


def test_empty_file_is_refused_as_empty():
    with pytest.raises(ParseError, match="is empty") as caught:
        parse("empty.jsonl", b"")
    assert caught.value.path == "empty.jsonl"


def test_binary_file_is_refused():
    with pytest.raises(ParseError, match="binary"):
        parse("tickets.jsonl", bytes(range(256)) * 4)


def test_whitespace_only_file_counts_as_empty():
    with pytest.raises(ParseError, match="is empty"):
        parse("blank.jsonl", b"\xef\xbb\xbf\n   \n")


def test_file_without_any_record_is_refused():
    with pytest.raises(ParseError, match="no records found"):
        parse("header_only.csv", b"id,text\n")


# --- JSONL ---------------------------------------------------------------------------------


def test_jsonl_reads_all_three_shapes_with_line_sources():
    data = jsonl(
        {"text": "hello", "id": 7},
        {"prompt": "2+2?", "completion": "4"},
        {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]},
    )
    records, report = parse("tickets.jsonl", data)
    assert [r.kind for r in records] == ["text", "prompt_completion", "chat"]
    assert [r.source for r in records] == ["tickets.jsonl:1", "tickets.jsonl:2", "tickets.jsonl:3"]
    assert records[2].messages[1] == Message("user", "u")
    assert report.records == 3


def test_jsonl_accepts_openai_style_text_parts():
    data = jsonl({"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]})
    records, _ = parse("c.jsonl", data)
    assert records[0].messages[0].content == "hi"


def test_jsonl_wrong_shape_names_the_line_and_the_expected_shapes():
    data = jsonl({"text": "ok"}) * 16 + jsonl({"body": "x"})
    with pytest.raises(ParseError) as caught:
        parse("tickets.jsonl", data)
    assert caught.value.line == 17
    assert str(caught.value) == (
        'tickets.jsonl: line 17: expected a JSON object with "text", "prompt"+"completion", '
        '"messages", "prompt"+"chosen"+"rejected", "prompt"+"completion"+"label", or '
        'OpenAI\'s "input"+"preferred_output"+"non_preferred_output"'
    )


def test_jsonl_malformed_json_reports_its_line_number():
    with pytest.raises(ParseError, match=r"line 2: invalid JSON"):
        parse("a.jsonl", b'{"text": "a"}\n{"text": \n')


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ({"messages": []}, "non-empty list"),
        ({"messages": [{"role": "bot", "content": "x"}]}, 'message 1: role "bot"'),
        ({"messages": [{"role": "user"}]}, 'message 1: expected an object with "role"'),
        ({"messages": [{"role": "user", "content": 5}]}, "content"),
        ({"prompt": "only"}, "only one of"),
        ({"text": 12}, '"text" must be a string'),
        (["text"], "expected a JSON object"),
    ],
)
def test_jsonl_invalid_records_are_explained(obj, reason):
    with pytest.raises(ParseError, match=reason):
        parse("a.jsonl", jsonl(obj))


def test_skip_bad_lines_keeps_going_and_reports_each_skip():
    data = jsonl({"text": "a"}) + b"{broken\n" + jsonl({"nope": 1}, {"text": "b"})
    records, report = parse("a.jsonl", data, skip_bad_lines=True)
    assert [r.text for r in records] == ["a", "b"]
    assert [(path, line) for path, line, _ in report.skipped_lines] == [
        ("a.jsonl", 2),
        ("a.jsonl", 3),
    ]
    assert report.skipped_total == 2


def test_overlong_line_is_a_bad_line_and_memory_stays_bounded():
    data = jsonl({"text": "x" * 5000}, {"text": "short"})
    with pytest.raises(ParseError, match="line 1: line is longer than 1000 bytes"):
        parse("a.jsonl", data, max_record_bytes=1000)
    records, report = parse("a.jsonl", data, max_record_bytes=1000, skip_bad_lines=True)
    assert [r.text for r in records] == ["short"]
    assert report.skipped_lines[0][1] == 1


def test_text_columns_apply_to_jsonl_objects():
    records, _ = parse(
        "a.jsonl", jsonl({"title": "T", "body": "B"}), text_columns=["title", "body"]
    )
    assert records[0].text == "T\n\nB"


def test_non_seekable_trickling_stream_parses_identically():
    data = jsonl(*({"text": f"line {i} é"} for i in range(50)))
    from_bytes, _ = parse("a.jsonl", data)
    from_trickle, _ = parse("a.jsonl", data, stream_type=TrickleStream)
    assert from_trickle == from_bytes


# --- encodings -----------------------------------------------------------------------------


def test_utf8_bom_is_stripped():
    records, report = parse("a.jsonl", b"\xef\xbb\xbf" + jsonl({"text": "año"}))
    assert records[0].text == "año"
    assert report.notices == []


def test_latin1_file_falls_back_with_a_notice():
    records, report = parse("notes.txt", "Canción de año\n".encode("cp1252"))
    assert records[0].text == "Canción de año"
    assert any("latin-1 fallback for notes.txt" in notice for notice in report.notices)


def test_cp1252_specific_characters_decode():
    records, _ = parse("notes.txt", "“quoted” – 5 €\n".encode("cp1252"))
    assert records[0].text == "“quoted” – 5 €"


# --- CSV / TSV -----------------------------------------------------------------------------


def test_csv_uses_text_column_and_keeps_quoted_newlines():
    data = b'id,text\n1,"first line\nsecond line"\n2,plain\n'
    records, _ = parse("d.csv", data)
    assert [r.text for r in records] == ["first line\nsecond line", "plain"]
    assert [r.source for r in records] == ["d.csv:2", "d.csv:4"]


def test_csv_prompt_completion_columns_become_pairs():
    records, _ = parse("d.csv", b"Prompt,Completion\nq,a\n")
    assert records[0] == Record(
        kind="prompt_completion", prompt="q", completion="a", source="d.csv:2"
    )


def test_csv_chosen_text_columns_are_joined():
    records, _ = parse("d.csv", b"subject,body\nHi,There\n", text_columns=["subject", "body"])
    assert records[0].text == "Hi\n\nThere"


def test_csv_missing_chosen_column_names_it_and_the_columns_present():
    with pytest.raises(ParseError, match=r'column "body" not found; columns present: "id", "msg"'):
        parse("d.csv", b"id,msg\n1,x\n", text_columns=["body"])


def test_csv_without_default_columns_asks_to_choose():
    with pytest.raises(ParseError, match=r'no "text" column.*columns present: "a", "b"'):
        parse("d.csv", b"a,b\n1,2\n")


def test_csv_row_with_wrong_column_count_is_a_bad_line():
    data = b"id,text\n1,ok\n2,too,many\n3,fine\n"
    with pytest.raises(ParseError, match="line 3: expected 2 columns, found 3"):
        parse("d.csv", data)
    records, report = parse("d.csv", data, skip_bad_lines=True)
    assert [r.text for r in records] == ["ok", "fine"]
    assert report.skipped_lines == [("d.csv", 3, "expected 2 columns, found 3")]


def test_csv_cell_longer_than_default_csv_limit_still_parses():
    big = "w " * 100_000
    records, _ = parse("d.csv", f'text\n"{big}"\n'.encode())
    assert records[0].text == big


def test_tsv_reads_tab_separated_columns():
    records, _ = parse("d.tsv", b"text\tlabel\nhola mundo\t1\n")
    assert records[0].text == "hola mundo"


# --- Parquet -------------------------------------------------------------------------------


def parquet_bytes(table, row_group_size=2):
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=row_group_size)
    return buffer.getvalue()


def test_parquet_reads_rows_across_row_groups_from_a_seekable_stream():
    data = parquet_bytes(pa.table({"text": ["a", "b", "c", None, "e"], "n": [1, 2, 3, 4, 5]}))
    records, _ = parse("t.parquet", data)
    assert [r.text for r in records] == ["a", "b", "c", "", "e"]
    assert records[4].source == "t.parquet:5"


def test_parquet_from_non_seekable_stream_is_spooled_when_small():
    data = parquet_bytes(pa.table({"prompt": ["q"], "completion": ["a"]}))
    records, _ = parse("t.parquet", data, stream_type=TrickleStream)
    assert records[0].kind == "prompt_completion"


def test_parquet_from_non_seekable_stream_over_spool_limit_is_refused():
    data = parquet_bytes(pa.table({"text": [str(i) * 7 for i in range(2000)]}))
    assert len(data) > 1000
    with pytest.raises(ParseError, match="need random access"):
        parse("t.parquet", data, stream_type=TrickleStream, max_spool_bytes=1000)


def test_parquet_missing_column_and_non_text_column_are_explained():
    data = parquet_bytes(pa.table({"id": [1], "body": ["x"]}))
    with pytest.raises(ParseError, match=r'column "text" not found; columns present: "id", "body"'):
        parse("t.parquet", data, text_columns=["text"])
    with pytest.raises(ParseError, match=r'column "id" holds int64, not text'):
        parse("t.parquet", data, text_columns=["id"])


def test_corrupt_parquet_is_refused():
    with pytest.raises(ParseError, match="not a readable Parquet file"):
        parse("t.parquet", b"PAR1" + b"garbage" * 10)


# --- text and Markdown ---------------------------------------------------------------------


def test_text_splits_on_blank_lines_with_start_line_sources():
    records, _ = parse("n.txt", b"one\ntwo\n\n\nthree\r\n")
    assert [(r.text, r.source) for r in records] == [("one\ntwo", "n.txt:1"), ("three", "n.txt:5")]


def test_text_split_file_makes_one_record_per_file():
    records, _ = parse("n.txt", b"one\n\ntwo\n", text_split="file")
    assert [(r.text, r.source) for r in records] == [("one\n\ntwo", "n.txt")]


def test_text_block_over_the_size_bound_is_cut_with_a_notice():
    records, report = parse("n.txt", b"abcdefghi\n" * 50, text_split="file", max_record_bytes=100)
    assert len(records) > 1
    assert all(len(r.text) <= 110 for r in records)
    assert any("was cut" in notice for notice in report.notices)


def test_markdown_keeps_code_fences_whole_and_attaches_headings():
    data = b"# Title\n\nIntro para.\n\n```\ncode\n\nmore code\n```\n\n## Lonely heading\n"
    records, _ = parse("doc.md", data)
    assert [r.text for r in records] == [
        "# Title\n\nIntro para.",
        "```\ncode\n\nmore code\n```",
        "## Lonely heading",
    ]


def test_jsonl_with_windows_line_endings_parses():
    records, _ = parse("a.jsonl", b'{"text": "a"}\r\n{"text": "b"}\r\n')
    assert [r.text for r in records] == ["a", "b"]


@pytest.fixture
def small_csv_field_limit():
    previous = csv.field_size_limit()
    csv.field_size_limit(40)
    yield
    csv.field_size_limit(previous)


def test_unterminated_quote_is_bounded_by_the_field_limit_and_reported(small_csv_field_limit):
    data = b'id,text\n1,ok\n2,"never closed\n' + b"filler text\n" * 6 + b"3,after\n"
    with pytest.raises(ParseError, match="line 3: malformed row .*field larger than field limit"):
        parse("d.csv", data, max_record_bytes=30)
    records, report = parse("d.csv", data, max_record_bytes=30, skip_bad_lines=True)
    assert [r.text for r in records] == ["ok", "after"]
    assert report.skipped_lines[0][1] == 3


def test_with_text_fields_is_the_inverse_of_text_fields():
    chat = Record(kind="chat", messages=(Message("user", "a"), Message("assistant", "b")))
    assert chat.with_text_fields(["x", "y"]).messages == (
        Message("user", "x"),
        Message("assistant", "y"),
    )
    with pytest.raises(InvalidRecord):
        chat.with_text_fields(["only one"])
