"""``GET /healthz``: state of the database, the broker and the workers. No authentication."""

from __future__ import annotations

from datetime import timedelta

# The project's Celery app: platform_site.celery makes it the current one when the settings
# package loads, in every process. Named this way, ops imports no project module.
from celery import current_app as celery_app
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

WORKER_STALE_SECONDS = 30


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # any driver error means unhealthy; the probe must not raise
        return False


def _broker_ok() -> bool:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:  # kombu raises transport-specific errors
        return False


def _workers() -> list[dict[str, str]]:
    """Workers whose heartbeat is recent (see console.worker.HeartbeatStep)."""
    from ops.models import WorkerHeartbeat

    cutoff = timezone.now() - timedelta(seconds=WORKER_STALE_SECONDS)
    try:
        rows = WorkerHeartbeat.objects.filter(last_seen__gte=cutoff).order_by("name")
        return [{"name": row.name, "queues": row.queues} for row in rows]
    except DatabaseError:
        return []


def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and broker answer; workers are reported, not required."""
    database = _database_ok()
    broker = _broker_ok()
    workers = _workers() if database else []
    ok = database and broker
    body = {
        "status": "ok" if ok else "unavailable",
        "database": "ok" if database else "error",
        "broker": "ok" if broker else "error",
        "workers": {"count": len(workers), "alive": workers},
    }
    return JsonResponse(body, status=200 if ok else 503)
