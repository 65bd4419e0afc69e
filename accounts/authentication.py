"""``Authorization: Bearer <token>`` authentication for the REST and OpenAI-compatible APIs."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import ApiToken, usable_token
from audit.services import Actor, record_event


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """Looks the token up by hash; a bad, expired or revoked token answers 401."""

    keyword = "bearer"

    def authenticate(self, request: Request) -> tuple[object, ApiToken] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        parts = header.split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        token = usable_token(parts[1])
        if token is None:
            record_event(
                Actor(source_ip=request.META.get("REMOTE_ADDR")),
                "token.use",
                outcome="denied",
                details={"reason": "unknown, revoked or expired token"},
            )
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        _record_use(request, token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="soberana"'


USE_AUDIT_INTERVAL = timedelta(minutes=1)


def _record_use(request: Request, token: ApiToken) -> None:
    """Note the use on the token; audit it at most once a minute per token (every request
    would double the writes of the API without telling an auditor more)."""
    now = timezone.now()
    last = token.last_used_at
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    if last is None or now - last >= USE_AUDIT_INTERVAL:
        record_event(
            Actor(
                user=token.user,
                token_prefix=token.prefix,
                source_ip=request.META.get("REMOTE_ADDR"),
                user_agent=(request.META.get("HTTP_USER_AGENT") or "")[:300],
            ),
            "token.use",
            obj=token,
        )
