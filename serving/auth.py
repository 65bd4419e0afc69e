"""Who may call the OpenAI-compatible API.

* ``Authorization: Bearer sobk_…``: a deployment key; it may list and query its deployment only.
* ``Authorization: Bearer sob_…``: a user's API token (``accounts``); with scope ``inference``,
  ``read``, ``write`` or ``admin`` it may query base models and the deployments of the user's
  projects; files and fine-tuning need ``read`` (GET) or ``write`` (other methods).
* A browser session (the playground), with Django's CSRF check on POST.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.authentication import BearerTokenAuthentication
from audit.services import Actor, actor_from_request, record_event
from serving import services
from serving.models import DeploymentKey

INFERENCE_SCOPES = ("inference", "read", "write", "admin")


class KeyHolder:
    """The request user of a deployment-key request: authenticated, but no account. Code that
    needs a real user must check ``is_key_holder`` first."""

    is_authenticated = True
    is_active = True
    is_superuser = False
    is_staff = False
    is_key_holder = True
    pk = None

    def __init__(self, key: DeploymentKey) -> None:
        self.key = key
        self.username = f"key:{key.prefix}"

    def get_username(self) -> str:
        return self.username

    def __str__(self) -> str:
        return self.username


class InferenceAuthentication(authentication.BaseAuthentication):
    """Bearer deployment keys and user API tokens. A bad one answers 401 (and is audited)."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        parts = request.META.get("HTTP_AUTHORIZATION", "").split()
        if not parts or parts[0].lower() != "bearer":
            return None
        if len(parts) == 2 and parts[1].startswith(services.KEY_PREFIX):
            return self._key(request, parts[1])
        return BearerTokenAuthentication().authenticate(request)

    def _key(self, request: Request, raw: str) -> tuple[KeyHolder, DeploymentKey]:
        key = services.find_deployment_key(raw)
        if key is None or not key.is_usable():
            record_event(
                Actor(source_ip=request.META.get("REMOTE_ADDR")),
                "deployment_key.use",
                outcome="denied",
                details={"reason": "unknown, revoked or expired key, or stopped model"},
            )
            raise exceptions.AuthenticationFailed("Incorrect API key provided.")
        DeploymentKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
        return KeyHolder(key), key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="soberana"'


def caller_of(request: Request) -> services.Caller:
    """The ``Caller`` of an authenticated request."""
    auth = request.auth
    if isinstance(auth, DeploymentKey):
        actor = Actor(
            token_prefix=auth.prefix,
            source_ip=request.META.get("REMOTE_ADDR"),
            user_agent=(request.META.get("HTTP_USER_AGENT") or "")[:300],
        )
        return services.Caller(actor=actor, key=auth)
    token = auth if hasattr(auth, "has_scope") else None
    return services.Caller(actor=actor_from_request(request), user=request.user, token=token)


class MayInfer(BasePermission):
    """Signed in, and a token (if any) carries a scope that allows inference."""

    message = "This API key does not have the scope for inference."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        auth = request.auth
        if isinstance(auth, DeploymentKey):
            return auth.has_scope("inference")
        if auth is not None and hasattr(auth, "has_scope"):
            return any(auth.has_scope(scope) for scope in INFERENCE_SCOPES)
        return True


class UserWithScopes(BasePermission):
    """A real user (not a deployment key); a token needs ``read`` for GET, else ``write``."""

    message = "This API key may not manage files or fine-tuning jobs."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated) or getattr(user, "is_key_holder", False):
            return False
        auth = request.auth
        if auth is None or not hasattr(auth, "has_scope"):
            return True
        needed = "read" if request.method in ("GET", "HEAD", "OPTIONS") else "write"
        return bool(auth.has_scope(needed))
