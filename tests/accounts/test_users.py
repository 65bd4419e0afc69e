"""Creating a user is a service verb: the account and its ``user.create`` entry commit together."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from accounts import services
from audit.models import AuditEvent
from audit.services import Actor

pytestmark = pytest.mark.django_db


class AuditDown(Exception):
    """The audit trail refused a write."""


def test_creating_a_user_writes_its_audit_entry(cast: Any) -> None:
    user = services.create_user(Actor(user=cast.owner), "newcomer", email="", password="pw-Long-1!")
    event = AuditEvent.objects.get(action="user.create")
    assert (event.object_id, event.actor_username) == (str(user.pk), "owner")


def test_a_user_whose_audit_entry_fails_is_not_created(cast: Any, monkeypatch: Any) -> None:
    def failing_audit(actor: Actor, action: str, **kwargs: Any) -> None:
        raise AuditDown(action)

    monkeypatch.setattr("accounts.services.record_event", failing_audit)
    with pytest.raises(AuditDown):
        services.create_user(Actor(user=cast.owner), "newcomer", email="", password="pw-Long-1!")
    assert not get_user_model().objects.filter(username="newcomer").exists()
