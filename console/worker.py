"""A Celery bootstep that records a heartbeat row (``ops.models.WorkerHeartbeat``) for /healthz
every few seconds, with what the worker can run (``trainer.services.worker_capabilities``).

Installed by ``platform_site.celery`` while the settings load, before the app registry is
ready: models and services are imported when the worker starts, not at import."""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import bootsteps
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

HEARTBEAT_SECONDS = 5.0
logger = logging.getLogger(__name__)


class HeartbeatStep(bootsteps.StartStopStep):
    """Writes ``WorkerHeartbeat`` for this worker on start and then every few seconds."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.tref: Any = None
        self.capabilities: dict[str, Any] = {}

    def start(self, worker: Any) -> None:
        from trainer.services import worker_capabilities

        self.capabilities = worker_capabilities(_queues(worker).split(","))
        self._beat(worker)
        self.tref = worker.timer.call_repeatedly(HEARTBEAT_SECONDS, self._beat, (worker,))

    def stop(self, worker: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()

    def _beat(self, worker: Any) -> None:
        from ops.models import WorkerHeartbeat

        try:
            close_old_connections()
            WorkerHeartbeat.objects.update_or_create(
                name=worker.hostname,
                defaults={
                    "queues": _queues(worker),
                    "pid": os.getpid(),
                    "last_seen": timezone.now(),
                    "capabilities": self.capabilities,
                },
            )
        except DatabaseError:
            logger.warning("could not record worker heartbeat", exc_info=True)


def _queues(worker: Any) -> str:
    """The queues this worker consumes, comma-separated and sorted."""
    return ",".join(sorted(q.name for q in worker.app.amqp.queues.consume_from.values()))
