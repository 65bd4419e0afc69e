"""Thin Celery tasks for datasets. Messages carry ids only.

Ingestion is never retried by Celery: a dataset whose worker died is found by the sweeper
(``requeue_stalled_ingestions``), whose re-sent message lets another worker claim it.
"""

from __future__ import annotations

from celery import shared_task

from datasets_app import chunked, services


@shared_task(acks_late=True, ignore_result=True, bind=True)
def ingest_dataset(self: object, dataset_id: int) -> None:
    """Claim, parse, clean and scan an uploaded dataset; a duplicate or redelivered message
    finds nothing to claim while another worker holds it, or once it is done."""
    services.run_ingestion(dataset_id, worker=getattr(self.request, "hostname", "") or "worker")


@shared_task(ignore_result=True)
def requeue_stalled_ingestions() -> list[int]:
    """Beat: re-send the ingestion message of datasets whose worker died or whose message was
    lost; fail those interrupted too often."""
    dataset_ids = services.requeue_stalled_ingestions()
    for dataset_id in dataset_ids:
        ingest_dataset.delay(dataset_id)
    return dataset_ids


@shared_task(ignore_result=True)
def discard_abandoned_uploads() -> int:
    """Beat, hourly: discard chunked uploads left incomplete past their time to live."""
    return chunked.discard_abandoned_uploads()
