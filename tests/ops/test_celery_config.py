"""Celery wiring: JSON only, late acks, prefetch 1, and tasks routed to the right queue."""

from __future__ import annotations

from platform_site.celery import app


def test_messages_are_json_only_with_late_acks_and_prefetch_one() -> None:
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_acks_late is True
    assert app.conf.worker_prefetch_multiplier == 1


def _route(task_name: str) -> tuple[str, str, str]:
    options = app.amqp.router.route({}, task_name, args=(1,), kwargs={})
    queue = options["queue"]
    return queue.name, queue.exchange.name, queue.routing_key


def test_training_messages_reach_the_training_queue_only() -> None:
    assert _route("trainer.tasks.run_training_job") == ("training", "training", "training")


def test_ingestion_messages_reach_the_ingestion_queue() -> None:
    assert _route("datasets_app.tasks.ingest_dataset") == ("ingestion", "ingestion", "ingestion")
    assert _route("trainer.tasks.requeue_expired_jobs")[0] == "ingestion"


def test_beat_sweeps_stalled_ingestions_on_the_ingestion_queue() -> None:
    app.finalize()
    entry = app.conf.beat_schedule["requeue-stalled-ingestions"]
    assert entry["task"] == "datasets_app.tasks.requeue_stalled_ingestions"
    assert _route(entry["task"])[0] == "ingestion"
