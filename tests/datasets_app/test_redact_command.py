"""``manage.py redact``: same detection, every finding accepted, input order kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


def test_redact_command_writes_redacted_lines_in_input_order(tmp_path: Path, db: Any) -> None:
    source = tmp_path / "in.jsonl"
    lines = [
        {"text": "Contact Laura Gómez at laura.gomez@example.es or +34 612 345 678."},
        {"text": "Nothing to hide here, just a printer jam."},
        {"text": "Su DNI es 12345678Z y vive en Calle Mayor 5, Madrid."},
        {"text": "Laura asked again: password=Hunter2Secret!"},
    ]
    source.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    output = tmp_path / "out.jsonl"
    call_command("redact", str(source), "--output", str(output))
    result = [json.loads(x)["text"] for x in output.read_text().splitlines()]
    assert len(result) == 4
    assert result[1] == lines[1]["text"]
    joined = " ".join(result)
    for value in ("laura.gomez@example.es", "612 345 678", "12345678Z", "Hunter2Secret", "Laura"):
        assert value not in joined, value
    assert result[0].startswith("Contact <PERSON_")


def test_redact_command_reports_a_malformed_line_with_its_number(tmp_path: Path, db: Any) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text('{"text": "fine"}\n{"text": broken\n')
    with pytest.raises(CommandError, match="line 2"):
        call_command("redact", str(source), "--output", str(tmp_path / "o.jsonl"))
    assert not (tmp_path / "o.jsonl").exists()


def test_redact_command_writes_the_same_file_with_one_or_two_processes(
    tmp_path: Path, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = ["Laura Gómez", "Mark Scott", "Ana Gil", "Tomasz Nowak", "Nguyen Van An"]
    lines = [
        {"text": f"Ticket {n}: {people[n % 5]} ({n}@example.org, +34 612 345 {n:03d}) wrote "
                 f"from Calle Mayor {n}, Madrid; order #{4000 + n} shipped. Hi {people[n % 5].split()[0]}!"}
        for n in range(80)
    ]  # fmt: skip
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    outputs = []
    for processes in ("1", "2"):
        monkeypatch.setenv("SOBERANA_PII_PROCESSES", processes)
        outputs.append(tmp_path / f"out-{processes}.jsonl")
        call_command("redact", str(source), "--output", str(outputs[-1]))
    assert outputs[0].read_text() == outputs[1].read_text()
    assert "Tomasz" not in outputs[1].read_text()
