"""Email parsing: .eml and .mbox, headers kept for PII detection, HTML bodies, bad input."""

import io
from email.message import EmailMessage

import pytest

from datasets_app.pipeline.parsing import ParseError, ParseOptions, ParseReport, iter_records


def parse(name, data, **options):
    report = ParseReport()
    records = list(iter_records(name, io.BytesIO(data), ParseOptions(**options), report))
    return records, report


def message(body="Hello Bob, the invoice is attached.", subtype="plain", **headers):
    msg = EmailMessage()
    msg["From"] = headers.get("sender", "Ana García <ana@example.es>")
    msg["To"] = headers.get("to", "bob@example.com")
    msg["Cc"] = headers.get("cc", "carol@example.com")
    msg["Subject"] = headers.get("subject", "Invoice 42")
    msg.set_content(body, subtype=subtype)
    return msg


def test_eml_keeps_from_to_cc_subject_then_body():
    records, _ = parse("mail.eml", message().as_bytes())
    assert records[0].text == (
        "From: Ana García <ana@example.es>\nTo: bob@example.com\nCc: carol@example.com\n"
        "Subject: Invoice 42\n\nHello Bob, the invoice is attached."
    )
    assert records[0].source == "mail.eml"


def test_eml_html_body_is_converted_to_text_without_scripts():
    html = "<html><body><p>Hola <b>Bob</b></p><script>steal()</script><p>Saludos</p></body></html>"
    records, _ = parse("mail.eml", message(html, subtype="html").as_bytes())
    body = records[0].text.split("\n\n", 1)[1]
    assert body == "Hola Bob\n\nSaludos"


def test_eml_alternative_prefers_plain_text_part():
    msg = message("plain version")
    msg.add_alternative("<p>html version</p>", subtype="html")
    records, _ = parse("mail.eml", msg.as_bytes())
    assert records[0].text.endswith("plain version")


def test_eml_attachments_are_ignored_with_a_notice():
    msg = message()
    msg.add_attachment(b"%PDF-1.7 binary", maintype="application", subtype="pdf", filename="a.pdf")
    records, report = parse("mail.eml", msg.as_bytes())
    assert "PDF" not in records[0].text
    assert any("1 attachment(s) ignored" in notice for notice in report.notices)


def test_eml_encoded_headers_are_decoded():
    raw = (
        b"From: =?utf-8?q?Jos=C3=A9_P=C3=A9rez?= <jose@example.es>\n"
        b"Subject: =?utf-8?b?wqFIb2xhIQ==?=\n\nCuerpo\n"
    )
    records, _ = parse("mail.eml", raw)
    assert "From: José Pérez <jose@example.es>" in records[0].text
    assert "Subject: ¡Hola!" in records[0].text


def test_eml_with_unknown_charset_still_yields_text():
    raw = b"Subject: x\nContent-Type: text/plain; charset=klingon\n\ncaf\xe9 ok\n"
    records, _ = parse("mail.eml", raw)
    assert records[0].text.endswith("café ok")


def test_eml_larger_than_the_message_limit_is_refused():
    with pytest.raises(ParseError, match="larger than 100 bytes"):
        parse("mail.eml", message("x" * 500).as_bytes(), max_message_bytes=100)


def mbox(*messages):
    parts = []
    for index, msg in enumerate(messages):
        parts.append(f"From sender{index}@example.com Mon Jan  1 00:00:00 2024\n".encode())
        parts.append(msg.as_bytes().replace(b"\nFrom ", b"\n>From ") + b"\n")
    return b"".join(parts)


def test_mbox_yields_one_record_per_message_with_separator_line_sources():
    data = mbox(message("first body", subject="One"), message("second body", subject="Two"))
    records, _ = parse("inbox.mbox", data)
    assert [r.text.split("\n")[3] for r in records] == ["Subject: One", "Subject: Two"]
    first_lines = data.decode().split("\n")
    assert first_lines[int(records[1].source.split(":")[1]) - 1].startswith("From sender1@")


def test_mbox_unescapes_quoted_from_lines_and_does_not_split_on_them():
    data = mbox(message("line one\nFrom here on we agree.\nbye"))
    records, _ = parse("inbox.mbox", data)
    assert len(records) == 1
    assert "From here on we agree." in records[0].text


def test_mbox_must_start_with_a_from_line():
    with pytest.raises(ParseError, match='not an mbox file: it must start with a "From " line'):
        parse("inbox.mbox", b"Subject: hi\n\nbody\n")


def test_mbox_oversized_message_is_skipped_when_asked():
    data = mbox(message("y" * 3000, subject="Big"), message("small", subject="Small"))
    with pytest.raises(ParseError, match="line 1: message is larger than 2000 bytes"):
        parse("inbox.mbox", data, max_message_bytes=2000)
    records, report = parse("inbox.mbox", data, max_message_bytes=2000, skip_bad_lines=True)
    assert [r.text.split("\n")[3] for r in records] == ["Subject: Small"]
    assert report.skipped_total == 1
