"""Shared DRF permission classes."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class TokenScopes(BasePermission):
    """A token without ``write`` scope may only read; session users are not restricted here."""

    message = "This API token does not have the scope for this request."

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if token is None or not hasattr(token, "has_scope"):
            return True
        needed = "read" if request.method in SAFE_METHODS else "write"
        return bool(token.has_scope(needed))


class PlatformAdmin(BasePermission):
    """Only platform administrators (superusers); a token also needs the ``admin`` scope.
    Views using it replace the default classes, so it checks authentication itself."""

    message = "Only platform administrators may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_superuser):
            return False
        token = request.auth
        return token is None or not hasattr(token, "has_scope") or token.has_scope("admin")
