"""Thin Celery tasks for datasets. Messages carry ids only."""

from __future__ import annotations

from celery import shared_task

from datasets_app import chunked, services


@shared_task(acks_late=True, ignore_result=True)
def ingest_dataset(dataset_id: int) -> None:
    """Parse, clean and scan an uploaded dataset (idempotent: skips a dataset already done)."""
    services.run_ingestion(dataset_id)


@shared_task(ignore_result=True)
def discard_abandoned_uploads() -> int:
    """Beat, hourly: discard chunked uploads left incomplete past their time to live."""
    return chunked.discard_abandoned_uploads()
