"""Undo of a reviewer's last decision: restores the finding's state before it (decision and
span), removes a span the reviewer added, goes back one step per undo, refuses what it cannot
undo safely, and is audited."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.services import PermissionDenied
from audit.models import AuditEvent
from audit.services import Actor
from datasets_app import services
from datasets_app.models import Finding
from datasets_app.undo import NothingToUndo, undo_last_decision

pytestmark = pytest.mark.django_db
TEXT = "Call Mark Scott about the refund."


@pytest.fixture
def dataset(review_dataset_from: Any) -> Any:
    return review_dataset_from([{"text": TEXT}], [(0, 5, 9, "PERSON", 0.8)])


def test_undo_restores_the_decision_and_the_span_before_it(cast: Any, dataset: Any) -> None:
    steward = Actor(user=cast.steward)
    finding = dataset.findings.get()
    services.decide_finding(steward, finding, "accepted", start=5, end=15)
    restored = undo_last_decision(steward, dataset)
    assert restored is not None
    finding.refresh_from_db()
    assert (finding.decision, finding.start, finding.end) == ("pending", 5, 9)
    assert finding.decided_by is None and finding.decided_at is None
    undo = AuditEvent.objects.get(action="pii.undo")
    assert undo.details["action"] == "pii.decide" and undo.object_id == str(finding.pk)


def test_each_undo_goes_one_decision_further_back(cast: Any, dataset: Any) -> None:
    steward = Actor(user=cast.steward)
    finding = dataset.findings.get()
    services.decide_finding(steward, finding, "accepted")
    services.decide_finding(steward, Finding.objects.get(pk=finding.pk), "rejected")
    undo_last_decision(steward, dataset)
    assert Finding.objects.get(pk=finding.pk).decision == "accepted"
    undo_last_decision(steward, dataset)
    assert Finding.objects.get(pk=finding.pk).decision == "pending"
    with pytest.raises(NothingToUndo):
        undo_last_decision(steward, dataset)


def test_undo_removes_a_span_the_reviewer_added(cast: Any, dataset: Any) -> None:
    steward = Actor(user=cast.steward)
    services.add_finding(
        steward, dataset, record_index=0, field="text", start=26, end=32, entity_type="MONEY"
    )
    assert undo_last_decision(steward, dataset) is None
    assert list(dataset.findings.values_list("entity_type", flat=True)) == ["PERSON"]


def test_a_finding_changed_since_by_someone_else_is_not_undone(cast: Any, dataset: Any) -> None:
    from django.contrib.auth import get_user_model

    from accounts.models import Membership

    other = get_user_model().objects.create_user("steward2", "", "pw-Long-123!")
    Membership.objects.create(project=cast.project, user=other, role="steward")
    finding = dataset.findings.get()
    services.decide_finding(Actor(user=cast.steward), finding, "accepted")
    services.decide_finding(Actor(user=other), Finding.objects.get(pk=finding.pk), "rejected")
    with pytest.raises(NothingToUndo, match="changed that finding"):
        undo_last_decision(Actor(user=cast.steward), dataset)
    assert Finding.objects.get(pk=finding.pk).decision == "rejected"


def test_a_bulk_decision_ends_the_undo_walk(cast: Any, dataset: Any) -> None:
    steward = Actor(user=cast.steward)
    services.bulk_decide(steward, dataset, "accepted")
    with pytest.raises(NothingToUndo, match="bulk"):
        undo_last_decision(steward, dataset)


def test_only_reviewers_may_undo_and_the_denial_is_audited(cast: Any, dataset: Any) -> None:
    with pytest.raises(PermissionDenied):
        undo_last_decision(Actor(user=cast.engineer), dataset)
    assert AuditEvent.objects.filter(action="denied.review_pii").exists()


def test_the_undo_button_keeps_the_workspace_filters(cast: Any, dataset: Any) -> None:
    services.decide_finding(Actor(user=cast.steward), dataset.findings.get(), "rejected")
    client = Client()
    client.force_login(cast.steward)
    response = client.post(
        f"/datasets/{dataset.pk}/review/undo/", {"query": "decision=rejected&page=1"}
    )
    assert response["Location"] == f"/datasets/{dataset.pk}/review/?decision=rejected&page=1"
    assert dataset.findings.get().decision == "pending"
