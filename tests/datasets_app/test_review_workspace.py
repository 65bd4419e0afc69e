"""The review workspace: Wilson interval, leak estimate, escaped highlighting, and the page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from datasets_app.review import (
    estimate_residual_leak,
    highlight,
    index_runs,
    sample_indices,
    wilson_interval,
)


@dataclass
class FakeSpan:
    pk: int
    start: int
    end: int
    entity_type: str = "PERSON"
    decision: str = "pending"
    score: float = 0.9


# --- statistics ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        (0, 10, 0.0, 0.2775),
        (5, 10, 0.2366, 0.7634),
        (10, 10, 0.7225, 1.0),
        (1, 100, 0.0018, 0.0545),
    ],
)
def test_wilson_interval_matches_published_values(
    successes: int, trials: int, low: float, high: float
) -> None:
    got = wilson_interval(successes, trials)
    assert got == pytest.approx((low, high), abs=5e-4)


def test_wilson_interval_without_trials_knows_nothing_and_refuses_impossible_counts() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    for successes, trials in ((3, 2), (-1, 5), (0, -1)):
        with pytest.raises(ValueError):
            wilson_interval(successes, trials)


def test_leak_rate_counts_missed_spans_over_true_spans_and_ignores_false_alarms() -> None:
    estimate = estimate_residual_leak(
        records=50, confirmed=18, rejected=7, missed=2, pending=1, records_with_miss=2
    )
    assert estimate.rate == pytest.approx(0.1)
    assert (estimate.low, estimate.high) == pytest.approx(wilson_interval(2, 20))
    assert estimate.record_rate == pytest.approx(0.04)
    assert estimate.precision == pytest.approx(18 / 25)
    clean = estimate_residual_leak(records=30, confirmed=0, rejected=0, missed=0)
    assert clean.rate == 0.0 and clean.high == 1.0 and clean.precision is None
    with pytest.raises(ValueError):
        estimate_residual_leak(records=1, confirmed=0, rejected=0, missed=0, records_with_miss=2)


def test_a_sample_is_reproducible_sorted_and_never_larger_than_the_dataset() -> None:
    first = sample_indices(1000, 25, seed=7)
    assert first == sample_indices(1000, 25, seed=7) == sorted(set(first))
    assert first != sample_indices(1000, 25, seed=8)
    assert sample_indices(5, 25, seed=1) == [0, 1, 2, 3, 4]


def test_index_runs_group_consecutive_records() -> None:
    assert index_runs([9, 3, 4, 5, 12, 13]) == [(3, 3), (9, 1), (12, 2)]
    assert index_runs([]) == []


# --- highlighting --------------------------------------------------------------------------


def test_highlighting_escapes_markup_in_the_text_and_in_the_type() -> None:
    text = '<script>alert("x")</script> Mark <b>Scott</b>'
    html = str(highlight(text, [FakeSpan(1, 28, 32), FakeSpan(2, 33, 45, '"><img src=x>')]))
    assert "<script>" not in html and "<b>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert '<mark class="pii pii-PERSON is-pending" data-finding="1"' in html
    assert ">Mark</mark>" in html and "&lt;b&gt;Scott&lt;/b&gt;</mark>" in html


def test_highlighting_keeps_carriage_returns_and_clips_overlaps_and_stray_spans() -> None:
    html = str(
        highlight("ab\r\ncd efgh", [FakeSpan(1, 4, 9), FakeSpan(2, 5, 11), FakeSpan(3, 40, 50)])
    )
    assert html.startswith("ab&#13;\n")
    assert html.count("<mark") == 2
    assert ">cd ef</mark>" in html and ">gh</mark>" in html


# --- the page ------------------------------------------------------------------------------

RECORDS = [
    {
        "kind": "text",
        "text": "Call Mark Scott about <script>alert(1)</script> today.",
        "lang": "en",
    },
    {"kind": "text", "text": "Nothing personal about the printer.", "lang": "en"},
    {"kind": "text", "text": "Mail jane@example.org for the refund.", "lang": "en"},
]


@pytest.fixture
def review_dataset(review_dataset_from: Any) -> Any:
    """A dataset needing review, written through the vault, with two detector findings."""
    return review_dataset_from(
        RECORDS, [(0, 5, 15, "PERSON", 0.85), (2, 5, 21, "EMAIL_ADDRESS", 1.0)]
    )


def test_steward_sees_escaped_highlighted_records_and_the_read_is_audited(
    cast: Any, client: Any, review_dataset: Any
) -> None:
    from audit.models import AuditEvent

    client.force_login(cast.steward)
    response = client.get(f"/datasets/{review_dataset.pk}/review/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert 'data-type="PERSON"' in html and ">Mark Scott</mark>" in html
    assert 'id="decided-count">0<' in html and 'id="total-count">2<' in html
    assert AuditEvent.objects.filter(action="dataset.view_raw", outcome="allowed").exists()


@pytest.mark.parametrize("role", ["engineer", "owner", "viewer"])
def test_members_who_may_not_review_get_the_refusal(
    cast: Any, client: Any, review_dataset: Any, role: str
) -> None:
    from django.contrib.messages import get_messages

    client.force_login(cast.users[role])
    response = client.get(f"/datasets/{review_dataset.pk}/review/")
    assert response.status_code == 302
    assert response["Location"] == f"/datasets/{review_dataset.pk}/"
    assert any("does not allow" in str(m) for m in get_messages(response.wsgi_request))


def test_outsiders_get_404(cast: Any, client: Any, review_dataset: Any) -> None:
    client.force_login(cast.outsider)
    assert client.get(f"/datasets/{review_dataset.pk}/review/").status_code == 404


def test_filters_narrow_the_records_to_those_with_matching_findings(
    cast: Any, client: Any, review_dataset: Any
) -> None:
    client.force_login(cast.steward)
    html = client.get(f"/datasets/{review_dataset.pk}/review/?type=EMAIL_ADDRESS").content.decode()
    assert 'data-record="2"' in html and 'data-record="0"' not in html


def test_sample_mode_estimates_the_leak_rate_from_the_reviewers_decisions(
    cast: Any, client: Any, review_dataset: Any
) -> None:
    from audit.services import Actor
    from datasets_app import services

    actor = Actor(user=cast.steward)
    for finding in review_dataset.findings.all():
        services.decide_finding(actor, finding, "accepted")
    services.add_finding(
        actor,
        review_dataset,
        record_index=1,
        field="text",
        start=27,
        end=34,
        entity_type="LOCATION",
    )
    client.force_login(cast.steward)
    html = client.get(f"/datasets/{review_dataset.pk}/review/?sample=3").content.decode()
    assert 'id="leak-estimate"' in html
    # 1 missed of 3 true spans: 33 %, Wilson 95 % interval 6-79 %.
    assert "33% of personal-data spans missed" in html and "(95% CI 6–79%)" in html


def test_the_dataset_page_links_the_workspace_for_stewards_only(
    cast: Any, client: Any, review_dataset: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The redacted sample on that page is beside the point (and loads spaCy).
    monkeypatch.setattr("datasets_app.services.read_records", lambda *args, **kwargs: [])
    client.force_login(cast.steward)
    assert 'id="open-review"' in client.get(f"/datasets/{review_dataset.pk}/").content.decode()
    client.force_login(cast.engineer)
    assert 'id="open-review"' not in client.get(f"/datasets/{review_dataset.pk}/").content.decode()
