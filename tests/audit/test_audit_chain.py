"""The audit trail is append-only and hash-chained; tampering is detected by entry id."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit.models import AppendOnlyError, AuditEvent
from audit.services import Actor, record_event, verify_chain


@pytest.fixture
def three_events(db: Any) -> list[AuditEvent]:
    return [record_event(Actor(), f"test.action{i}", details={"n": i}) for i in range(3)]


def test_intact_chain_verifies(three_events: list[AuditEvent]) -> None:
    report = verify_chain()
    assert report.first_broken_id is None and report.checked >= 3
    call_command("verify_audit_log")


def test_each_entry_links_to_the_previous_hash(three_events: list[AuditEvent]) -> None:
    assert three_events[1].prev_hash == three_events[0].entry_hash
    assert three_events[2].prev_hash == three_events[1].entry_hash


def test_entry_edited_in_the_database_is_named_by_the_check(three_events: list[AuditEvent]) -> None:
    target = three_events[1]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET action = %s WHERE id = %s", ["test.forged", target.pk]
        )
    assert verify_chain().first_broken_id == target.pk
    with pytest.raises(CommandError, match=f"entry {target.pk}"):
        call_command("verify_audit_log")


def test_entries_cannot_be_changed_or_deleted_through_the_application(
    three_events: list[AuditEvent],
) -> None:
    event = three_events[0]
    event.action = "changed"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


def test_audit_api_is_for_admins_only(cast: Any, api_client_for: Any) -> None:
    record_event(Actor(user=cast.owner), "test.visible")
    assert api_client_for(cast.owner).get("/api/v1/audit-events/").status_code == 403
    response = api_client_for(cast.admin).get("/api/v1/audit-events/?action=test.visible")
    assert response.status_code == 200
    assert response.json()["results"][0]["action"] == "test.visible"
    csv = api_client_for(cast.admin).get("/api/v1/audit-events/?format=csv")
    assert csv.status_code == 200 and b"test.visible" in b"".join(csv.streaming_content)
