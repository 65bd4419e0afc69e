"""The ingestion lease: which worker may write a processing dataset's findings and outcome.

A message may reach two workers at once (a redelivery after the broker's visibility timeout, a
duplicate, the sweeper's re-send), and a worker may die mid-run. So the worker first claims the
dataset with one conditional UPDATE whose row count says who won (``claim_ingestion``), renews
the lease while it works (``IngestLease.keep_alive``), and fences every write that ends the run
on its owner token (``IngestLease.owned``). A worker whose renewal finds no row stops at once
with ``IngestLeaseLost`` and writes nothing more: the dataset belongs to someone else now (or
was deleted). Modelled on the training job lease (``trainer.services``).

Why throttled renewals are enough to fence the findings batches too: a lease renewed at ``t``
cannot be taken over before ``t + INGEST_LEASE_SECONDS``, and a batch is written only after a
renewal at most ``renew_every`` (a sixth of the lease, at most five seconds) old. A worker that
stalls past its lease finds its renewal refused at the next batch. The window left is a stall
of a whole lease between that check and the insert itself.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from datasets_app.models import Dataset, DatasetStatus

RENEW_EVERY_SECONDS = 5.0
_OWNER_MAX = 64
_TOKEN_CHARS = 32


class IngestLeaseLost(Exception):
    """This worker no longer owns the dataset's ingestion (taken over, finished or deleted).

    The worker must stop without writing: no findings, no outcome, no deletion."""


def lease_deadline() -> datetime:
    """When a lease taken or renewed now expires."""
    return timezone.now() + timedelta(seconds=settings.INGEST_LEASE_SECONDS)


@dataclass
class IngestLease:
    """Proof that this worker owns the ingestion of one dataset (attempt ``attempt``)."""

    dataset_id: int
    owner: str
    attempt: int
    _renewed_at: float = field(default_factory=time.monotonic, repr=False)

    def owned(self) -> QuerySet[Dataset]:
        """The dataset's row while this lease owns it (still processing); otherwise empty.
        Updates through it are fenced: a row count of 0 means the lease was lost."""
        return Dataset.objects.filter(
            pk=self.dataset_id, ingest_lease_owner=self.owner, status=DatasetStatus.PROCESSING
        )

    def renew(self) -> None:
        """Extend the lease now. Raises ``IngestLeaseLost`` when it is no longer ours.

        Inside a transaction it also fences the transaction's other writes: the updated row
        stays locked until commit, so no claim can win in between."""
        if self.owned().update(ingest_lease_expires_at=lease_deadline()) != 1:
            raise IngestLeaseLost(f"dataset {self.dataset_id}")
        self._renewed_at = time.monotonic()

    def keep_alive(self) -> None:
        """Renew when the last renewal is older than ``renew_every()``; cheap enough to call
        per record. Raises ``IngestLeaseLost`` when a due renewal finds the lease gone."""
        if time.monotonic() - self._renewed_at >= renew_every():
            self.renew()


def renew_every() -> float:
    """Seconds between renewals: well inside the lease, so a renewed lease stays valid until
    the next one is due (see the module docstring)."""
    return min(RENEW_EVERY_SECONDS, settings.INGEST_LEASE_SECONDS / 6)


def claim_ingestion(dataset_id: int, worker: str = "") -> IngestLease | None:
    """Take the ingestion of a processing dataset nobody holds (no owner, or lease expired).

    One conditional UPDATE; None when another worker holds a fresh lease, the dataset is no
    longer processing (done, failed, deleted, missing), or its attempts are spent (the sweeper
    fails it with a reason). On success the attempt count is one higher.
    """
    prefix = (worker or "worker")[: _OWNER_MAX - _TOKEN_CHARS - 1]
    owner = f"{prefix}:{uuid.uuid4().hex}"
    claimable = Dataset.objects.filter(
        Q(ingest_lease_owner="") | Q(ingest_lease_expires_at__lt=timezone.now()),
        pk=dataset_id,
        status=DatasetStatus.PROCESSING,
        ingest_attempts__lt=settings.INGEST_MAX_ATTEMPTS,
    )
    won = claimable.update(
        ingest_lease_owner=owner,
        ingest_lease_expires_at=lease_deadline(),
        ingest_attempts=F("ingest_attempts") + 1,
    )
    if won != 1:
        return None
    attempt = Dataset.objects.values_list("ingest_attempts", flat=True).get(pk=dataset_id)
    return IngestLease(dataset_id=dataset_id, owner=owner, attempt=attempt)
