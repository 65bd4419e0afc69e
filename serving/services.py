"""Verbs on deployments, deployment keys, usage and rate limits. Atomic and audited.

Views and the OpenAI-compatible API call these; none of them write models directly.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet, Sum
from django.utils import timezone

from accounts.models import ApiToken, hash_token
from accounts.roles import Action
from accounts.services import project_ids_allowing, require
from audit.services import Actor, record_event
from serving import release
from serving.models import (
    Deployment,
    DeploymentKey,
    DeploymentStatus,
    RateWindow,
    UsageDay,
)
from serving.naming import fine_tuned_model_name, valid_suffix
from trainer.models import ModelVersion
from vault import services as vault

KEY_PREFIX = "sobk_"
DEFAULT_KEY_SCOPES = ["inference"]
KEY_SCOPES = ("inference",)


class DeploymentError(ValueError):
    """A deployment request cannot be honoured; ``status_code`` is 400 or 409."""

    def __init__(self, field: str, message: str, *, status_code: int = 400) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status_code = status_code


# --- who is calling -----------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """The caller of the serving API: a user (token or session) or a deployment key."""

    actor: Actor
    user: Any = None
    token: ApiToken | None = None
    key: DeploymentKey | None = None

    @property
    def label(self) -> str:
        """Stable identity for rate windows and usage rows."""
        if self.key is not None:
            return f"key:{self.key.pk}"
        if self.token is not None:
            return f"token:{self.token.pk}"
        return f"user:{getattr(self.user, 'pk', '')}"

    @property
    def requests_per_minute(self) -> int:
        if self.key is not None:
            return int(self.key.rate_limit_rpm)
        return int(settings.SERVING_TOKEN_RPM)


# --- deployments --------------------------------------------------------------------------


def visible_deployments_any_status(user: Any) -> QuerySet[Deployment]:
    """Deployments (active or stopped) of the projects the user belongs to."""
    ids = project_ids_allowing(user, Action.VIEW_PROJECT)
    return Deployment.objects.filter(project_id__in=ids)


def _base_name(version: ModelVersion) -> str:
    job = version.job
    if job.base_model is not None:
        return job.base_model.name
    return str(version.lineage.get("base_model") or "scratch")


def create_deployment(
    actor: Actor, version: ModelVersion, *, suffix: str = "", pii_filter: bool = False
) -> Deployment:
    """Serve ``version`` under ``ft:<base>:<project>:<suffix or job id>``. Needs DEPLOY_MODEL.

    Raises DeploymentError (400) for a bad suffix or destroyed model data, (409) when an active
    deployment already uses the name or a release check refuses the version
    (``serving.release``: a failed or missing privacy audit), the refusal audited.
    """
    require(actor, version.project_id, Action.DEPLOY_MODEL, obj=version)
    _check_release(actor, version)
    if not valid_suffix(suffix):
        raise DeploymentError("suffix", "letters, digits, '-' and '_', at most 40 characters")
    if version.data_key.is_destroyed:
        raise DeploymentError("model_version", "the model's data was destroyed")
    name = fine_tuned_model_name(_base_name(version), version.project.name, suffix, version.job_id)
    try:
        with transaction.atomic():
            deployment = Deployment.objects.create(
                project_id=version.project_id,
                model_version=version,
                model_name=name,
                suffix=suffix,
                pii_filter=pii_filter,
                created_by=actor.user,
            )
            record_event(
                actor,
                "deployment.create",
                obj=deployment,
                details={"model_version": version.pk, "model": name, "pii_filter": pii_filter},
            )
    except IntegrityError as exc:
        raise DeploymentError("suffix", f"{name} is already deployed", status_code=409) from exc
    return deployment


def _check_release(actor: Actor, version: ModelVersion) -> None:
    refusal = release.check_release(version, "deploy")
    if refusal is None:
        return
    record_event(
        actor,
        "deployment.create",
        obj=version,
        outcome="denied",
        details={"reason": refusal.check, "measure": refusal.measure},
    )
    raise DeploymentError("model_version", refusal.message, status_code=409)


def stop_deployment(actor: Actor, deployment: Deployment) -> Deployment:
    """Stop serving; its keys stop working at once. Idempotent. Needs DEPLOY_MODEL."""
    from serving.registry import CACHE

    require(actor, deployment.project_id, Action.DEPLOY_MODEL, obj=deployment)
    with transaction.atomic():
        Deployment.objects.filter(pk=deployment.pk, status=DeploymentStatus.ACTIVE).update(
            status=DeploymentStatus.STOPPED, stopped_at=timezone.now()
        )
        record_event(actor, "deployment.stop", obj=deployment)
    CACHE.evict(f"version:{deployment.model_version_id}:{deployment.model_version.data_key_id}")
    deployment.refresh_from_db()
    return deployment


def set_pii_filter(actor: Actor, deployment: Deployment, enabled: bool) -> Deployment:
    """Switch the output PII filter of a deployment. Needs DEPLOY_MODEL."""
    require(actor, deployment.project_id, Action.DEPLOY_MODEL, obj=deployment)
    with transaction.atomic():
        Deployment.objects.filter(pk=deployment.pk).update(pii_filter=enabled)
        record_event(actor, "deployment.pii_filter", obj=deployment, details={"enabled": enabled})
    deployment.refresh_from_db()
    return deployment


# --- deployment keys ----------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedKey:
    """A fresh key: ``raw`` is shown once and never stored."""

    key: DeploymentKey
    raw: str


def issue_deployment_key(
    actor: Actor,
    deployment: Deployment,
    *,
    name: str = "key",
    rate_limit_rpm: int = 60,
    scopes: list[str] | None = None,
    expires_in_days: int | None = None,
) -> IssuedKey:
    """Create a key for one active deployment; only its SHA-256 is stored. Needs DEPLOY_MODEL."""
    require(actor, deployment.project_id, Action.DEPLOY_MODEL, obj=deployment)
    if not deployment.is_active:
        raise DeploymentError("deployment", "the deployment is stopped", status_code=409)
    scopes = list(scopes or DEFAULT_KEY_SCOPES)
    if any(scope not in KEY_SCOPES for scope in scopes):
        raise DeploymentError("scopes", f"deployment keys may only carry {list(KEY_SCOPES)}")
    if rate_limit_rpm < 1:
        raise DeploymentError("rate_limit_rpm", "must be at least 1")
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    expires = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
    with transaction.atomic():
        key = DeploymentKey.objects.create(
            deployment=deployment,
            name=name,
            prefix=raw[:13],
            key_hash=hash_token(raw),
            scopes=scopes,
            rate_limit_rpm=rate_limit_rpm,
            created_by=actor.user,
            expires_at=expires,
        )
        record_event(
            actor,
            "deployment_key.create",
            obj=key,
            details={"deployment": deployment.pk, "rate_limit_rpm": rate_limit_rpm},
        )
    return IssuedKey(key=key, raw=raw)


def revoke_deployment_key(actor: Actor, key: DeploymentKey) -> DeploymentKey:
    """Revoke a key; later requests with it answer 401. Needs DEPLOY_MODEL."""
    require(actor, key.deployment.project_id, Action.DEPLOY_MODEL, obj=key)
    with transaction.atomic():
        DeploymentKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        record_event(actor, "deployment_key.revoke", obj=key)
    key.refresh_from_db()
    return key


def find_deployment_key(raw: str) -> DeploymentKey | None:
    """The key whose hash matches ``raw`` (usable or not), or None."""
    return (
        DeploymentKey.objects.select_related("deployment").filter(key_hash=hash_token(raw)).first()
    )


# --- rate limits and usage ----------------------------------------------------------------


def clock() -> datetime:
    """The time rate windows are counted in (a function, so tests can hold it still)."""
    return timezone.now()


def consume_request(caller: Caller) -> int | None:
    """Count one request in the caller's current minute. Returns None when allowed, else the
    seconds until the next window (the request must be refused with 429)."""
    now = clock()
    window = now.replace(second=0, microsecond=0)
    limit = caller.requests_per_minute
    with transaction.atomic():
        row, _ = RateWindow.objects.get_or_create(caller=caller.label, window_start=window)
        allowed = RateWindow.objects.filter(pk=row.pk, count__lt=limit).update(count=F("count") + 1)
        RateWindow.objects.filter(
            caller=caller.label, window_start__lt=window - timedelta(hours=1)
        ).delete()
    if allowed:
        return None
    return max(1, 60 - now.second)


def record_query(
    caller: Caller,
    *,
    model_name: str,
    deployment: Deployment | None,
    endpoint: str,
    prompt_tokens: int,
    completion_tokens: int,
    outcome: str = "allowed",
) -> None:
    """Audit one query by metadata only and add it to the caller's usage of the day."""
    details = {
        "model": model_name,
        "endpoint": endpoint,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
    }
    with transaction.atomic():
        record_event(
            caller.actor,
            "inference.query",
            obj=deployment,
            object_type="" if deployment else "trainer.basemodel",
            object_id="" if deployment else model_name,
            outcome=outcome,
            details=details,
        )
        _add_usage(caller, model_name, deployment, prompt_tokens, completion_tokens)
        if caller.key is not None:
            DeploymentKey.objects.filter(pk=caller.key.pk).update(last_used_at=timezone.now())


