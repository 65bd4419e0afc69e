"""Celery application: JSON messages carrying ids only, late acks, one task prefetched.

Queues: ``ingestion`` (parsing, cleaning, PII detection: CPU) and ``training`` (GPU work:
training and evaluation). The job row in the database is the source of truth; a message is only
a nudge to look at it, so a lost or duplicated message never corrupts a job.
"""

from __future__ import annotations

import os

from celery import Celery
from kombu import Exchange, Queue

from platform_site import offline  # noqa: F401

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings")

app = Celery("soberana")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    event_serializer="json",
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    task_default_queue="ingestion",
    # Explicit exchanges and keys: a bare Queue("training") would inherit the default
    # queue's exchange and routing key, and training messages would land in "ingestion".
    task_queues=(
        Queue("ingestion", Exchange("ingestion", type="direct"), routing_key="ingestion"),
        Queue("training", Exchange("training", type="direct"), routing_key="training"),
    ),
    task_routes={
        "datasets_app.tasks.*": {"queue": "ingestion"},
        "trainer.tasks.run_training_job": {"queue": "training"},
        # Evaluation loads the trained model (and the base): GPU work, like training.
        "trainer.tasks.evaluate_model_version": {"queue": "training"},
        # The poisoning screen's perplexity outliers load the base model.
        "trainer.tasks.screen_perplexity": {"queue": "training"},
        "trainer.tasks.requeue_expired_jobs": {"queue": "ingestion"},
        # The privacy audit loads the trained model and its base, like evaluation.
        "privacy.tasks.run_privacy_audit": {"queue": "training"},
        "privacy.tasks.requeue_expired_audits": {"queue": "ingestion"},
        # Evaluation runs load models (GPU work); their sweeper is light.
        "evaluation.tasks.run_evaluation": {"queue": "training"},
        "evaluation.tasks.run_judge": {"queue": "training"},
        "evaluation.tasks.requeue_expired_evaluations": {"queue": "ingestion"},
    },
)
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _schedule_lease_sweeper(sender: Celery, **_: object) -> None:
    """Beat runs the lease sweepers so jobs and datasets of dead workers are taken up again,
    and hourly discards chunked uploads abandoned past SOBERANA_CHUNKED_UPLOAD_TTL_HOURS."""
    from django.conf import settings

    sender.conf.beat_schedule = {
        "requeue-expired-jobs": {
            "task": "trainer.tasks.requeue_expired_jobs",
            "schedule": float(settings.LEASE_SWEEP_SECONDS),
        },
        "requeue-expired-privacy-audits": {
            "task": "privacy.tasks.requeue_expired_audits",
            "schedule": float(settings.LEASE_SWEEP_SECONDS),
        },
        "requeue-expired-evaluations": {
            "task": "evaluation.tasks.requeue_expired_evaluations",
            "schedule": float(settings.LEASE_SWEEP_SECONDS),
        },
        "requeue-stalled-ingestions": {
            "task": "datasets_app.tasks.requeue_stalled_ingestions",
            "schedule": float(settings.LEASE_SWEEP_SECONDS),
            # It shares the ingestion queue with long runs: sweeps that waited a whole lease
            # behind one are dropped instead of all running at once afterwards.
            "options": {"expires": float(settings.INGEST_LEASE_SECONDS)},
        },
        "discard-abandoned-uploads": {
            "task": "datasets_app.tasks.discard_abandoned_uploads",
            "schedule": 3600.0,
        },
    }


def _install_worker_steps() -> None:
    from console.worker import HeartbeatStep

    app.steps["worker"].add(HeartbeatStep)


_install_worker_steps()
