"""Issue 18 item 6: the audit CSV export neutralizes formula cells (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from audit.api.views import csv_cell
from audit.services import Actor, record_event


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_cells_starting_a_formula_are_quoted(start: str) -> None:
    assert csv_cell(start + 'HYPERLINK("http://x")') == "'" + start + 'HYPERLINK("http://x")'


def test_plain_values_pass_unchanged() -> None:
    assert csv_cell("alice") == "alice" and csv_cell(42) == 42 and csv_cell(None) is None


def test_the_export_writes_no_cell_that_a_spreadsheet_would_evaluate(
    cast: Any, api_client_for: Any
) -> None:
    actor = Actor(user=None, user_agent="=cmd|' /C calc'!A0")
    record_event(actor, "login.failed", outcome="denied", username="@SUM(1+1)*cmd")
    response = api_client_for(cast.admin).get("/api/v1/audit-events/?format=csv")
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    row = next(r for r in rows if r["action"] == "login.failed")
    assert row["user_agent"] == "'=cmd|' /C calc'!A0"
    assert row["actor_username"] == "'@SUM(1+1)*cmd"
    for r in rows:
        assert not any(v and v[0] in "=+-@\t\r" for v in r.values()), r