CONTENT_BLOB = "query.json"


def store_query_content(
    caller: Caller, deployment: Deployment, endpoint: str, content: dict[str, Any]
) -> None:
    """Keep ``content`` (prompt and answer of one query) encrypted under a new data key, a
    child of the model version's key. Only called while ``SERVING_LOG_CONTENT`` is on."""
    from serving.models import QueryContent

    key, _ = vault.create_data_key("query-content", parent=deployment.model_version.data_key)
    vault.write_blob(key, CONTENT_BLOB, json.dumps(content, ensure_ascii=False).encode())
    QueryContent.objects.create(
        deployment=deployment, caller=caller.label, endpoint=endpoint, data_key=key
    )


def read_query_content(
    actor: Actor, deployment: Deployment, *, reason: str, limit: int = 50
) -> list[dict[str, Any]]:
    """The newest ``limit`` logged queries of a deployment, decrypted: owners only, with a
    reason that goes into the audit trail. Raises PermissionDenied or ValueError (reason)."""
    from datasets_app.services import MIN_REASON_CHARS

    require(actor, deployment.project_id, Action.READ_QUERY_CONTENT, obj=deployment)
    reason = " ".join(reason.split())
    if len(reason) < MIN_REASON_CHARS:
        raise ValueError(f"Give a reason of at least {MIN_REASON_CHARS} characters.")
    rows = deployment.query_contents.select_related("data_key")[:limit]
    entries = [
        {
            "id": row.pk,
            "created_at": row.created_at.isoformat(),
            "caller": row.caller,
            "endpoint": row.endpoint,
            **json.loads(vault.read_blob(row.data_key, CONTENT_BLOB)),
        }
        for row in rows
        if not row.data_key.is_destroyed
    ]
    record_event(
        actor,
        "inference.content_read",
        obj=deployment,
        details={"reason": reason[:500], "entries": len(entries)},
    )
    return entries


