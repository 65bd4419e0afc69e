"""One digest of a personal value: ingestion, review and redaction agree that "612 34 56 78"
and "612345678" are one value, and the data migration's recompute rewrites older digests."""

from __future__ import annotations

from typing import Any

import pytest

from datasets_app.digests import dataset_finding_secret, finding_digest, recompute_digests
from datasets_app.models import Finding
from datasets_app.pipeline.redaction import placeholder_for

pytestmark = pytest.mark.django_db

SECRET = b"k" * 32


def test_separators_and_case_do_not_split_one_value() -> None:
    assert finding_digest(SECRET, "PHONE_NUMBER", "612 34 56 78") == finding_digest(
        SECRET, "PHONE_NUMBER", "612345678"
    )
    assert finding_digest(SECRET, "PERSON", "Ana  María") == finding_digest(
        SECRET, "PERSON", "ana maría"
    )
    # The same normalization as the pseudonym: one value, one placeholder, one digest.
    assert placeholder_for(SECRET, "PHONE_NUMBER", "612 34 56 78") == placeholder_for(
        SECRET, "PHONE_NUMBER", "612-345-678"
    )
    assert finding_digest(SECRET, "PHONE_NUMBER", "612345678") != finding_digest(
        SECRET, "PHONE_NUMBER", "612345679"
    )
    assert finding_digest(SECRET, "PERSON", "Ana") != finding_digest(b"x" * 32, "PERSON", "Ana")


def test_the_migration_recompute_gives_both_spellings_one_digest(review_dataset_from: Any) -> None:
    records = [{"text": "Call 612 34 56 78 today"}, {"text": "or 612345678 tomorrow"}]
    dataset = review_dataset_from(
        records, [(0, 5, 17, "PHONE_NUMBER", 0.9), (1, 3, 12, "PHONE_NUMBER", 0.9)]
    )
    Finding.objects.update(value_digest="stale")
    assert recompute_digests(dataset, Finding) == 2
    digests = set(Finding.objects.values_list("value_digest", flat=True))
    secret = dataset_finding_secret(dataset)
    assert digests == {finding_digest(secret, "PHONE_NUMBER", "612345678")}
    assert recompute_digests(dataset, Finding) == 0  # idempotent


def test_a_span_that_does_not_fit_its_text_keeps_its_digest(review_dataset_from: Any) -> None:
    dataset = review_dataset_from([{"text": "short"}], [(0, 2, 99, "PERSON", 0.9)])
    Finding.objects.update(value_digest="kept")
    assert recompute_digests(dataset, Finding) == 0
    assert Finding.objects.get().value_digest == "kept"


def test_a_shredded_dataset_is_left_as_it_is(review_dataset_from: Any) -> None:
    from audit.services import SYSTEM
    from vault.services import destroy_data_key

    dataset = review_dataset_from([{"text": "Call 612 34 56 78"}], [(0, 5, 17, "PHONE_NUMBER", 1)])
    Finding.objects.update(value_digest="old")
    destroy_data_key(SYSTEM, dataset.data_key, reason="test")
    dataset.refresh_from_db()
    assert recompute_digests(dataset, Finding) == 0
    assert Finding.objects.get().value_digest == "old"