def _add_usage(
    caller: Caller, model_name: str, deployment: Deployment | None, prompt: int, completion: int
) -> None:
    row, _ = UsageDay.objects.get_or_create(
        day=timezone.now().date(),
        caller=caller.label,
        model_name=model_name[:200],
        defaults={
            "deployment": deployment,
            "key": caller.key,
            "token": caller.token,
            "user": caller.user,
            "project_id": deployment.project_id if deployment else None,
        },
    )
    UsageDay.objects.filter(pk=row.pk).update(
        requests=F("requests") + 1,
        prompt_tokens=F("prompt_tokens") + prompt,
        completion_tokens=F("completion_tokens") + completion,
    )


def usage_for_deployment(deployment: Deployment) -> QuerySet[UsageDay]:
    """Daily usage rows of a deployment, newest first."""
    return UsageDay.objects.filter(deployment=deployment).select_related("key", "token", "user")


def usage_totals(rows: QuerySet[UsageDay]) -> dict[str, int]:
    """Sums of requests and tokens over ``rows``."""
    sums = rows.aggregate(r=Sum("requests"), p=Sum("prompt_tokens"), c=Sum("completion_tokens"))
    return {
        "requests": sums["r"] or 0,
        "prompt_tokens": sums["p"] or 0,
        "completion_tokens": sums["c"] or 0,
    }
